"""`discover.dependents` and `refresh.tracked`, end to end over the fake network."""

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.builders import create_dependency, create_registry_package, create_repository
from tests.jobs.conftest import LIBRARIES_IO_KEY, Configure, RunJob, job_records
from tests.jobs.network import FakeNetwork, Reply, fixture
from wump.core.config import Settings
from wump.core.deps import Resources
from wump.models import (
    Dependency,
    DependencySource,
    JobStatus,
    Organization,
    Package,
    Repository,
)
from wump.models.base import utcnow

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
    assert network.seen("/librariesio/.*/dependent_repositories") == []


async def test_discovery_refreshes_the_package_metadata(
    run_job: RunJob, session: AsyncSession
) -> None:
    outcome = await run_job("discover.dependents", purl=REQUESTS)

    package = await session.scalar(
        select(Package).where(Package.purl == REQUESTS).execution_options(populate_existing=True)
    )
    assert package is not None
    assert package.description == "Python HTTP for Humans."
    assert package.latest_version == "2.32.3"
    assert package.repository_url == "https://github.com/psf/requests"
    assert outcome.metadata["package_metadata"] == "from ecosystems"


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
    # One page of dependents (a short page is the last one) and the package's metadata.
    assert record.meta["provider_requests"] == {"ecosystems": 2}


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


async def test_discovery_falls_back_to_librariesio_when_ecosystems_has_nothing(
    run_job: RunJob, session: AsyncSession, network: FakeNetwork
) -> None:
    network.fail(ECOSYSTEMS_DEPENDENTS, Reply(body=[]))

    outcome = await run_job("discover.dependents", purl=REQUESTS)

    assert await graph(session) == {
        "home-assistant/core": DependencySource.LIBRARIESIO.bit,
        "someone/requests-fork": DependencySource.LIBRARIESIO.bit,
    }
    assert outcome.metadata["provider"] == "librariesio"
    assert outcome.metadata["attempts"] == ["ecosystems: empty", "librariesio: ok"]
    [seen] = network.seen("/librariesio/.*/dependent_repositories")
    assert seen.query["api_key"] == LIBRARIES_IO_KEY


async def test_a_repository_no_longer_listed_loses_only_that_providers_edge(
    run_job: RunJob, session: AsyncSession, network: FakeNetwork
) -> None:
    package = await create_registry_package(session, name="requests")
    gone = await create_repository(session, name="no-longer-uses-it")
    both = await create_repository(session, name="also-in-its-sbom")
    for repository, sources in (
        (gone, DependencySource.ECOSYSTEMS.bit),
        (both, DependencySource.ECOSYSTEMS.bit | DependencySource.SBOM.bit),
    ):
        await create_dependency(
            session,
            repository=repository,
            package=package,
            source=DependencySource.ECOSYSTEMS,
            sources=sources,
            last_seen_at=utcnow() - timedelta(days=3),
        )
    await session.commit()

    outcome = await run_job("discover.dependents", purl=REQUESTS)

    current = await graph(session)
    assert gone.full_name not in current
    assert current[both.full_name] == DependencySource.SBOM.bit
    assert outcome.metadata["edges_cleared"] == 2


async def test_an_incomplete_listing_clears_nothing(
    run_job: RunJob, session: AsyncSession, network: FakeNetwork, configure: Configure
) -> None:
    package = await create_registry_package(session, name="requests")
    kept = await create_repository(session, name="listed-on-page-two")
    await create_dependency(
        session,
        repository=kept,
        package=package,
        source=DependencySource.ECOSYSTEMS,
        last_seen_at=utcnow() - timedelta(days=3),
    )
    await session.commit()
    # A full first page means there is more; the page limit stops the job there.
    full_page = [
        {**item, "id": 1000 + n, "full_name": f"many/repo-{n}", "owner": "many"}
        for n, item in enumerate(
            (fixture("ecosystems", "usage_dependent_repositories.json") * 34)[:100]
        )
    ]
    network.fail(ECOSYSTEMS_DEPENDENTS, Reply(body=full_page))
    configure(job_max_pages=1)

    outcome = await run_job("discover.dependents", purl=REQUESTS)

    assert outcome.metadata["complete"] is False
    assert outcome.metadata["edges_cleared"] == 0
    assert kept.full_name in await graph(session)
    assert len(await graph(session)) == 101


async def test_refresh_tracked_queues_tracked_and_recently_requested_packages(
    run_job: RunJob, session: AsyncSession, jobs_settings: Settings, resources: Resources
) -> None:
    await create_registry_package(session, name="tracked", is_tracked=True)
    await create_registry_package(session, name="asked", last_requested_at=utcnow())
    await create_registry_package(
        session, name="forgotten", last_requested_at=utcnow() - timedelta(days=45)
    )
    await create_registry_package(session, name="never-asked")
    await session.commit()
    # Nothing runs the discoveries here: this test is about what gets queued.
    resources.jobs.sends = False

    first = await run_job("refresh.tracked")
    second = await run_job("refresh.tracked")

    discoveries = await job_records(session, "discover.dependents")
    assert sorted(record.args["purl"] for record in discoveries) == [
        "pkg:pypi/asked",
        "pkg:pypi/tracked",
    ]
    assert {record.status for record in discoveries} == {JobStatus.PENDING}
    assert first.metadata["queued"] == 2
    # Still queued: the second run queues nothing twice.
    assert second.metadata == {**second.metadata, "queued": 0, "already_queued": 2}
