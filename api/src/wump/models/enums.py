"""Enumerations stored as plain strings, so both databases and migrations stay simple."""

from enum import StrEnum
from functools import cache


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
        return _SOURCE_BITS[self]

    @classmethod
    def from_mask(cls, mask: int) -> list["DependencySource"]:
        # Every nested repository of a page is decoded: a lookup, not a loop over the enum.
        return list(_sources_of(mask))


_SOURCE_BITS = {source: 1 << index for index, source in enumerate(DependencySource)}


@cache
def _sources_of(mask: int) -> tuple[DependencySource, ...]:
    return tuple(source for source, bit in _SOURCE_BITS.items() if mask & bit)


class ApiKeyTier(StrEnum):
    FREE = "free"
    STANDARD = "standard"
    PREMIUM = "premium"


class JobStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
