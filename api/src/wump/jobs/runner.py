"""Running one attempt of a job, and keeping its `job_executions` row true.

Whoever runs a job (a worker, `wump serve`'s in-process queue, `wump jobs run`)
calls `execute`. It claims the record (`running`, one more attempt), runs the
job under `JOB_TIMEOUT_SECONDS` with a fresh request budget per provider, and
records the end:

- success: `completed`, with records processed and what the run noticed;
- a transient failure (`ProviderTransientError`, a lost connection) with attempts
  left: back to `pending` with the error, and `RetryJob` is raised for the queue
  to send the job again after a backoff;
- anything else, or the last attempt: `failed` with the error, and `JobFailed`
  is raised. That row is the dead-letter record.

A record already `completed` or `failed` is not run again: the queue may
deliver a message twice (a worker that died after finishing, before it
acknowledged), and jobs are idempotent anyway.
"""

import asyncio
import random
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import structlog
from pydantic import ValidationError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from wump.core.config import Settings
from wump.core.db import session_scope
from wump.core.progress import Progress
from wump.jobs import catalog, executions
from wump.jobs.context import JobContext, JobResources, JobResult
from wump.models import JobExecution, JobStatus
from wump.providers.base import ProviderTransientError, scrub

log = structlog.get_logger(__name__)


class JobFailed(Exception):
    """The job failed for good; its record says why."""

    def __init__(self, message: str, *, job_id: uuid.UUID | None = None) -> None:
        super().__init__(message)
        self.job_id = job_id


class RetryJob(Exception):
    """A transient failure with attempts left: send the job again after a backoff."""

    def __init__(
        self, message: str, *, job_id: uuid.UUID, attempt: int, retry_after: float | None
    ) -> None:
        super().__init__(message)
        self.job_id = job_id
        self.attempt = attempt
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Outcome:
    job_id: uuid.UUID
    status: JobStatus
    attempts: int
    records: int = 0
    metadata: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "job_id": str(self.job_id),
            "status": self.status.value,
            "attempts": self.attempts,
            "records": self.records,
        }


