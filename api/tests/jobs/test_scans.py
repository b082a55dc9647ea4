"""`scan.repository` and `scan.organization` against the fake GitHub."""

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.builders import (
    create_dependency,
    create_organization,
    create_registry_package,
    create_repository,
)
from tests.jobs.conftest import RunJob, job_records
from tests.jobs.network import FakeNetwork
from wump.core.cache import Cache
from wump.models import (
    Dependency,
    DependencySource,
    JobStatus,
    Organization,
    OwnerKind,
    Package,
    Repository,
)
from wump.models.base import utcnow

SBOM_PACKAGES = 12


async def edges_of(session: AsyncSession, full_name: str) -> dict[str, tuple[str, int]]:
    """purl -> (requirement, source bits) of the repository's edges."""
    result = await session.execute(
        select(Package.purl, Dependency.requirement, Dependency.sources)
        .join(Dependency, Dependency.package_id == Package.id)
        .join(Repository, Repository.id == Dependency.repository_id)
        .where(Repository.full_name == full_name)
        .execution_options(populate_existing=True)
    )
    return {purl: (requirement or "", sources) for purl, requirement, sources in result.all()}


async def stored(session: AsyncSession, full_name: str) -> Repository | None:
    statement = select(Repository).where(Repository.full_name == full_name)
    return await session.scalar(statement.execution_options(populate_existing=True))


async def test_repository_scan_loads_the_dependency_graph_as_sbom_edges(
    run_job: RunJob, session: AsyncSession, network: FakeNetwork
) -> None:
    outcome = await run_job("scan.repository", full_name="acme/weather")

    assert outcome.status is JobStatus.COMPLETED
    edges = await edges_of(session, "acme/weather")
    assert len(edges) == SBOM_PACKAGES
    assert edges["pkg:pypi/requests"] == (">= 2.31.0", DependencySource.SBOM.bit)
    assert edges["pkg:npm/%40types/node"] == ("^20.11.30", DependencySource.SBOM.bit)
    repository = await stored(session, "acme/weather")
    assert repository is not None
    assert repository.etag == network.etag("acme/weather")
    assert repository.scanned_at is not None
    [record] = await job_records(session, "scan.repository")
    assert record.records_processed == SBOM_PACKAGES
    assert record.meta["provider_requests"] == {"github": 2}


async def test_unchanged_repository_is_skipped_without_fetching_its_sbom(
    run_job: RunJob, session: AsyncSession, network: FakeNetwork
) -> None:
    await run_job("scan.repository", full_name="acme/weather")
    before = await edges_of(session, "acme/weather")
    sbom_requests = len(network.seen("/dependency-graph/sbom"))

    outcome = await run_job("scan.repository", full_name="acme/weather")

    assert outcome.status is JobStatus.COMPLETED
    assert outcome.metadata["unchanged"] is True
    assert len(network.seen("/dependency-graph/sbom")) == sbom_requests
    assert network.requests[-1].headers["if-none-match"] == network.etag("acme/weather")
    assert await edges_of(session, "acme/weather") == before
    # A 304 costs nothing: GitHub does not count it, and neither does the budget.
    assert outcome.metadata["provider_requests"] == {}


async def test_changed_repository_replaces_only_its_sbom_edges(
    run_job: RunJob, session: AsyncSession, network: FakeNetwork
) -> None:
    owner = await create_organization(session, login="acme")
    repository = await create_repository(session, owner=owner, name="weather")
    stale = await create_registry_package(session, name="left-behind")
    manifest = await create_registry_package(session, name="from-manifest")
    await create_dependency(
        session, repository=repository, package=stale, source=DependencySource.SBOM
    )
    await create_dependency(
        session, repository=repository, package=manifest, source=DependencySource.MANIFEST
    )
    await session.commit()

    await run_job("scan.repository", full_name="acme/weather")

    edges = await edges_of(session, "acme/weather")
    assert "pkg:pypi/left-behind" not in edges
    assert edges["pkg:pypi/from-manifest"][1] == DependencySource.MANIFEST.bit
    assert len(edges) == SBOM_PACKAGES + 1


async def test_repository_gone_from_github_is_removed_with_its_edges(
    run_job: RunJob, session: AsyncSession, network: FakeNetwork, cache: Cache
) -> None:
    owner = await create_organization(session, login="acme")
    repository = await create_repository(session, owner=owner, name="vanished", stars=40)
    package = await create_registry_package(session, name="left-pad")
    await create_dependency(session, repository=repository, package=package)
    await session.commit()
    package_version = await cache.version("package", package.id)
    owner_version = await cache.version("organization", owner.id)
    network.gone.add("/repos/acme/vanished")

    outcome = await run_job("scan.repository", full_name="acme/vanished")

    assert outcome.status is JobStatus.COMPLETED
    assert outcome.metadata["gone"] is True
    assert await stored(session, "acme/vanished") is None
    assert await session.scalar(select(func.count()).select_from(Dependency)) == 0
    refreshed = await session.get(Organization, owner.id, populate_existing=True)
    assert refreshed is not None
    assert (refreshed.total_repositories, refreshed.total_stars) == (0, 0)
    assert await cache.version("package", package.id) == package_version + 1
    assert await cache.version("organization", owner.id) == owner_version + 1


