"""Every job: its name, the arguments it takes and the function that runs it."""

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from wump.jobs.context import JobContext, JobResult
from wump.jobs.discovery import discover_dependents, refresh_tracked
from wump.jobs.enrichment import enrich_organizations
from wump.jobs.maintenance import cleanup, rescore
from wump.jobs.scans import scan_organization, scan_repository
from wump.jobs.schemas import (
    DiscoverDependentsArgs,
    EnrichOrganizationsArgs,
    JobArgs,
    JobType,
    NoArgs,
    ScanOrganizationArgs,
    ScanRepositoryArgs,
)

A = TypeVar("A", bound=JobArgs)


@dataclass(frozen=True, slots=True)
class JobDefinition(Generic[A]):
    name: JobType
    args: type[A]
    run: Callable[[JobContext, A], Awaitable[JobResult]]
    # What progress counts while the job runs.
    unit: str

    @property
    def summary(self) -> str:
        """The first line of the job function's docstring."""
        return (self.run.__doc__ or "").strip().splitlines()[0]

    def parse(self, raw: Mapping[str, Any]) -> A:
        """The arguments, checked; raises pydantic's `ValidationError` when they are not valid."""
        return self.args.model_validate(dict(raw))


JOBS: dict[str, JobDefinition[Any]] = {
    definition.name.value: definition
    for definition in (
        JobDefinition(
            JobType.DISCOVER_DEPENDENTS, DiscoverDependentsArgs, discover_dependents, "repositories"
        ),
        JobDefinition(
            JobType.SCAN_ORGANIZATION, ScanOrganizationArgs, scan_organization, "repositories"
        ),
        JobDefinition(JobType.SCAN_REPOSITORY, ScanRepositoryArgs, scan_repository, "repositories"),
        JobDefinition(
            JobType.ENRICH_ORGANIZATIONS, EnrichOrganizationsArgs, enrich_organizations, "owners"
        ),
        JobDefinition(JobType.REFRESH_TRACKED, NoArgs, refresh_tracked, "packages"),
        JobDefinition(JobType.CLEANUP, NoArgs, cleanup, "repositories"),
        JobDefinition(JobType.RESCORE, NoArgs, rescore, "owners"),
    )
}


class UnknownJobType(LookupError):
    def __init__(self, job_type: str) -> None:
        super().__init__(f"unknown job type {job_type!r}; known: {', '.join(JOBS)}")
        self.job_type = job_type


def definition(job_type: str) -> JobDefinition[Any]:
    try:
        return JOBS[job_type]
    except KeyError:
        raise UnknownJobType(job_type) from None
