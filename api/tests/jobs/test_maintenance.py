"""`enrich.organizations`, `cleanup` and `rollups.rescore`: the scheduled upkeep jobs."""

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.builders import (
    create_dependency,
    create_organization,
    create_registry_package,
    create_repository,
    empty_graph,
)
from tests.jobs.conftest import Configure, RunJob, job_records
from tests.jobs.network import FakeNetwork
from wump.core.cache import Cache
from wump.core.config import ScoringWeights
from wump.models import DependentOwner, JobExecution, JobStatus, Organization, Repository
from wump.models.base import utcnow
from wump.rollups.service import Rollups


async def reload(session: AsyncSession, organization: Organization) -> Organization:
    found = await session.get(Organization, organization.id, populate_existing=True)
    assert found is not None
    return found


async def test_enrichment_refreshes_only_stale_owners(
    run_job: RunJob, session: AsyncSession, network: FakeNetwork, cache: Cache
) -> None:
    never = await create_organization(session, login="home-assistant")
    old = await create_organization(
        session, login="pallets", enriched_at=utcnow() - timedelta(days=30)
    )
    fresh = await create_organization(
        session, login="psf", name="kept", enriched_at=utcnow() - timedelta(hours=2)
    )
    await session.commit()
    version = await cache.version("organization", never.id)

    outcome = await run_job("enrich.organizations", stale_after="P7D")

    assert outcome.status is JobStatus.COMPLETED
    assert outcome.records == 2
    home_assistant = await reload(session, never)
    # ecosyste.ms comes first in the fallback order for profiles...
    assert home_assistant.email == "hello@home-assistant.io"
    assert home_assistant.website_url == "https://www.home-assistant.io"
    assert home_assistant.enriched_at is not None
    # ...and sponsorship signals come from GitHub's GraphQL API.
    assert home_assistant.has_sponsors_listing is True
    assert home_assistant.sponsors_others_count == 4
    assert (await reload(session, old)).enriched_at > utcnow() - timedelta(minutes=1)  # type: ignore[operator]
    assert (await reload(session, fresh)).name == "kept"
    assert network.seen("/owners/psf") == []
    assert await cache.version("organization", never.id) == version + 1


async def test_enrichment_default_staleness_comes_from_the_settings(
    run_job: RunJob, session: AsyncSession, network: FakeNetwork, configure: Configure
) -> None:
    await create_organization(session, login="pallets", enriched_at=utcnow() - timedelta(days=2))
    await session.commit()
    configure(job_enrich_stale_days=1)

    outcome = await run_job("enrich.organizations")

    assert outcome.metadata["stale_after"] == timedelta(days=1).total_seconds()
    assert outcome.metadata["enriched"] == 1


async def test_enrichment_marks_owners_no_provider_knows_as_deleted(
    run_job: RunJob, session: AsyncSession, network: FakeNetwork
) -> None:
    owner = await create_organization(session, login="departed")
    await session.commit()
    network.gone |= {"/hosts/GitHub/owners/departed", "/users/departed"}

    outcome = await run_job("enrich.organizations")

    assert outcome.metadata["gone"] == 1
    assert (await reload(session, owner)).deleted_at is not None


async def test_enrichment_rerun_is_a_no_op(
    run_job: RunJob, session: AsyncSession, network: FakeNetwork
) -> None:
    await create_organization(session, login="pallets")
    await session.commit()
    await run_job("enrich.organizations")
    requests = len(network.requests)

    outcome = await run_job("enrich.organizations")

    assert outcome.records == 0
    assert len(network.requests) == requests


async def test_cleanup_fails_abandoned_jobs_and_prunes_old_records(
    run_job: RunJob, session: AsyncSession
) -> None:
    long_ago = utcnow() - timedelta(days=120)
    session.add_all(
        [
            JobExecution(
                job_type="scan.repository",
                status=JobStatus.RUNNING,
                args={"full_name": "acme/lost"},
                attempts=1,
                started_at=utcnow() - timedelta(hours=3),
                created_at=utcnow() - timedelta(hours=3),
            ),
            JobExecution(
                job_type="scan.repository",
                status=JobStatus.RUNNING,
                args={"full_name": "acme/busy"},
                attempts=1,
                started_at=utcnow() - timedelta(minutes=5),
            ),
            JobExecution(
                job_type="scan.organization",
                status=JobStatus.PENDING,
                args={"login": "never-picked-up"},
                created_at=utcnow() - timedelta(days=2),
            ),
            JobExecution(job_type="cleanup", status=JobStatus.COMPLETED, created_at=long_ago),
            JobExecution(job_type="cleanup", status=JobStatus.FAILED, created_at=long_ago),
        ]
    )
    await session.commit()

    outcome = await run_job("cleanup")

    assert outcome.metadata["jobs_abandoned"] == 2
    assert outcome.metadata["jobs_pruned"] == 2
    records = {
        (record.job_type, next(iter(record.args.values()), None)): record
        for record in await job_records(session)
    }
    lost = records[("scan.repository", "acme/lost")]
    assert lost.status == JobStatus.FAILED
    assert lost.error_message is not None
    assert "abandoned" in lost.error_message
    assert records[("scan.repository", "acme/busy")].status == JobStatus.RUNNING
    assert records[("scan.organization", "never-picked-up")].status == JobStatus.FAILED
    # The old records are gone; this run's own record is the only cleanup left.
    assert [r.id for r in records.values() if r.job_type == "cleanup"] == [outcome.job_id]


