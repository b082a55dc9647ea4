"""What the job system looks like from outside: worker heartbeats and the queue's depth.

Each `wump worker` writes a heartbeat to Valkey every `JOB_HEARTBEAT_SECONDS`
(a key that expires after three missed beats) with its counts and its provider
health records, so `GET /health/jobs` can list live workers and
`GET /api/v1/providers` can add up what every worker has seen of the providers.
"""

import asyncio
import contextlib
import os
import socket
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from pydantic import BaseModel, Field, ValidationError
from redis.asyncio import Redis
from redis.exceptions import RedisError
from taskiq import TaskiqMessage, TaskiqMiddleware, TaskiqResult
from taskiq_redis import RedisStreamBroker

from wump.core.config import Settings
from wump.jobs.queue import JobQueue
from wump.models.base import utcnow
from wump.providers.base import ProviderHealth
from wump.providers.registry import ProviderRegistry

log = structlog.get_logger(__name__)

# A worker that missed this many beats is considered gone.
MISSED_BEATS = 3


class WorkerBeat(BaseModel):
    """One worker process, as its last heartbeat described it."""

    id: str = Field(description="The worker's consumer name in the queue.")
    hostname: str
    pid: int
    started_at: datetime
    heartbeat_at: datetime
    running: int = Field(description="Jobs running in the worker right now.")
    finished: int = Field(description="Jobs (attempts) it finished since it started.")
    failed: int = Field(description="Of those, how many raised (retries included).")
    providers: list[ProviderHealth] = Field(default_factory=list)


class WorkerCounts(TaskiqMiddleware):
    """Counts the jobs a worker runs, for its heartbeat."""

    def __init__(self) -> None:
        super().__init__()
        self.running = 0
        self.finished = 0
        self.failed = 0
        self.started_at = utcnow()

    def pre_execute(self, message: TaskiqMessage) -> TaskiqMessage:
        self.running += 1
        return message

    def post_execute(self, message: TaskiqMessage, result: TaskiqResult[Any]) -> None:
        self.running -= 1
        self.finished += 1
        self.failed += result.is_err


def key_prefix(settings: Settings) -> str:
    return f"{settings.cache_prefix}:jobs:{settings.job_queue_name}:worker:"


def worker_id(queue: JobQueue) -> str:
    if isinstance(queue.broker, RedisStreamBroker):
        return queue.broker.consumer_name
    return f"{socket.gethostname()}:{os.getpid()}"


def _beat(queue: JobQueue, counts: WorkerCounts, providers: ProviderRegistry) -> WorkerBeat:
    return WorkerBeat(
        id=worker_id(queue),
        hostname=socket.gethostname(),
        pid=os.getpid(),
        started_at=counts.started_at,
        heartbeat_at=utcnow(),
        running=counts.running,
        finished=counts.finished,
        failed=counts.failed,
        providers=providers.health(),
    )


async def heartbeat(
    redis: Redis,
    queue: JobQueue,
    settings: Settings,
    counts: WorkerCounts,
    providers: ProviderRegistry,
) -> None:
    """Write this worker's heartbeat until cancelled; a Valkey hiccup skips a beat."""
    interval = settings.job_heartbeat_seconds
    key = key_prefix(settings) + worker_id(queue)
    ttl_ms = max(int(interval * MISSED_BEATS * 1000), 1000)
    try:
        while True:
            payload = _beat(queue, counts, providers).model_dump_json()
            try:
                await redis.set(key, payload, px=ttl_ms)
            except (RedisError, OSError) as exc:
                log.warning("worker_heartbeat_failed", error=type(exc).__name__)
            await asyncio.sleep(interval)
    finally:
        # A worker that stops cleanly leaves the list at once.
        with contextlib.suppress(RedisError, OSError):
            await redis.delete(key)


async def workers(queue: JobQueue, settings: Settings) -> list[WorkerBeat]:
    """Every worker whose heartbeat has not expired, oldest first."""
    redis = queue.redis()
    if redis is None:
        return []
    try:
        async with redis:
            keys = [key async for key in redis.scan_iter(match=key_prefix(settings) + "*")]
            values = await redis.mget(keys) if keys else []
    except (RedisError, OSError) as exc:
        log.warning("worker_heartbeats_unreadable", error=type(exc).__name__)
        return []
    beats = []
    for value in values:
        if value is None:
            continue
        try:
            beats.append(WorkerBeat.model_validate_json(value))
        except ValidationError:
            continue
    return sorted(beats, key=lambda beat: beat.started_at)


@dataclass(frozen=True, slots=True)
class Depth:
    waiting: int | None
    in_progress: int | None


async def depth(queue: JobQueue) -> Depth:
    """Jobs not yet taken by any worker, and jobs taken but not finished (acknowledged)."""
    redis = queue.redis()
    if redis is None or not isinstance(queue.broker, RedisStreamBroker):
        return Depth(None, None)
    group = queue.broker.consumer_group_name
    async with redis:
        try:
            groups = await redis.xinfo_groups(queue.broker.queue_name)
        except RedisError:
            # No stream yet: nothing was ever queued.
            return Depth(0, 0)
    for info in groups:
        if _text(info.get("name")) == group:
            lag = info.get("lag")
            return Depth(int(lag) if lag is not None else None, int(info.get("pending") or 0))
    return Depth(0, 0)


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
