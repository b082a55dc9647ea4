"""Dependency checks with a hard time budget each, run concurrently."""

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import structlog
from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from wump.core.cache import Cache
from wump.core.config import Settings
from wump.core.db import session_scope
from wump.health.schemas import (
    CheckResult,
    CheckStatus,
    FailedJob,
    HealthChecks,
    JobsCheckResult,
    JobsHealth,
    OverallStatus,
    QueueInfo,
    WorkerInfo,
)
from wump.jobs import monitor
from wump.jobs import repository as jobs_repository
from wump.jobs.queue import JobQueue
from wump.models.base import utcnow

log = structlog.get_logger(__name__)

# How many failed jobs /health/jobs shows.
RECENT_FAILURES = 10


async def _timed(name: str, probe: Callable[[], Awaitable[None]], budget: float) -> CheckResult:
    started = time.perf_counter()
    error: str | None = None
    try:
        await asyncio.wait_for(probe(), budget)
    except TimeoutError:
        error = f"no answer within {budget:g}s"
    except Exception as exc:
        error = type(exc).__name__
    elapsed = round((time.perf_counter() - started) * 1000, 2)
    if error:
        log.warning("health_check_failed", check=name, error=error)
    return CheckResult(
        status=CheckStatus.UNHEALTHY if error else CheckStatus.HEALTHY,
        response_time_ms=elapsed,
        timestamp=datetime.now(UTC),
        error=error,
    )


async def check_database(engine: AsyncEngine, budget: float) -> CheckResult:
    async def probe() -> None:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    result = await _timed("database", probe, budget)
    result.backend = engine.dialect.name
    return result


async def check_cache(cache: Cache, budget: float) -> CheckResult:
    result = await _timed("cache", cache.ping, budget)
    result.backend = cache.kind
    return result


async def run_checks(
    engine: AsyncEngine,
    cache: Cache,
    budget: float,
    *,
    jobs: tuple[JobQueue, Settings] | None = None,
) -> HealthChecks:
    """The database and cache checks, and the jobs check when `jobs` is given, at once."""
    database, cache_result, jobs_result = await asyncio.gather(
        check_database(engine, budget),
        check_cache(cache, budget),
        check_jobs(*jobs, budget) if jobs is not None else _nothing(),
    )
    return HealthChecks(database=database, cache=cache_result, jobs=jobs_result)


async def _nothing() -> None:
    return None


async def check_jobs(queue: JobQueue, settings: Settings, budget: float) -> JobsCheckResult:
    """The queue's Valkey answers; the live workers are counted along the way."""
    live: list[monitor.WorkerBeat] = []

    async def probe() -> None:
        redis = queue.redis()
        assert redis is not None
        async with redis:
            await redis.ping()
        live.extend(await monitor.workers(queue, settings))

    result = await _timed("jobs", probe, budget)
    healthy = result.status is CheckStatus.HEALTHY
    return JobsCheckResult(
        **result.model_dump(exclude={"backend"}),
        backend=queue.backend,
        workers=len(live) if healthy else None,
    )


async def jobs_health(
    queue: JobQueue,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    budget: float,
) -> JobsHealth:
    """Workers, queue depth, recent failures and stale jobs."""
    now = utcnow()
    workers, depth, error = await _queue_state(queue, settings, budget)
    async with session_scope(sessionmaker) as session:
        failures = await jobs_repository.recent_failures(
            session, since=now - timedelta(days=1), limit=RECENT_FAILURES
        )
        stale = await jobs_repository.count_stale(session, settings=settings, now=now)
    shared = queue.backend == "valkey"
    healthy = (error is None and bool(workers)) if shared else queue.sends
    return JobsHealth(
        status=OverallStatus.HEALTHY if healthy else OverallStatus.DEGRADED,
        queue=QueueInfo(
            backend=queue.backend,
            name=queue.name,
            runs_jobs=queue.sends,
            waiting=depth.waiting,
            in_progress=depth.in_progress,
        ),
        workers=[WorkerInfo.model_validate(beat.model_dump()) for beat in workers],
        recent_failures=[FailedJob.model_validate(job, from_attributes=True) for job in failures],
        stale_jobs=stale,
        error=error,
    )


async def _queue_state(
    queue: JobQueue, settings: Settings, budget: float
) -> tuple[list[monitor.WorkerBeat], monitor.Depth, str | None]:
    try:
        workers = await asyncio.wait_for(monitor.workers(queue, settings), budget)
        depth = await asyncio.wait_for(monitor.depth(queue), budget)
    except (TimeoutError, RedisError, OSError) as exc:
        return [], monitor.Depth(None, None), type(exc).__name__
    return workers, depth, None
