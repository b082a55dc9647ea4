"""The record of every job run in `job_executions`: audit trail and dead-letter list.

A run is started (status `running`), then completed or failed with how many
records it processed and what it noticed on the way. A queued job is created
`pending` first; each attempt a worker makes turns it `running` again and counts
in `attempts`, and a transient failure puts it back to `pending` until its retry.
These functions only flush; the caller's unit of work commits (see
`wump.core.db`), so a run can be recorded from a command, a worker or a test alike.
"""

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from wump.core.errors import NotFound
from wump.models import JobExecution, JobStatus
from wump.models.base import utcnow

# Error texts can hold whole tracebacks; keep the row a reasonable size.
MAX_ERROR_CHARS = 8_000


async def start(
    session: AsyncSession,
    job_type: str,
    *,
    args: Mapping[str, Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> JobExecution:
    """Record that a run of `job_type` (e.g. `ingest.path`) has started."""
    execution = JobExecution(
        job_type=job_type,
        status=JobStatus.RUNNING,
        args=dict(args or {}),
        attempts=1,
        started_at=utcnow(),
        meta=dict(metadata or {}),
    )
    session.add(execution)
    await session.flush()
    return execution


async def create(
    session: AsyncSession,
    job_type: str,
    *,
    args: Mapping[str, Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> JobExecution:
    """Record a job that is queued but not started yet (status `pending`)."""
    execution = JobExecution(
        job_type=job_type,
        status=JobStatus.PENDING,
        args=dict(args or {}),
        attempts=0,
        meta=dict(metadata or {}),
        created_at=utcnow(),
    )
    session.add(execution)
    await session.flush()
    return execution


async def begin_attempt(session: AsyncSession, execution_id: uuid.UUID) -> JobExecution:
    """Mark the next attempt of a queued job as running."""
    execution = await _load(session, execution_id)
    execution.status = JobStatus.RUNNING
    execution.attempts += 1
    execution.started_at = utcnow()
    execution.completed_at = None
    await session.flush()
    return execution


async def retry_later(
    session: AsyncSession,
    execution_id: uuid.UUID,
    error_message: str,
    *,
    metadata: Mapping[str, Any] | None = None,
) -> JobExecution:
    """Put a job whose attempt failed transiently back to `pending`, keeping the error."""
    execution = await _load(session, execution_id)
    execution.status = JobStatus.PENDING
    execution.error_message = error_message[:MAX_ERROR_CHARS]
    if metadata:
        execution.meta = {**execution.meta, **metadata}
    await session.flush()
    return execution


async def complete(
    session: AsyncSession,
    execution_id: uuid.UUID,
    *,
    records_processed: int,
    metadata: Mapping[str, Any] | None = None,
) -> JobExecution:
    return await _finish(
        session,
        execution_id,
        JobStatus.COMPLETED,
        records_processed=records_processed,
        error_message=None,
        metadata=metadata,
    )


async def fail(
    session: AsyncSession,
    execution_id: uuid.UUID,
    error_message: str,
    *,
    records_processed: int | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> JobExecution:
    return await _finish(
        session,
        execution_id,
        JobStatus.FAILED,
        records_processed=records_processed,
        error_message=error_message[:MAX_ERROR_CHARS],
        metadata=metadata,
    )


async def _finish(
    session: AsyncSession,
    execution_id: uuid.UUID,
    status: JobStatus,
    *,
    records_processed: int | None,
    error_message: str | None,
    metadata: Mapping[str, Any] | None,
) -> JobExecution:
    execution = await _load(session, execution_id)
    execution.status = status
    execution.completed_at = utcnow()
    execution.error_message = error_message
    if records_processed is not None:
        execution.records_processed = records_processed
    if metadata:
        execution.meta = {**execution.meta, **metadata}
    await session.flush()
    return execution


async def _load(session: AsyncSession, execution_id: uuid.UUID) -> JobExecution:
    # Loaded afresh: the run's own transaction may have been rolled back since `start`.
    execution = await session.get(JobExecution, execution_id, populate_existing=True)
    if execution is None:
        raise NotFound(f"job execution {execution_id} does not exist")
    return execution