async def test_cleanup_flags_archived_and_removes_vanished_repositories(
    run_job: RunJob, session: AsyncSession, network: FakeNetwork
) -> None:
    owner = await create_organization(session, login="acme")
    month_ago = utcnow() - timedelta(days=45)
    archived = await create_repository(session, owner=owner, name="retired", scanned_at=month_ago)
    vanished = await create_repository(session, owner=owner, name="deleted", scanned_at=month_ago)
    unchanged = await create_repository(
        session, owner=owner, name="steady", scanned_at=month_ago, etag=network.etag("acme/steady")
    )
    await create_repository(session, owner=owner, name="recent", scanned_at=utcnow())
    package = await create_registry_package(session, name="left-pad")
    await create_dependency(session, repository=vanished, package=package)
    await session.commit()
    network.archived.add("acme/retired")
    network.gone.add("/repos/acme/deleted")

    outcome = await run_job("cleanup")

    assert outcome.metadata["repositories_checked"] == 3
    assert outcome.metadata["repositories_archived"] == 1
    assert outcome.metadata["repositories_gone"] == 1
    assert outcome.metadata["repositories_unchanged"] == 1
    names = {
        repository.name: repository
        for repository in (
            await session.execute(select(Repository).execution_options(populate_existing=True))
        ).scalars()
    }
    assert set(names) == {"retired", "steady", "recent"}
    assert names["retired"].is_archived is True
    assert names["retired"].etag == network.etag("acme/retired")
    assert names["steady"].scanned_at > month_ago  # type: ignore[operator]
    assert network.seen("/repos/acme/recent") == []
    assert unchanged.id == names["steady"].id
    assert archived.id == names["retired"].id


async def test_cleanup_rerun_is_a_no_op(
    run_job: RunJob, session: AsyncSession, network: FakeNetwork
) -> None:
    owner = await create_organization(session, login="acme")
    await create_repository(
        session,
        owner=owner,
        name="steady",
        scanned_at=utcnow() - timedelta(days=45),
        etag=network.etag("acme/steady"),
    )
    await session.commit()
    await run_job("cleanup")

    outcome = await run_job("cleanup")

    assert outcome.metadata == {
        **outcome.metadata,
        "jobs_abandoned": 0,
        "jobs_pruned": 0,
        # Checked last time: not due again for JOB_RECHECK_AFTER_DAYS.
        "repositories_checked": 0,
    }


async def test_enrichment_rescores_the_owner_in_every_package(
    run_job: RunJob, session: AsyncSession, cache: Cache
) -> None:
    await empty_graph(session)
    owner = await create_organization(session, login="home-assistant")
    package = await create_registry_package(session, name="aiohttp")
    repository = await create_repository(session, owner=owner, stars=50)
    await create_dependency(session, repository=repository, package=package)
    await session.commit()
    before = (await session.execute(select(DependentOwner.score))).scalar_one()
    package_id = package.id
    version = await cache.version("package", package_id)

    await run_job("enrich.organizations", stale_after="P7D")

    session.expire_all()
    # The recorded profile lists a website and a Sponsors listing: both are score factors.
    assert (await session.execute(select(DependentOwner.score))).scalar_one() > before
    assert await cache.version("package", package_id) == version + 1


async def test_rescore_job_takes_aged_recent_points_off(
    run_job: RunJob, session: AsyncSession
) -> None:
    await empty_graph(session)  # the job rescores every row there is
    pushed = utcnow() - timedelta(days=200)
    owner = await create_organization(session, login="acme")
    package = await create_registry_package(session, name="httpx")
    repository = await create_repository(session, owner=owner, stars=5, pushed_at=pushed)
    await create_dependency(session, repository=repository, package=package)
    # Scored 150 days ago, when the push was recent.
    rollups = Rollups(session, ScoringWeights(), now=utcnow() - timedelta(days=150))
    await rollups.refresh({(package.id, owner.id)})
    await session.commit()
    assert (await session.execute(select(DependentOwner.recent))).scalar_one() is True

    outcome = await run_job("rollups.rescore")

    assert outcome.status is JobStatus.COMPLETED
    assert outcome.records == 1
    session.expire_all()
    assert (await session.execute(select(DependentOwner.recent))).scalar_one() is False
    assert (await run_job("rollups.rescore")).records == 0
