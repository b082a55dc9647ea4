"""`discover.dependents` and `refresh.tracked`, end to end over the fake network."""

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.jobs.conftest import RunJob, job_records
from tests.jobs.network import FakeNetwork
from wump.models import (
    Dependency,
    DependencySource,
    JobStatus,
    Organization,
    Package,
    Repository,
)

REQUESTS = "pkg:pypi/requests"
ECOSYSTEMS_DEPENDENTS = r"/ecosystems/.*/dependent_repositories"


async def graph(session: AsyncSession) -> dict[str, int]:
    """Each dependent repository of requests and the edge's source bits."""
    result = await session.execute(
        select(Repository.full_name, Dependency.sources)
        .join(Dependency, Dependency.repository_id == Repository.id)
        .join(Package, Package.id == Dependency.package_id)
        .where(Package.purl == REQUESTS)
        .execution_options(populate_existing=True)
    )
    return {name: sources for name, sources in result.all()}  # noqa: C416


async def stored_repository(session: AsyncSession, full_name: str) -> Repository:
    statement = select(Repository).where(Repository.full_name == full_name)
    found = await session.scalar(statement.execution_options(populate_existing=True))
    assert found is not None, full_name
    return found


async def test_discovery_loads_ecosystems_dependents_with_provenance(
    run_job: RunJob, session: AsyncSession, network: FakeNetwork
) -> None:
    outcome = await run_job("discover.dependents", purl="pkg:pypi/Requests")

    assert outcome.status is JobStatus.COMPLETED
    assert await graph(session) == {
        "psf/requests-html": DependencySource.ECOSYSTEMS.bit,
        "home-assistant/core": DependencySource.ECOSYSTEMS.bit,
        "someone/requests-fork": DependencySource.ECOSYSTEMS.bit,
    }
    fork = await stored_repository(session, "someone/requests-fork")
    assert (fork.is_fork, fork.stars) == (True, 0)
    core = await stored_repository(session, "home-assistant/core")
    assert (core.stars, core.default_branch) == (77482, "dev")
    # Libraries.io is only asked when ecosyste.ms has nothing.
    assert network.seen("/librariesio/") == []


async def test_discovery_records_the_job_with_provider_requests(
    run_job: RunJob, session: AsyncSession
) -> None:
    outcome = await run_job("discover.dependents", purl=REQUESTS)

    [record] = await job_records(session, "discover.dependents")
    assert record.id == outcome.job_id
    assert record.status == JobStatus.COMPLETED
    assert record.attempts == 1
    assert record.records_processed == 3
    assert record.error_message is None
    assert record.args == {"purl": REQUESTS}
    assert record.meta["provider"] == "ecosystems"
    assert record.meta["complete"] is True
    assert record.meta["repositories_new"] == 3
    # One page of dependents (a short page is the last one).
    assert record.meta["provider_requests"]["ecosystems"] == 1


async def test_discovery_queues_scans_of_the_owners_found(
    run_job: RunJob, session: AsyncSession, network: FakeNetwork
) -> None:
    await run_job("discover.dependents", purl=REQUESTS)

    scans = await job_records(session, "scan.organization")
    assert sorted(record.args["login"] for record in scans) == [
        "home-assistant",
        "psf",
        "someone",
    ]
    assert {record.status for record in scans} == {JobStatus.COMPLETED}
    owners = {org.login: org for org in (await session.execute(select(Organization))).scalars()}
    assert owners["home-assistant"].enriched_at is not None
    assert owners["home-assistant"].has_sponsors_listing is True
    assert owners["someone"].kind == "user"
    assert [seen.path for seen in network.seen("/github/users/psf$")] == ["/github/users/psf"]


async def test_rediscovery_is_a_no_op(
    run_job: RunJob, session: AsyncSession, network: FakeNetwork
) -> None:
    await run_job("discover.dependents", purl=REQUESTS)
    before = await graph(session)
    counts = await row_counts(session)

    outcome = await run_job("discover.dependents", purl=REQUESTS)

    assert outcome.status is JobStatus.COMPLETED
    assert await graph(session) == before
    assert await row_counts(session) == counts
    second = (await job_records(session, "discover.dependents"))[-1]
    assert second.meta["repositories_new"] == 0
    assert second.meta["edges_cleared"] == 0
    # The owners were enriched moments ago: no second round of scans.
    assert len(await job_records(session, "scan.organization")) == 3


async def row_counts(session: AsyncSession) -> list[int]:
    counts = []
    for model in (Repository, Organization, Package, Dependency):
        counts.append(await session.scalar(select(func.count()).select_from(model)) or 0)
    return counts
