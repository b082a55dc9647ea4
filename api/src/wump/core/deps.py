"""Request-scoped dependencies: the app's resources and the one session per request."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, cast

import httpx
from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from wump.auth.ratelimit import RateLimiter
from wump.core.cache import Cache
from wump.core.config import Settings
from wump.core.db import session_scope
from wump.jobs.queue import JobQueue
from wump.providers.registry import ProviderRegistry


@dataclass(frozen=True, slots=True)
class Resources:
    """What the lifespan opens and closes; there are no module-level clients."""

    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    cache: Cache
    http: httpx.AsyncClient
    limiter: RateLimiter
    # The data providers over `http`, and the job queue (see wump.jobs).
    providers: ProviderRegistry
    jobs: JobQueue


def get_resources(request: Request) -> Resources:
    return cast(Resources, request.app.state.resources)


def get_settings(request: Request) -> Settings:
    return cast(Settings, request.app.state.settings)


def get_sessionmaker(
    resources: Annotated[Resources, Depends(get_resources)],
) -> async_sessionmaker[AsyncSession]:
    return resources.sessionmaker


async def get_session(
    sessionmaker: Annotated[async_sessionmaker[AsyncSession], Depends(get_sessionmaker)],
) -> AsyncIterator[AsyncSession]:
    async with session_scope(sessionmaker) as session:
        yield session


def get_cache(resources: Annotated[Resources, Depends(get_resources)]) -> Cache:
    return resources.cache


# scope="function": the commit happens when the handler returns, before the
# response is sent, so a failed commit is still reported to the caller.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
CacheDep = Annotated[Cache, Depends(get_cache)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
ResourcesDep = Annotated[Resources, Depends(get_resources)]
