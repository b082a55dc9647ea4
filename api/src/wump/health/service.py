"""Dependency checks with a hard time budget each, run concurrently."""

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from wump.core.cache import Cache
from wump.health.schemas import CheckResult, CheckStatus, HealthChecks

log = structlog.get_logger(__name__)


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


async def run_checks(engine: AsyncEngine, cache: Cache, budget: float) -> HealthChecks:
    database, cache_result = await asyncio.gather(
        check_database(engine, budget), check_cache(cache, budget)
    )
    return HealthChecks(database=database, cache=cache_result)
