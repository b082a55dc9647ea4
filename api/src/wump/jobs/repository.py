"""Statements the jobs need: job records, and the few graph writes the loader does not do.

The loader (`wump.ingest.loader`) writes snapshots. What is left here is what a
provider's answer implies beyond a snapshot: a package's edges a complete listing
no longer contains, a repository that is gone, owner profiles, and the queries
that pick the work of the scheduled jobs.
"""

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Dialect,
    Select,
    and_,
    delete,
    func,
    or_,
    select,
    type_coerce,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import TypeDecorator, Uuid

from wump.core.bulk import BulkWriter
from wump.core.config import ScoringWeights, Settings
from wump.core.pagination import Keyset, SortKey
from wump.core.repository import Repository as BaseRepository
from wump.ingest.identity import PackageIdentity
from wump.ingest.loader import RepositoryRef
from wump.models import (
    Dependency,
    DependencySource,
    JobExecution,
    JobStatus,
    Organization,
    OwnerKind,
    Package,
    Repository,
)
from wump.models.base import utcnow
from wump.rollups.service import Rollups

# A pending job nobody picked up within this long is lost (its message never arrived).
PENDING_EXPIRY = timedelta(days=1)
ACTIVE = (JobStatus.PENDING.value, JobStatus.RUNNING.value)


class _UuidKey(TypeDecorator[uuid.UUID]):
    """A UUID column compared with the string form a cursor carries."""

    impl = Uuid
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> uuid.UUID | None:
        return None if value is None else uuid.UUID(str(value))


JOB_KEYSET = Keyset(
    (
        SortKey("created_at", JobExecution.created_at, True, datetime),
        SortKey("id", type_coerce(JobExecution.id, _UuidKey()), True, str),
    )
)


# -- job records -------------------------------------------------------------------


def running_deadline(settings: Settings, now: datetime) -> datetime:
    """A job still `running` that started before this has lost its worker."""
    return now - timedelta(seconds=settings.job_timeout_seconds + settings.job_redelivery_seconds)


def is_stale(execution: JobExecution, settings: Settings, now: datetime) -> bool:
    """True for a `running` or `pending` record that no worker will finish any more."""
    if execution.status == JobStatus.RUNNING:
        started = execution.started_at or execution.created_at
        return started < running_deadline(settings, now)
    if execution.status == JobStatus.PENDING:
        return execution.created_at < now - PENDING_EXPIRY
    return False


def _same_job(job_type: str, args: Mapping[str, str]) -> list[ColumnElement[bool]]:
    clauses = [JobExecution.job_type == job_type]
    clauses += [JobExecution.args[key].as_string() == value for key, value in args.items()]
    return clauses


def _live(settings: Settings, now: datetime) -> ColumnElement[bool]:
    return or_(
        and_(
            JobExecution.status == JobStatus.RUNNING.value,
            JobExecution.started_at >= running_deadline(settings, now),
        ),
        and_(
            JobExecution.status == JobStatus.PENDING.value,
            JobExecution.created_at >= now - PENDING_EXPIRY,
        ),
    )


async def active_job(
    session: AsyncSession,
    job_type: str,
    args: Mapping[str, str],
    *,
    settings: Settings,
    completed_since: datetime | None = None,
) -> JobExecution | None:
    """The newest job of this type and arguments that is queued or running (and not
    stale), or that completed at or after `completed_since`."""
    now = utcnow()
    wanted = _live(settings, now)
    if completed_since is not None:
        wanted = or_(
            wanted,
            and_(
                JobExecution.status == JobStatus.COMPLETED.value,
                JobExecution.completed_at >= completed_since,
            ),
        )
    statement = (
        select(JobExecution)
        .where(*_same_job(job_type, args), wanted)
        .order_by(JobExecution.created_at.desc())
        .limit(1)
    )
    return await BaseRepository(session, JobExecution).one_or_none(statement)


def jobs_statement(status: JobStatus | None, job_type: str | None) -> Select[JobExecution]:
    statement = select(JobExecution)
    if status is not None:
        statement = statement.where(JobExecution.status == status.value)
    if job_type is not None:
        statement = statement.where(JobExecution.job_type == job_type)
    return statement


def _stale(settings: Settings, now: datetime) -> ColumnElement[bool]:
    return or_(
        and_(
            JobExecution.status == JobStatus.RUNNING.value,
            func.coalesce(JobExecution.started_at, JobExecution.created_at)
            < running_deadline(settings, now),
        ),
        and_(
            JobExecution.status == JobStatus.PENDING.value,
            JobExecution.created_at < now - PENDING_EXPIRY,
        ),
    )