def is_transient(exc: BaseException) -> bool:
    """Failures worth another attempt later: rate limits, 5xx, timeouts, lost
    connections, and a SQLite database busy with another writer."""
    if isinstance(exc, ProviderTransientError | ConnectionError | TimeoutError):
        return True
    if isinstance(exc, RedisConnectionError | RedisTimeoutError | InterfaceError):
        return True
    if isinstance(exc, OperationalError) and "database is locked" in str(exc.orig):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def retry_delay(
    settings: Settings,
    attempt: int,
    retry_after: float | None,
    *,
    jitter: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait before the attempt after `attempt`: exponential, equal-jittered,
    at least what the provider asked for, at most `JOB_RETRY_MAX_DELAY_SECONDS`."""
    ceiling = min(
        settings.job_retry_max_delay_seconds,
        settings.job_retry_delay_seconds * 2.0 ** max(attempt - 1, 0),
    )
    delay = ceiling / 2 + jitter() * ceiling / 2
    if retry_after is not None:
        delay = max(delay, retry_after)
    return min(delay, settings.job_retry_max_delay_seconds)


def describe(exc: BaseException, settings: Settings) -> str:
    """The error as stored in the record: its type and message, without secrets."""
    secrets = (settings.github_token, settings.libraries_io_api_key)
    return scrub(f"{type(exc).__name__}: {exc}", secrets)


async def execute(
    resources: JobResources,
    job_type: str,
    raw_args: Mapping[str, Any],
    *,
    job_id: str | uuid.UUID | None = None,
    progress: Progress | None = None,
) -> Outcome:
    """Run one attempt of a job and record it (see the module docstring)."""
    async with resources.jobs.slot():
        return await _execute(resources, job_type, raw_args, job_id, progress)


async def _execute(
    resources: JobResources,
    job_type: str,
    raw_args: Mapping[str, Any],
    job_id: str | uuid.UUID | None,
    progress: Progress | None,
) -> Outcome:
    definition = catalog.definition(job_type)
    try:
        args = definition.parse(raw_args)
    except ValidationError as exc:
        raise await _refuse(resources, job_type, raw_args, job_id, exc) from exc
    execution = await _claim(resources, job_type, args.message(), job_id)
    if execution.status != JobStatus.RUNNING:
        log.info("job_already_finished", job_id=str(execution.id), status=execution.status)
        return Outcome(execution.id, JobStatus(execution.status), execution.attempts)
    budget = resources.settings.provider_request_budget
    ctx = JobContext(
        resources, execution.id, job_type, resources.providers.with_budget(budget), progress
    )
    log.info("job_started", job_id=str(execution.id), job_type=job_type, args=args.message())
    result = await _run(ctx, definition, args, execution.attempts)
    return await _complete(ctx, execution.attempts, result)


async def run_inline(
    resources: JobResources,
    job_type: str,
    raw_args: Mapping[str, Any],
    *,
    progress: Progress | None = None,
) -> Outcome:
    """Run a job in this process to its end, retrying transient failures after a backoff."""
    job_id: uuid.UUID | None = None
    while True:
        try:
            return await execute(resources, job_type, raw_args, job_id=job_id, progress=progress)
        except RetryJob as retry:
            job_id = retry.job_id
            delay = retry_delay(resources.settings, retry.attempt, retry.retry_after)
            log.info("job_retrying", job_id=str(job_id), attempt=retry.attempt, delay=delay)
            await asyncio.sleep(delay)


async def _refuse(
    resources: JobResources,
    job_type: str,
    raw_args: Mapping[str, Any],
    job_id: str | uuid.UUID | None,
    exc: ValidationError,
) -> JobFailed:
    """Record arguments no attempt can work with as a failure, and the error to raise."""
    message = f"invalid arguments for {job_type}: {exc.errors()[0]['msg']}"
    async with session_scope(resources.sessionmaker) as session:
        if job_id is None:
            args = {key: str(value) for key, value in raw_args.items()}
            execution = await executions.start(session, job_type, args=args)
        else:
            execution = await executions.begin_attempt(session, _uuid(job_id))
        await executions.fail(session, execution.id, message)
    return JobFailed(message, job_id=execution.id)


def _uuid(value: str | uuid.UUID) -> uuid.UUID:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(value)
    except ValueError:
        raise JobFailed(f"{value!r} is not a job id") from None


async def _claim(
    resources: JobResources,
    job_type: str,
    args: dict[str, str],
    job_id: str | uuid.UUID | None,
) -> JobExecution:
    """The record of this attempt, now `running`; a finished one is returned untouched."""
    async with session_scope(resources.sessionmaker) as session:
        if job_id is None:
            # Sent without a record (the scheduler does): the run records itself.
            return await executions.start(session, job_type, args=args)
        execution = await session.get(JobExecution, _uuid(job_id), populate_existing=True)
        if execution is None:
            raise JobFailed(f"job {job_id} has no record (deleted by the cleanup?)")
        if execution.status in (JobStatus.COMPLETED, JobStatus.FAILED):
            return execution
        return await executions.begin_attempt(session, execution.id)


async def _run(
    ctx: JobContext, definition: catalog.JobDefinition[Any], args: Any, attempt: int
) -> JobResult:
    timeout = ctx.settings.job_timeout_seconds
    try:
        async with asyncio.timeout(timeout) as deadline:
            return await definition.run(ctx, args)
    except asyncio.CancelledError:
        await _interrupted(ctx)
        raise
    except Exception as exc:
        if isinstance(exc, TimeoutError) and deadline.expired():
            message = f"TimeoutError: the job did not finish within {timeout} s"
            await _failed(ctx, message)
        else:
            message = await _failure(ctx, exc, attempt)
        raise JobFailed(message, job_id=ctx.execution_id) from exc


async def _failure(ctx: JobContext, exc: Exception, attempt: int) -> str:
    """Record the failure and return its message; raise `RetryJob` instead when it is
    transient and attempts are left."""
    message = describe(exc, ctx.settings)
    if not is_transient(exc) or attempt >= ctx.settings.job_max_attempts:
        await _failed(ctx, message)
        return message
    log.warning("job_attempt_failed", job_id=str(ctx.execution_id), attempt=attempt, error=message)
    try:
        async with ctx.session() as session:
            await executions.retry_later(session, ctx.execution_id, message, metadata=ctx.summary())
    except Exception:
        # The database may be what failed; the retry still goes out.
        log.exception("job_retry_not_recorded", job_id=str(ctx.execution_id))
    retry_after = exc.retry_after if isinstance(exc, ProviderTransientError) else None
    raise RetryJob(
        message, job_id=ctx.execution_id, attempt=attempt, retry_after=retry_after
    ) from exc


async def _failed(ctx: JobContext, message: str) -> None:
    log.error("job_failed", job_id=str(ctx.execution_id), job_type=ctx.job_type, error=message)
    try:
        async with ctx.session() as session:
            await executions.fail(session, ctx.execution_id, message, metadata=ctx.summary())
    except Exception:
        log.exception("job_failure_not_recorded", job_id=str(ctx.execution_id))


async def _interrupted(ctx: JobContext) -> None:
    """Stopped from outside (shutdown). A redelivering queue will run it again later."""
    message = "interrupted before it finished"
    try:
        async with ctx.session() as session:
            if ctx.resources.jobs.redelivers:
                await executions.retry_later(session, ctx.execution_id, message)
            else:
                await executions.fail(session, ctx.execution_id, message)
    except BaseException:
        log.exception("job_interruption_not_recorded", job_id=str(ctx.execution_id))


async def _complete(ctx: JobContext, attempts: int, result: JobResult) -> Outcome:
    metadata = {**result.metadata, **ctx.summary()}
    async with ctx.session() as session:
        await executions.complete(
            session, ctx.execution_id, records_processed=result.records, metadata=metadata
        )
    log.info("job_completed", job_id=str(ctx.execution_id), records=result.records)
    return Outcome(ctx.execution_id, JobStatus.COMPLETED, attempts, result.records, metadata)
