"""All models, imported here so that `Base.metadata` is complete wherever it is used."""

from wump.models.api_key import ApiKey
from wump.models.base import Base
from wump.models.dependency import Dependency
from wump.models.enums import (
    ApiKeyTier,
    DependencySource,
    DependencyType,
    JobStatus,
    OwnerKind,
)
from wump.models.job_execution import JobExecution
from wump.models.organization import Organization
from wump.models.package import Package
from wump.models.repository import Repository
from wump.models.rollup import DependentOwner

__all__ = [
    "ApiKey",
    "ApiKeyTier",
    "Base",
    "Dependency",
    "DependencySource",
    "DependencyType",
    "DependentOwner",
    "JobExecution",
    "JobStatus",
    "Organization",
    "OwnerKind",
    "Package",
    "Repository",
]
