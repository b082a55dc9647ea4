"""Handing jobs to the queue: the record first, the message only after the commit.

`enqueue` records a job as `pending` in the caller's unit of work and sends its
message once that unit has committed (`wump.core.db.after_commit`), so a worker
never picks up a job whose record, or whose reason to exist, was rolled back.
A message that cannot be sent leaves the record `failed` with the reason.
"""

import asyncio
import uuid
from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager, nullcontext
from typing import Any

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from taskiq import AsyncBroker, InMemoryBroker
from taskiq.kicker import AsyncKicker
from taskiq_redis import RedisStreamBroker
from taskiq_redis.redis_broker import BaseRedisBroker

from wump.core.db import after_commit, session_scope
from wump.jobs import executions
from wump.models import JobExecution

log = structlog.get_logger(__name__)


class UnknownJob(LookupError):
    pass


class JobQueue:
    """The broker the settings chose, seen from the code that sends jobs."""

    def __init__(
        self, broker: AsyncBroker, *, name: str, sends: bool = True, serial: bool = False
    ) -> None:
        self.broker = broker
        self.name = name
        # False with JOB_MODE=off: records are kept `pending` and nothing runs them here.
        self.sends = sends
        # One job at a time in this process: SQLite refuses a second writer whose
        # snapshot is older than the last commit, so concurrent jobs would fail.
        self._serial = asyncio.Lock() if serial else None

    def slot(self) -> AbstractAsyncContextManager[object]:
        """Held while a job runs; only ever waits for the in-process queue on SQLite."""
        return self._serial if self._serial is not None else nullcontext()

    @property
    def backend(self) -> str:
        """`valkey` for the shared stream, `memory` for jobs run in this process."""
        return "valkey" if isinstance(self.broker, BaseRedisBroker) else "memory"

    @property
    def redelivers(self) -> bool:
        """Whether a job a dead worker took is handed to another worker later."""
        return isinstance(self.broker, RedisStreamBroker)

    async def send(self, job_type: str, job_id: uuid.UUID, args: Mapping[str, Any]) -> None:
        if self.broker.find_task(job_type) is None:
            raise UnknownJob(job_type)
        if not self.sends:
            log.info("job_left_pending", job_id=str(job_id), job_type=job_type)
            return
        # The message id is the record's id, so retries and redeliveries share it.
        kicker: AsyncKicker[Any, Any] = AsyncKicker(job_type, self.broker, labels={})
        await kicker.with_task_id(str(job_id)).kiq(job_id=str(job_id), **args)

    def redis(self) -> Redis | None:
        """A client on the queue's own connection pool (None for the in-process queue)."""
        if isinstance(self.broker, BaseRedisBroker):
            return Redis(connection_pool=self.broker.connection_pool)
        return None

    async def startup(self) -> None:
        """Prepare the broker to send (on Valkey: create the consumer group).

        A Valkey that is down does not stop the API from starting; jobs queued
        meanwhile are recorded as failed with the reason.
        """
        try:
            await self.broker.startup()
        except (RedisError, OSError) as exc:
            log.warning("job_queue_unavailable", error=type(exc).__name__)

    async def shutdown(self, *, grace_seconds: float = 10.0) -> None:
        """Let jobs running in this process finish (for a while), then close the broker."""
        if isinstance(self.broker, InMemoryBroker):
            try:
                await asyncio.wait_for(self.drain(), grace_seconds)
            except TimeoutError:
                running = list(self.broker._running_tasks)
                for task in running:
                    task.cancel()
                # Cancelled jobs record themselves as interrupted.
                await asyncio.gather(*running, return_exceptions=True)
        try:
            await self.broker.shutdown()
        except (RedisError, OSError) as exc:
            log.warning("job_queue_close_failed", error=type(exc).__name__)

    async def drain(self) -> None:
        """Wait until every job this process runs in the background has finished."""
        if not isinstance(self.broker, InMemoryBroker):
            return
        # A finished job may have queued follow-ups or a retry; wait for those too.
        # (`wait_all` only awaits the tasks running when it is called; taskiq keeps
        # the set of running tasks, which is the only way to know there are more.)
        while self.broker._running_tasks:
            await self.broker.wait_all()


async def enqueue(
    session: AsyncSession,
    sessionmaker: async_sessionmaker[AsyncSession],
    queue: JobQueue,
    job_type: str,
    args: Mapping[str, Any],
    *,
    metadata: Mapping[str, Any] | None = None,
) -> JobExecution:
    """Record a `pending` job now and send it once `session` has committed."""
    execution = await executions.create(session, job_type, args=args, metadata=metadata)
    job_id = execution.id
    message_args = dict(args)

    async def send() -> None:
        try:
            await queue.send(job_type, job_id, message_args)
        except Exception as exc:
            log.exception("job_not_queued", job_id=str(job_id), job_type=job_type)
            await _record_unqueued(sessionmaker, job_id, exc)

    after_commit(session, send)
    return execution


async def _record_unqueued(
    sessionmaker: async_sessionmaker[AsyncSession], job_id: uuid.UUID, exc: Exception
) -> None:
    try:
        async with session_scope(sessionmaker) as session:
            await executions.fail(
                session, job_id, f"could not be queued: {type(exc).__name__}: {exc}"
            )
    except Exception:
        log.exception("job_failure_not_recorded", job_id=str(job_id))
