"""Job types, their arguments, and what the jobs API returns."""

import uuid
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from wump.ingest.identity import PackageIdentity
from wump.ingest.loader import RepositoryRef
from wump.models import JobStatus


class JobType(StrEnum):
    """Every job wump runs. The names are the queue's task names."""

    DISCOVER_DEPENDENTS = "discover.dependents"
    SCAN_ORGANIZATION = "scan.organization"
    SCAN_REPOSITORY = "scan.repository"
    ENRICH_ORGANIZATIONS = "enrich.organizations"
    REFRESH_TRACKED = "refresh.tracked"
    CLEANUP = "cleanup"
    RESCORE = "rollups.rescore"


class JobArgs(BaseModel):
    """A job's arguments: ids as strings, checked before the job is queued."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    def message(self) -> dict[str, str]:
        """The arguments as the strings that travel in the queue's message."""
        return {key: str(value) for key, value in self.model_dump(mode="json").items() if value}


class DiscoverDependentsArgs(JobArgs):
    purl: str = Field(
        max_length=1024,
        description="The package, as a purl; a version is ignored.",
        examples=["pkg:pypi/requests"],
    )

    @field_validator("purl")
    @classmethod
    def _canonical(cls, value: str) -> str:
        # One spelling per package, so the same refresh asked twice is one job.
        return PackageIdentity.from_purl(value).purl


class ScanOrganizationArgs(JobArgs):
    login: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$",
        description="The GitHub login of a user or organization.",
        examples=["pallets"],
    )


class ScanRepositoryArgs(JobArgs):
    full_name: str = Field(
        max_length=512, description="The GitHub repository.", examples=["pallets/flask"]
    )

    @field_validator("full_name")
    @classmethod
    def _owner_and_name(cls, value: str) -> str:
        return RepositoryRef.parse(value).full_name


class EnrichOrganizationsArgs(JobArgs):
    stale_after: timedelta | None = Field(
        default=None,
        gt=timedelta(0),
        description="Refresh owners whose profile is older than this (an ISO 8601 duration "
        "such as `P7D`, or seconds). Default: `JOB_ENRICH_STALE_DAYS`.",
        examples=["P7D"],
    )


class NoArgs(JobArgs):
    pass


class JobCreate(BaseModel):
    """A job to queue."""

    type: JobType = Field(examples=["discover.dependents"])
    args: dict[str, str | int | float] = Field(
        default_factory=dict,
        description="The job's arguments: `purl` for `discover.dependents`, `login` for "
        "`scan.organization`, `full_name` for `scan.repository`, optional `stale_after` for "
        "`enrich.organizations`; none for `refresh.tracked` and `cleanup`.",
        examples=[{"purl": "pkg:pypi/requests"}],
    )


class JobRead(BaseModel):
    """One job and what became of it. A `failed` job keeps its error: it is the
    dead-letter record."""

    model_config = ConfigDict(from_attributes=True, populate_by_name=True)

    id: uuid.UUID
    type: str = Field(validation_alias="job_type", examples=["discover.dependents"])
    status: JobStatus = Field(
        description="`pending` (queued, or waiting for a retry), `running`, `completed` "
        "or `failed`."
    )
    args: dict[str, Any] = Field(examples=[{"purl": "pkg:pypi/requests"}])
    attempts: int = Field(description="Attempts started so far, retries included.")
    records_processed: int
    error_message: str | None = Field(
        default=None, description="Why the last attempt failed (kept while a retry is pending)."
    )
    metadata: dict[str, Any] = Field(
        validation_alias="meta",
        description="What the run noticed: provider requests, follow-up jobs, counts.",
    )
    created_at: datetime
    started_at: datetime | None = None
    completed_at: datetime | None = None
    stale: bool = Field(
        default=False,
        description="True when the job is `pending` or `running` but no worker will finish "
        "it any more; the monthly cleanup records it as failed.",
    )