async def test_renamed_repository_is_stored_once_under_its_new_name(
    run_job: RunJob, session: AsyncSession, network: FakeNetwork
) -> None:
    owner = await create_organization(session, login="acme")
    await create_repository(session, owner=owner, name="old-name")
    await session.commit()
    # GitHub follows the rename and answers with the repository's current name.
    network.renamed["acme/old-name"] = "acme/new-name"

    outcome = await run_job("scan.repository", full_name="acme/old-name")

    assert outcome.metadata["renamed_from"] == "acme/old-name"
    assert await stored(session, "acme/old-name") is None
    assert len(await edges_of(session, "acme/new-name")) == SBOM_PACKAGES


async def test_organization_scan_stores_profile_and_sponsorship_signals(
    run_job: RunJob, session: AsyncSession, network: FakeNetwork, cache: Cache
) -> None:
    owner = await create_organization(session, login="pallets", kind=OwnerKind.USER)
    await session.commit()
    version = await cache.version("organization", owner.id)

    outcome = await run_job("scan.organization", login="pallets")

    assert outcome.status is JobStatus.COMPLETED
    pallets = await session.get(Organization, owner.id, populate_existing=True)
    assert pallets is not None
    assert pallets.kind == OwnerKind.ORGANIZATION
    assert pallets.name == "Pallets"
    assert pallets.is_verified is True
    assert pallets.website_url == "https://github.com/about"
    assert pallets.has_sponsors_listing is True
    assert pallets.sponsorship_url == "https://github.com/sponsors/pallets"
    assert pallets.sponsors_others_count == 4
    assert pallets.enriched_at is not None
    assert await cache.version("organization", owner.id) == version + 1


async def test_organization_scan_updates_known_repositories_and_queues_changed_ones(
    run_job: RunJob, session: AsyncSession, network: FakeNetwork
) -> None:
    owner = await create_organization(session, login="pallets")
    await create_repository(session, owner=owner, name="flask", stars=1)
    await create_repository(session, owner=owner, name="click", stars=1, scanned_at=utcnow())
    await session.commit()
    network.listed["pallets"] = ["flask", "click", "jinja", "old-stuff"]
    network.archived.add("pallets/old-stuff")
    network.stars["pallets/flask"] = 68_000

    await run_job("scan.organization", login="pallets")

    flask = await stored(session, "pallets/flask")
    assert flask is not None
    assert flask.stars == 68_000
    # jinja is new and flask never scanned; click was scanned after its last push;
    # old-stuff is archived.
    scans = await job_records(session, "scan.repository")
    assert sorted(record.args["full_name"] for record in scans) == [
        "pallets/flask",
        "pallets/jinja",
    ]
    assert await stored(session, "pallets/jinja") is not None


async def test_owner_gone_from_github_is_marked_deleted(
    run_job: RunJob, session: AsyncSession, network: FakeNetwork
) -> None:
    owner = await create_organization(session, login="departed")
    await session.commit()
    network.gone.add("/users/departed")

    outcome = await run_job("scan.organization", login="departed")

    assert outcome.status is JobStatus.COMPLETED
    assert outcome.metadata["gone"] is True
    departed = await session.get(Organization, owner.id, populate_existing=True)
    assert departed is not None
    assert departed.deleted_at is not None


async def test_organization_rescan_is_a_no_op(
    run_job: RunJob, session: AsyncSession, network: FakeNetwork
) -> None:
    network.listed["pallets"] = ["flask", "jinja"]
    await run_job("scan.organization", login="pallets")
    scans = len(await job_records(session, "scan.repository"))
    before = await session.scalar(
        select(Organization)
        .where(Organization.login == "pallets")
        .execution_options(populate_existing=True)
    )
    assert before is not None
    profile = (before.name, before.kind, before.sponsorship_url, before.total_repositories)

    outcome = await run_job("scan.organization", login="pallets")

    after = await session.get(Organization, before.id, populate_existing=True)
    assert after is not None
    assert (after.name, after.kind, after.sponsorship_url, after.total_repositories) == profile
    # Both repositories were scanned after their last push: nothing new to scan.
    assert outcome.metadata["scans_queued"] == 0
    assert len(await job_records(session, "scan.repository")) == scans == 2
