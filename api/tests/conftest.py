"""Test fixtures shared by both lanes.

The fast lane (default) runs on in-memory SQLite and FakeRedis. The integration
lane runs the same suite on real PostgreSQL and Redis, chosen with
`WUMP_TEST_DATABASE_URL` and `WUMP_TEST_VALKEY_URL`. Each test runs inside an
outer transaction that is rolled back afterwards, so tests never see each
other's data.
"""

import dataclasses
import os
import uuid
from collections.abc import AsyncIterator

import fakeredis
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from wump.auth.ratelimit import RateLimiter, shared_storage
from wump.core import migrations
from wump.core.cache import Cache, RedisBackend, redis_client
from wump.core.config import Environment, Settings
from wump.core.db import create_engine
from wump.core.deps import Resources
from wump.main import create_app

DATABASE_URL = os.environ.get("WUMP_TEST_DATABASE_URL", "sqlite+aiosqlite://")
VALKEY_URL = os.environ.get("WUMP_TEST_VALKEY_URL", "")
IS_POSTGRES = DATABASE_URL.startswith("postgresql")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip_pg = pytest.mark.skip(reason="needs WUMP_TEST_DATABASE_URL=postgresql+asyncpg://...")
    skip_redis = pytest.mark.skip(reason="needs WUMP_TEST_VALKEY_URL=redis://...")
    for item in items:
        if item.get_closest_marker("postgres") and not IS_POSTGRES:
            item.add_marker(skip_pg)
        if item.get_closest_marker("redis") and not VALKEY_URL:
            item.add_marker(skip_redis)


def pytest_report_header() -> str:
    lane = "integration (PostgreSQL + Redis)" if IS_POSTGRES else "fast (SQLite + FakeRedis)"
    return f"wump test lane: {lane}"


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings(
        _env_file=None,
        environment=Environment.TEST,
        database_url=DATABASE_URL,
        valkey_url=VALKEY_URL,
        log_format="console",
        health_check_timeout_seconds=1.0,
    )


@pytest.fixture(scope="session")
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(settings)
    # Start from an empty schema so the migrations themselves are under test.
    await migrations.downgrade(engine, "base")
    await migrations.upgrade(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
async def connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    async with engine.connect() as connection:
        transaction = await connection.begin()
        yield connection
        await transaction.rollback()


@pytest.fixture
def sessionmaker(connection: AsyncConnection) -> async_sessionmaker[AsyncSession]:
    # Commits inside the code under test release a SAVEPOINT; the outer
    # transaction is rolled back when the test ends.
    return async_sessionmaker(
        bind=connection,
        expire_on_commit=False,
        autoflush=False,
        join_transaction_mode="create_savepoint",
    )


@pytest.fixture
async def session(sessionmaker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    async with sessionmaker() as session:
        yield session


@pytest.fixture
async def cache() -> AsyncIterator[Cache]:
    # A unique prefix per test keeps tests apart on a shared real Redis.
    prefix = f"wumptest-{uuid.uuid4().hex[:8]}"
    if VALKEY_URL:
        backend = RedisBackend(redis_client(VALKEY_URL))
    else:
        backend = RedisBackend(fakeredis.FakeAsyncRedis())
    cache = Cache(backend, prefix=prefix)
    yield cache
    await cache.close()


def test_limiter() -> RateLimiter:
    """Real Redis counters in the integration lane, under a prefix of this test's own."""
    if not VALKEY_URL:
        return RateLimiter()
    prefix = f"wumptest-{uuid.uuid4().hex[:8]}:ratelimit"
    return RateLimiter(shared_storage(VALKEY_URL, timeout_seconds=1.0, key_prefix=prefix))


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    return create_app(settings)


@pytest.fixture
async def started_app(
    app: FastAPI, sessionmaker: async_sessionmaker[AsyncSession], cache: Cache
) -> AsyncIterator[FastAPI]:
    async with app.router.lifespan_context(app):
        resources: Resources = app.state.resources
        limiter = test_limiter()
        app.state.resources = dataclasses.replace(
            resources, sessionmaker=sessionmaker, cache=cache, limiter=limiter
        )
        yield app
        await limiter.close()


@pytest.fixture
async def client(started_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=started_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client
