"""Enumerations stored as plain strings, so both databases and migrations stay simple."""

from enum import StrEnum


class OwnerKind(StrEnum):
    ORGANIZATION = "organization"
    USER = "user"


class DependencyType(StrEnum):
    RUNTIME = "runtime"
    DEVELOPMENT = "development"
    TEST = "test"
    BUILD = "build"
    OPTIONAL = "optional"
    PEER = "peer"


class DependencySource(StrEnum):
    """Where an edge was observed. Each has a bit in `Dependency.sources`.

    Append new members at the end: a member's bit is its position, and stored masks
    must keep their meaning.
    """

    SBOM = "sbom"
    MANIFEST = "manifest"
    ECOSYSTEMS = "ecosystems"
    LIBRARIESIO = "librariesio"
    LIBRARIESIO_DUMP = "librariesio_dump"
    ENVIRONMENT = "environment"
    DEPSDEV = "depsdev"
    GITHUB = "github"

    @property
    def bit(self) -> int:
        return 1 << list(DependencySource).index(self)

    @classmethod
    def from_mask(cls, mask: int) -> list["DependencySource"]:
        return [source for source in cls if mask & source.bit]


class ApiKeyTier(StrEnum):
    FREE = "free"
    STANDARD = "standard"
    PREMIUM = "premium"


class JobStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
