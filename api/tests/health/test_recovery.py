"""A database that goes away and comes back, through a TCP proxy we can switch off.

The proxy stands in for stopping PostgreSQL: it drops every open connection and
refuses new ones, exactly what clients see when the server stops.
"""

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy.engine import make_url

from tests.proxy import SwitchableProxy
from wump.core.config import Settings
from wump.main import create_app

pytestmark = pytest.mark.postgres


@pytest.fixture
async def proxied(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, SwitchableProxy]]:
    url = make_url(settings.database_url)
    proxy = SwitchableProxy(url.host or "127.0.0.1", url.port or 5432)
    await proxy.start()
    proxied_url = url.set(host="127.0.0.1", port=proxy.port)
    app = create_app(
        settings.model_copy(
            update={"database_url": proxied_url.render_as_string(hide_password=False)}
        )
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client, proxy
    with contextlib.suppress(AssertionError, RuntimeError):
        await proxy.stop()


async def test_outage_degrades_within_two_seconds_and_recovers_on_its_own(
    proxied: tuple[httpx.AsyncClient, SwitchableProxy],
) -> None:
    client, proxy = proxied
    assert (await client.get("/health")).json()["status"] == "healthy"

    await proxy.stop()
    started = time.perf_counter()
    health = await client.get("/health")
    health_seconds = time.perf_counter() - started
    started = time.perf_counter()
    ready = await client.get("/health/ready")
    ready_seconds = time.perf_counter() - started

    assert health.status_code == 200
    assert health.json()["status"] == "degraded"
    assert ready.status_code == 503
    # The contract: an outage shows within 2 s (the check budget is 1 s).
    assert health_seconds < 2
    assert ready_seconds < 2

    await proxy.start()
    deadline = time.perf_counter() + 10
    status = "degraded"
    while time.perf_counter() < deadline and status != "healthy":
        status = (await client.get("/health")).json()["status"]
        await asyncio.sleep(0.1)
    assert status == "healthy"
    assert (await client.get("/health/ready")).status_code == 200
