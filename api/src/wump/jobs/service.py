"""Decisions about queued jobs: what may be queued, deduplicated refreshes, listings."""

import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import unquote

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from wump.core.config import Settings
from wump.core.errors import BadRequest, NotFound, WumpError
from wump.core.pagination import Page, PageParams, decode_cursor, paged, query_scope, split_page
from wump.core.repository import Repository as BaseRepository
from wump.ingest.identity import InvalidPackageName, PackageIdentity
from wump.jobs import catalog, repository
from wump.jobs.queue import JobQueue, enqueue
from wump.jobs.schemas import DiscoverDependentsArgs, JobArgs, JobRead, JobType
from wump.models import JobExecution, JobStatus
from wump.packages.service import ecosystem_or_404


class InvalidJobArguments(WumpError):
    status = 422
    slug = "validation-error"


def check_args(job_type: JobType, args: Mapping[str, Any]) -> dict[str, str]:
    """The job's arguments as they will be queued; a 422 problem when they are not valid."""
    definition = catalog.definition(job_type.value)
    try:
        parsed: JobArgs = definition.parse(args)
        return parsed.message()
    except ValidationError as exc:
        errors = [
            {"loc": ["body", "args", *map(str, err["loc"])], "msg": err["msg"], "type": err["type"]}
            for err in exc.errors()
        ]
        summary = "; ".join(f"{e['loc'][-1]}: {e['msg']}" for e in errors[:5])
        raise InvalidJobArguments(
            f"Invalid arguments for {job_type.value}. {summary}", extra={"errors": errors}
        ) from None


async def submit(
    session: AsyncSession,
    sessionmaker: async_sessionmaker[AsyncSession],
    queue: JobQueue,
    job_type: JobType,
    args: Mapping[str, Any],
) -> JobExecution:
    """Record a job as `pending`; it is sent to the queue once the request commits."""
    checked = check_args(job_type, args)
    return await enqueue(
        session, sessionmaker, queue, job_type.value, checked, metadata={"queued_by": "api"}
    )


async def refresh_package(
    session: AsyncSession,
    sessionmaker: async_sessionmaker[AsyncSession],
    queue: JobQueue,
    ecosystem: str,
    name: str,
    *,
    settings: Settings,
    now: datetime,
) -> JobExecution:
    """Queue a discovery of the package's dependents, or return the one already under way.

    A discovery queued or running, or completed within `JOB_REFRESH_DEDUPE_SECONDS`,
    answers instead of a new one. The package is recorded as requested, so the
    daily `refresh.tracked` keeps it current for `JOB_REFRESH_REQUESTED_DAYS`.
    """
    identity = _identity(ecosystem, name)
    package_id = await repository.ensure_package(session, identity)
    await repository.mark_requested(session, package_id, now=now)
    args = DiscoverDependentsArgs(purl=identity.purl).message()
    window = timedelta(seconds=settings.job_refresh_dedupe_seconds)
    existing = await repository.active_job(
        session,
        JobType.DISCOVER_DEPENDENTS,
        args,
        settings=settings,
        completed_since=now - window,
    )
    if existing is not None:
        return existing
    return await enqueue(
        session,
        sessionmaker,
        queue,
        JobType.DISCOVER_DEPENDENTS.value,
        args,
        metadata={"queued_by": "refresh"},
    )


def _identity(ecosystem: str, name: str) -> PackageIdentity:
    eco = ecosystem_or_404(ecosystem)
    # Some clients encode twice; no registry allows "%" in a name, so decoding is safe.
    name = unquote(name) if "%" in name else name
    try:
        return PackageIdentity.of(eco, name)
    except InvalidPackageName as exc:
        raise NotFound(f"{name!r} is not a valid {eco.value} package name: {exc}") from None


async def get(session: AsyncSession, job_id: uuid.UUID) -> JobExecution:
    execution = await session.get(JobExecution, job_id)
    if execution is None:
        raise NotFound(f"No job {job_id} is known to wump (finished ones are kept for a while).")
    return execution


def read(execution: JobExecution, *, settings: Settings, now: datetime) -> JobRead:
    """The API's view of a job record, with whether it is stale."""
    job = JobRead.model_validate(execution, from_attributes=True)
    job.stale = repository.is_stale(execution, settings, now)
    return job


async def list_jobs(
    session: AsyncSession,
    *,
    status: JobStatus | None,
    job_type: JobType | None,
    page: PageParams,
    settings: Settings,
    now: datetime,
) -> Page[JobRead]:
    """Jobs, newest first, one keyset page at a time."""
    keyset = repository.JOB_KEYSET
    type_name = job_type.value if job_type else None
    scope = query_scope("jobs", status, type_name)
    cursor = decode_cursor(page.cursor, scope=scope, kinds=keyset.kinds) if page.cursor else None
    if cursor is not None:
        _check_id(cursor.keys[-1])
    statement = repository.jobs_statement(status, type_name)
    base = BaseRepository(session, JobExecution)
    total = await base.count(statement)
    rows = await base.all(paged(statement, keyset, cursor, page.limit))
    items, next_cursor = split_page(
        [{"created_at": row.created_at, "id": row.id, "row": row} for row in rows],
        limit=page.limit,
        keyset=keyset,
        scope=scope,
    )
    return Page[JobRead](
        items=[read(item["row"], settings=settings, now=now) for item in items],
        total=total,
        limit=page.limit,
        next_cursor=next_cursor,
    )


def _check_id(value: object) -> None:
    try:
        uuid.UUID(str(value))
    except ValueError:
        raise BadRequest(
            "The cursor is malformed. Use the `next_cursor` of a previous page as is."
        ) from None
