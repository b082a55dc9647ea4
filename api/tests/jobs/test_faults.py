"""Provider faults inside jobs: each leaves a true job record and the stored data intact.

Every provider request is tried `PROVIDER_MAX_ATTEMPTS` (3) times by the client;
a job attempt that still fails transiently is retried by the queue, up to
`JOB_MAX_ATTEMPTS` (3). Faults that retrying cannot fix fail the job at once.
"""

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.builders import (
    create_dependency,
    create_organization,
    create_registry_package,
    create_repository,
)
from tests.jobs.conftest import RunJob, job_records
from tests.jobs.network import FakeNetwork, Reply
from wump.core.deps import Resources
from wump.jobs.runner import JobFailed
from wump.models import Dependency, DependencySource, JobStatus, Organization, Repository

ECOSYSTEMS = r"/ecosystems/repos/.*/dependent_repositories"
LIBRARIESIO = r"/librariesio/.*/dependent_repositories"
REPOSITORY = r"/github/repos/acme/weather$"
SBOM = r"/github/repos/acme/weather/dependency-graph/sbom"
PROVIDER_ATTEMPTS = 3

SERVER_ERROR = Reply(500, {"message": "Internal Server Error"})
BAD_GATEWAY = Reply(502, raw=b"<html>Bad Gateway</html>")
TOO_MANY = Reply(429, {"message": "slow down"}, headers={"retry-after": "1"})
SECONDARY_LIMIT = Reply(
    403,
    {"message": "You have exceeded a secondary rate limit."},
    headers={"retry-after": "30"},
)
TIMEOUT = Reply(error=httpx.ReadTimeout)
TRUNCATED = Reply(raw=b'[{"id": 1181, "full_name": "psf/requ')


async def existing_repository(session: AsyncSession) -> Repository:
    """acme/weather as stored before the scan: 5 stars, one manifest edge."""
    owner = await create_organization(session, login="acme")
    repository = await create_repository(session, owner=owner, name="weather", stars=5)
    package = await create_registry_package(session, name="existing")
    await create_dependency(session, repository=repository, package=package)
    await session.commit()
    return repository


async def snapshot(session: AsyncSession, repository_id: int) -> tuple[object, ...]:
    repository = await session.get(Repository, repository_id, populate_existing=True)
    assert repository is not None
    edges = await session.execute(
        select(Dependency.package_id, Dependency.sources).where(
            Dependency.repository_id == repository_id
        )
    )
    return (repository.stars, repository.etag, repository.scanned_at, sorted(edges.all()))


@pytest.mark.parametrize(
    "fault",
    [SERVER_ERROR, BAD_GATEWAY, TOO_MANY, SECONDARY_LIMIT, TIMEOUT],
    ids=["500", "502", "429", "403-secondary-limit", "timeout"],
)
async def test_transient_github_fault_is_retried_and_the_retry_completes(
    run_job: RunJob, session: AsyncSession, network: FakeNetwork, fault: Reply
) -> None:
    # The first job attempt sees nothing but the fault; the second gets through.
    network.fail(SBOM, *[fault] * PROVIDER_ATTEMPTS)

    outcome = await run_job("scan.repository", full_name="acme/weather")

    [record] = await job_records(session, "scan.repository")
    assert outcome.status is JobStatus.COMPLETED
    assert record.status == JobStatus.COMPLETED
    assert record.attempts == 2
    assert record.error_message is None
    assert len(network.seen(SBOM)) == PROVIDER_ATTEMPTS + 1


@pytest.mark.parametrize(
    "fault",
    [SERVER_ERROR, BAD_GATEWAY, TOO_MANY, SECONDARY_LIMIT, TIMEOUT],
    ids=["500", "502", "429", "403-secondary-limit", "timeout"],
)
async def test_transient_fault_that_persists_fails_after_three_attempts_leaving_data_intact(
    run_job: RunJob, session: AsyncSession, network: FakeNetwork, fault: Reply
) -> None:
    repository = await existing_repository(session)
    before = await snapshot(session, repository.id)
    network.fail(SBOM, *[fault] * PROVIDER_ATTEMPTS * 3)

    with pytest.raises(JobFailed):
        await run_job("scan.repository", full_name="acme/weather")

    [record] = await job_records(session, "scan.repository")
    assert record.status == JobStatus.FAILED
    assert record.attempts == 3
    assert record.error_message is not None
    assert record.error_message.startswith("ProviderTransientError: github:")
    assert "acme/weather" in record.error_message
    assert record.completed_at is not None
    # The repository's metadata came back fine each time, but nothing was written
    # without its dependency graph: no half-scanned repository.
    assert await snapshot(session, repository.id) == before


async def test_secondary_rate_limit_error_is_recorded_without_the_token(
    run_job: RunJob, session: AsyncSession, network: FakeNetwork, resources: Resources
) -> None:
    network.fail(REPOSITORY, *[SECONDARY_LIMIT] * PROVIDER_ATTEMPTS * 3)

    with pytest.raises(JobFailed):
        await run_job("scan.repository", full_name="acme/weather")

    [record] = await job_records(session, "scan.repository")
    assert record.error_message == (
        "ProviderTransientError: github: rate limited for repository acme/weather"
    )
    assert resources.settings.github_token not in str(record.meta)


