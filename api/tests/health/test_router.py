import asyncio
import dataclasses
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from wump.core.cache import Cache, MemoryBackend
from wump.core.config import Settings
from wump.core.db import create_engine
from wump.core.deps import Resources


async def test_health_reports_healthy_with_database_and_cache_checks(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/health")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "healthy"
    assert body["service"] == "wump-api"
    assert body["version"]
    for check in ("database", "cache"):
        assert body["checks"][check]["status"] == "healthy"
        assert body["checks"][check]["response_time_ms"] >= 0
        assert body["checks"][check]["timestamp"]


async def test_live_answers_while_process_is_up(client: httpx.AsyncClient) -> None:
    response = await client.get("/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "alive"}


async def test_ready_answers_200_when_database_reachable(client: httpx.AsyncClient) -> None:
    response = await client.get("/health/ready")
    assert response.status_code == 200
    assert response.json()["status"] == "ready"


class _DownBackend(MemoryBackend):
    async def ping(self) -> None:
        raise ConnectionError("cache is down")


class _HungBackend(MemoryBackend):
    async def ping(self) -> None:
        await asyncio.sleep(30)


@pytest.fixture
async def unreachable_database_client(
    started_app: FastAPI, settings: Settings
) -> AsyncIterator[httpx.AsyncClient]:
    # Port 9 (discard) on loopback: nothing listens, so connecting fails fast.
    url = (
        "postgresql+asyncpg://postgres@127.0.0.1:9/nothing"
        if settings.database_url.startswith("postgresql")
        else "sqlite+aiosqlite:////nonexistent-dir/wump.db"
    )
    engine = create_engine(settings.model_copy(update={"database_url": url}))
    resources: Resources = started_app.state.resources
    started_app.state.resources = dataclasses.replace(resources, engine=engine)
    transport = httpx.ASGITransport(app=started_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client
    await engine.dispose()


async def test_health_degrades_and_ready_fails_when_database_is_down(
    unreachable_database_client: httpx.AsyncClient,
) -> None:
    health = await unreachable_database_client.get("/health")
    ready = await unreachable_database_client.get("/health/ready")

    assert health.status_code == 200
    assert health.json()["status"] == "degraded"
    assert health.json()["checks"]["database"]["status"] == "unhealthy"
    assert health.json()["checks"]["database"]["error"]
    assert ready.status_code == 503
    assert ready.json()["status"] == "not_ready"


async def test_cache_outage_degrades_health_but_not_readiness(
    started_app: FastAPI, client: httpx.AsyncClient
) -> None:
    resources: Resources = started_app.state.resources
    started_app.state.resources = dataclasses.replace(resources, cache=Cache(_DownBackend()))

    health = await client.get("/health")
    ready = await client.get("/health/ready")

    assert health.json()["status"] == "degraded"
    assert health.json()["checks"]["cache"]["error"] == "ConnectionError"
    assert ready.status_code == 200


async def test_hung_dependency_cannot_hang_health(
    started_app: FastAPI, client: httpx.AsyncClient
) -> None:
    resources: Resources = started_app.state.resources
    fast = resources.settings.model_copy(update={"health_check_timeout_seconds": 0.2})
    started_app.state.resources = dataclasses.replace(
        resources, cache=Cache(_HungBackend()), settings=fast
    )

    response = await asyncio.wait_for(client.get("/health"), timeout=5)

    cache_check = response.json()["checks"]["cache"]
    assert cache_check["status"] == "unhealthy"
    assert "no answer within 0.2s" in cache_check["error"]
    assert cache_check["response_time_ms"] < 2000