async def count_stale(session: AsyncSession, *, settings: Settings, now: datetime) -> int:
    statement = select(func.count()).select_from(JobExecution).where(_stale(settings, now))
    return int(await session.scalar(statement) or 0)


async def fail_stale(session: AsyncSession, *, settings: Settings, now: datetime) -> int:
    """Record jobs whose worker died (and that no worker will take again) as failed."""
    result = await session.execute(
        update(JobExecution)
        .where(_stale(settings, now))
        .values(
            status=JobStatus.FAILED.value,
            completed_at=now,
            error_message=func.coalesce(JobExecution.error_message, "")
            + "abandoned: no worker finished it (worker stopped, or the message was lost)",
        )
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def prune_jobs(session: AsyncSession, *, before: datetime) -> int:
    """Delete finished job records created before `before`."""
    result = await session.execute(
        delete(JobExecution)
        .where(
            JobExecution.created_at < before,
            JobExecution.status.in_([JobStatus.COMPLETED.value, JobStatus.FAILED.value]),
        )
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def recent_failures(
    session: AsyncSession, *, since: datetime, limit: int
) -> Sequence[JobExecution]:
    statement = (
        select(JobExecution)
        .where(JobExecution.status == JobStatus.FAILED.value, JobExecution.created_at >= since)
        .order_by(JobExecution.created_at.desc())
        .limit(limit)
    )
    return await BaseRepository(session, JobExecution).all(statement)


# -- packages ----------------------------------------------------------------------


async def ensure_package(session: AsyncSession, identity: PackageIdentity) -> int:
    """The package's id, inserting the package first when wump does not know it yet."""
    bulk = BulkWriter(session)
    await session.execute(
        bulk.insert(Package)
        .values(
            ecosystem=identity.ecosystem.value,
            name=identity.name,
            normalized_name=identity.normalized_name,
            purl=identity.purl,
            funding_urls=[],
        )
        .on_conflict_do_nothing()
    )
    package_id = await session.scalar(
        select(Package.id).where(
            Package.ecosystem == identity.ecosystem.value,
            Package.normalized_name == identity.normalized_name,
        )
    )
    assert package_id is not None
    return int(package_id)


async def mark_requested(session: AsyncSession, package_id: int, *, now: datetime) -> None:
    await session.execute(
        update(Package)
        .where(Package.id == package_id)
        .values(last_requested_at=now)
        .execution_options(synchronize_session=False)
    )


async def packages_to_refresh(session: AsyncSession, *, requested_since: datetime) -> list[str]:
    """Purls of tracked packages and of those asked about since `requested_since`."""
    result = await session.execute(
        select(Package.purl)
        .where(or_(Package.is_tracked.is_(True), Package.last_requested_at >= requested_since))
        .order_by(Package.id)
    )
    return list(result.scalars())


@dataclass(frozen=True, slots=True)
class Swept:
    owner_ids: list[int]
    edges_cleared: int
    edges_removed: int


async def sweep_package(
    session: AsyncSession, package_id: int, source: DependencySource, *, since: datetime
) -> Swept:
    """Clear `source` from the package's edges it did not report again since `since`.

    For a complete listing of a package's dependents: a repository missing from it
    no longer depends on the package as far as that source knows. Edges left with
    no source at all are deleted; what other sources reported stays.
    """
    bit = source.bit
    result = await session.execute(
        update(Dependency)
        .where(
            Dependency.package_id == package_id,
            Dependency.sources.op("&")(bit) != 0,
            Dependency.last_seen_at < since,
        )
        .values(sources=Dependency.sources.op("&")(~bit))
        .returning(Dependency.repository_id)
        .execution_options(synchronize_session=False)
    )
    repositories = sorted(set(result.scalars()))
    if not repositories:
        return Swept([], 0, 0)
    removed = await session.execute(
        delete(Dependency)
        .where(Dependency.package_id == package_id, Dependency.sources == 0)
        .execution_options(synchronize_session=False)
    )
    owners = await session.execute(
        select(Repository.owner_id).where(Repository.id.in_(repositories)).distinct()
    )
    return Swept(
        sorted(owners.scalars()),
        len(repositories),
        int(removed.rowcount),  # type: ignore[attr-defined]
    )


# -- organizations -----------------------------------------------------------------


async def organization_by_login(
    session: AsyncSession, login: str, *, host: str = "github.com"
) -> Organization | None:
    statement = select(Organization).where(
        Organization.host == host, Organization.login_key == login.lower()
    )
    return await BaseRepository(session, Organization).one_or_none(statement)


async def ensure_organization(
    session: AsyncSession, login: str, *, kind: OwnerKind, host: str = "github.com"
) -> Organization:
    """The owner's row, inserted first when wump does not know the owner yet."""
    await session.execute(
        BulkWriter(session)
        .insert(Organization)
        .values(
            host=host,
            login=login,
            login_key=login.lower(),
            kind=kind.value,
            github_url=f"https://github.com/{login}" if host == "github.com" else None,
            created_at=utcnow(),
            updated_at=utcnow(),
        )
        .on_conflict_do_nothing()
    )
    organization = await organization_by_login(session, login, host=host)
    assert organization is not None
    return organization


async def stale_organizations(
    session: AsyncSession, *, enriched_before: datetime, limit: int
) -> Sequence[Organization]:
    """Owners never enriched, then the longest unrefreshed, most starred first."""
    statement = (
        select(Organization)
        .where(
            Organization.deleted_at.is_(None),
            or_(Organization.enriched_at.is_(None), Organization.enriched_at < enriched_before),
        )
        .order_by(
            Organization.enriched_at.is_not(None),
            Organization.enriched_at,
            Organization.total_stars.desc(),
            Organization.id,
        )
        .limit(limit)
    )
    return await BaseRepository(session, Organization).all(statement)


async def owners_enriched_since(
    session: AsyncSession, logins: Sequence[str], *, since: datetime
) -> set[str]:
    """The login keys among `logins` whose profile is fresher than `since`."""
    keys = sorted({login.lower() for login in logins})
    if not keys:
        return set()
    result = await session.execute(
        select(Organization.login_key).where(
            Organization.host == "github.com",
            Organization.login_key.in_(keys),
            Organization.enriched_at >= since,
        )
    )
    return set(result.scalars())


# -- repositories ------------------------------------------------------------------


async def repository_by_ref(session: AsyncSession, ref: RepositoryRef) -> Repository | None:
    host, key = ref.key
    statement = select(Repository).where(Repository.host == host, Repository.full_name_key == key)
    return await BaseRepository(session, Repository).one_or_none(statement)


async def owner_repositories(session: AsyncSession, owner_id: int) -> Sequence[Repository]:
    statement = select(Repository).where(Repository.owner_id == owner_id)
    return await BaseRepository(session, Repository).all(statement)


async def record_scan(
    session: AsyncSession, repository_id: int, *, etag: str | None, now: datetime
) -> None:
    values: dict[str, Any] = {"scanned_at": now}
    if etag is not None:
        values["etag"] = etag
    await session.execute(
        update(Repository)
        .where(Repository.id == repository_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )


@dataclass(frozen=True, slots=True)
class Removed:
    package_ids: list[int]
    owner_id: int


async def remove_repository(
    session: AsyncSession, repository: Repository, *, weights: ScoringWeights
) -> Removed:
    """Delete a repository that no longer exists, with its edges, and recount its owner
    and the dependents of every package it used."""
    result = await session.execute(
        delete(Dependency)
        .where(Dependency.repository_id == repository.id)
        .returning(Dependency.package_id)
        .execution_options(synchronize_session=False)
    )
    package_ids = list(result.scalars())
    await Rollups(session, weights).refresh({(id_, repository.owner_id) for id_ in package_ids})
    await session.execute(
        delete(Repository)
        .where(Repository.id == repository.id)
        .execution_options(synchronize_session=False)
    )
    await recount_owner(session, repository.owner_id)
    return Removed(package_ids, repository.owner_id)


async def recount_owner(session: AsyncSession, owner_id: int) -> None:
    count = select(func.count()).where(Repository.owner_id == owner_id).scalar_subquery()
    stars = (
        select(func.coalesce(func.sum(Repository.stars), 0))
        .where(Repository.owner_id == owner_id)
        .scalar_subquery()
    )
    await session.execute(
        update(Organization)
        .where(Organization.id == owner_id)
        .values(total_repositories=count, total_stars=stars, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )


async def repositories_to_recheck(
    session: AsyncSession, *, scanned_before: datetime, limit: int
) -> Sequence[Repository]:
    """Scanned repositories not looked at since `scanned_before`, the oldest first."""
    statement = (
        select(Repository)
        .where(Repository.scanned_at.is_not(None), Repository.scanned_at < scanned_before)
        .order_by(Repository.scanned_at, Repository.id)
        .limit(limit)
    )
    return await BaseRepository(session, Repository).all(statement)