async def test_truncated_json_fails_at_once_without_retrying(
    run_job: RunJob, session: AsyncSession, network: FakeNetwork
) -> None:
    repository = await existing_repository(session)
    before = await snapshot(session, repository.id)
    network.fail(SBOM, TRUNCATED)

    with pytest.raises(JobFailed):
        await run_job("scan.repository", full_name="acme/weather")

    [record] = await job_records(session, "scan.repository")
    assert record.status == JobStatus.FAILED
    assert record.attempts == 1
    assert record.error_message == (
        "ProviderError: github: sent a body that is not valid JSON for dependency graph SBOM "
        "of acme/weather"
    )
    assert len(network.seen(SBOM)) == 1
    assert await snapshot(session, repository.id) == before


async def test_not_modified_leaves_the_repository_as_it_was(
    run_job: RunJob, session: AsyncSession, network: FakeNetwork
) -> None:
    await run_job("scan.repository", full_name="acme/weather")
    stored = await session.scalar(select(Repository).where(Repository.full_name == "acme/weather"))
    assert stored is not None
    before = await snapshot(session, stored.id)

    outcome = await run_job("scan.repository", full_name="acme/weather")

    after = await snapshot(session, stored.id)
    assert outcome.metadata["unchanged"] is True
    # Only the time of the check moves.
    assert after[:2] == before[:2]
    assert after[3] == before[3]


@pytest.mark.parametrize(
    ("fault", "retried"),
    [(SERVER_ERROR, True), (TOO_MANY, True), (TIMEOUT, True), (TRUNCATED, False)],
    ids=["500", "429", "timeout", "truncated-json"],
)
async def test_dependents_fault_on_both_providers_keeps_earlier_edges(
    run_job: RunJob,
    session: AsyncSession,
    network: FakeNetwork,
    fault: Reply,
    retried: bool,
) -> None:
    package = await create_registry_package(session, name="requests")
    repository = await create_repository(session, name="known-dependent")
    await create_dependency(
        session, repository=repository, package=package, source=DependencySource.ECOSYSTEMS
    )
    await session.commit()
    for pattern in (ECOSYSTEMS, LIBRARIESIO):
        network.fail(pattern, *[fault] * PROVIDER_ATTEMPTS * 3)

    with pytest.raises(JobFailed):
        await run_job("discover.dependents", purl="pkg:pypi/requests")

    [record] = await job_records(session, "discover.dependents")
    assert record.status == JobStatus.FAILED
    assert record.attempts == (3 if retried else 1)
    edges = await session.execute(select(Dependency.repository_id, Dependency.sources))
    assert edges.all() == [(repository.id, DependencySource.ECOSYSTEMS.bit)]


async def test_ecosystems_outage_falls_back_to_librariesio_within_one_attempt(
    run_job: RunJob, session: AsyncSession, network: FakeNetwork
) -> None:
    network.fail(ECOSYSTEMS, *[BAD_GATEWAY] * PROVIDER_ATTEMPTS)

    outcome = await run_job("discover.dependents", purl="pkg:pypi/requests")

    assert outcome.attempts == 1
    assert outcome.metadata["provider"] == "librariesio"
    assert outcome.metadata["attempts"] == ["ecosystems: transient", "librariesio: ok"]
    assert outcome.metadata["provider_requests"]["ecosystems"] >= PROVIDER_ATTEMPTS


async def test_package_unknown_to_every_provider_completes_with_no_dependents(
    run_job: RunJob, session: AsyncSession, network: FakeNetwork
) -> None:
    for pattern in (ECOSYSTEMS, LIBRARIESIO):
        network.fail(pattern, Reply(404, {"error": "Not Found"}))

    outcome = await run_job("discover.dependents", purl="pkg:pypi/requests")

    assert outcome.status is JobStatus.COMPLETED
    assert outcome.records == 0
    assert outcome.metadata["unknown_to_providers"] is True
    assert await session.scalar(select(func.count()).select_from(Dependency)) == 0


async def test_owner_profile_server_errors_leave_the_owner_untouched(
    run_job: RunJob, session: AsyncSession, network: FakeNetwork
) -> None:
    owner = await create_organization(session, login="pallets", name="Pallets (stored)")
    await session.commit()
    network.fail(r"/github/users/pallets$", *[SERVER_ERROR] * PROVIDER_ATTEMPTS * 3)

    with pytest.raises(JobFailed):
        await run_job("scan.organization", login="pallets")

    [record] = await job_records(session, "scan.organization")
    assert (record.status, record.attempts) == (JobStatus.FAILED, 3)
    stored = await session.get(Organization, owner.id, populate_existing=True)
    assert stored is not None
    assert (stored.name, stored.enriched_at) == ("Pallets (stored)", None)


async def test_package_metadata_faults_never_fail_the_discovery(
    run_job: RunJob, session: AsyncSession, network: FakeNetwork
) -> None:
    network.fail(r"/ecosystems/packages/", TRUNCATED)
    network.fail(r"/librariesio/api/pypi/requests$", *[SERVER_ERROR] * PROVIDER_ATTEMPTS)
    # deps.dev is not served by the fake network: it answers 404.

    outcome = await run_job("discover.dependents", purl="pkg:pypi/requests")

    assert outcome.status is JobStatus.COMPLETED
    assert outcome.records == 3
    assert outcome.metadata["package_metadata"].startswith("not refreshed:")
    assert len(network.seen(r"/depsdev/")) == 1
