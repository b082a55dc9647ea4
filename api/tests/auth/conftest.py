import random
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Annotated

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, Query
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import IS_POSTGRES
from wump.auth import service
from wump.auth.dependencies import CallerDep, current_caller
from wump.auth.ratelimit import COST_EXTENSION, COST_JOB_TRIGGER
from wump.auth.schemas import Scope
from wump.core import migrations
from wump.core.config import Settings
from wump.core.db import session_scope
from wump.core.deps import Resources
from wump.main import create_app
from wump.models import ApiKey, ApiKeyTier


@pytest.fixture
def probe_app(app: FastAPI) -> FastAPI:
    """The app plus two plain /api/v1 routes, so limits can be tested on ordinary reads."""
    app.include_router(_probe_router(), prefix="/api/v1", dependencies=[Depends(current_caller)])
    return app


def _probe_router() -> APIRouter:
    router = APIRouter()

    @router.get("/probe")
    async def probe(caller: CallerDep, format: Annotated[str, Query()] = "json") -> dict[str, str]:
        return {"identity": caller.identity}

    @router.post("/probe/job", openapi_extra={COST_EXTENSION: COST_JOB_TRIGGER})
    async def job(caller: CallerDep) -> dict[str, str]:
        return {"identity": caller.identity}

    return router


def random_ip() -> str:
    # A fresh client address per test keeps anonymous counters apart on a shared Redis.
    return f"10.{random.randint(0, 255)}.{random.randint(0, 255)}.{random.randint(1, 254)}"


ClientFactory = Callable[..., httpx.AsyncClient]


@pytest.fixture
async def make_client(probe_app: FastAPI, started_app: FastAPI) -> AsyncIterator[ClientFactory]:
    clients: list[httpx.AsyncClient] = []

    def make(ip: str | None = None) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=started_app, client=(ip or random_ip(), 40000))
        client = httpx.AsyncClient(transport=transport, base_url="http://test")
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


KeyFactory = Callable[..., Awaitable[service.IssuedKey]]


@pytest.fixture
def issue_key(session: AsyncSession, settings: Settings) -> KeyFactory:
    async def issue(
        *,
        scopes: tuple[Scope, ...] = (Scope.READ,),
        tier: ApiKeyTier = ApiKeyTier.FREE,
        rate_limit_per_minute: int | None = None,
    ) -> service.IssuedKey:
        issued = await service.create(
            session,
            pepper=settings.api_key_pepper,
            name="test",
            tier=tier,
            scopes=list(scopes),
            rate_limit_per_minute=rate_limit_per_minute,
        )
        await session.commit()
        return issued

    return issue


@pytest.fixture
async def committing_app(settings: Settings, tmp_path: Path) -> AsyncIterator[FastAPI]:
    """An app whose requests commit for real, for tests that run requests concurrently.

    The per-test transaction of the other fixtures shares one connection, which
    concurrent requests cannot. This app gets its own database (a SQLite file, or
    the integration lane's PostgreSQL) and cleans up the keys it made.
    """
    url = settings.database_url if IS_POSTGRES else f"sqlite+aiosqlite:///{tmp_path}/wump.db"
    app = create_app(settings.model_copy(update={"database_url": url}))
    app.include_router(_probe_router(), prefix="/api/v1", dependencies=[Depends(current_caller)])
    async with app.router.lifespan_context(app):
        resources: Resources = app.state.resources
        await migrations.upgrade(resources.engine)
        yield app
        async with session_scope(resources.sessionmaker) as session:
            await session.execute(delete(ApiKey).where(ApiKey.name == "concurrency"))
