"""Jobs run through the app's own queue, with the providers faked at the network edge.

`jobs_app` is the app with the in-process queue running each job to its end
before the call that queued it returns (`JOB_MODE=inline`), bound to the test's
transaction like every other test, and with providers whose HTTP goes to a
`FakeNetwork`. Provider retries do not sleep here; job retries wait 0 s.
"""

import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.jobs.network import FAST_BASE, FakeNetwork, provider_settings
from wump.auth import service as key_service
from wump.auth.schemas import Scope
from wump.core.cache import Cache
from wump.core.config import Settings
from wump.core.deps import Resources
from wump.jobs import runner
from wump.main import create_app
from wump.models import ApiKeyTier, JobExecution
from wump.providers.base import RetryPolicy
from wump.providers.github import build_github_client
from wump.providers.registry import ProviderRegistry, build_registry

GITHUB_TOKEN = "ghp_" + "J0bsT3stT0ken0nlyF0rTheFakeNetw0rk000"
LIBRARIES_IO_KEY = "f" * 32


async def no_sleep(_: float) -> None:
    return None


def job_settings(base: Settings, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "github_token": GITHUB_TOKEN,
        "libraries_io_api_key": LIBRARIES_IO_KEY,
        "job_mode": "inline",
        "job_retry_delay_seconds": 0.0,
        "job_retry_max_delay_seconds": 0.0,
        # Several refreshes (20 requests each) in one test stay under the limit.
        "rate_limit_anonymous_per_minute": 1000,
        "valkey_url": "",
        **provider_settings(FAST_BASE),
        **overrides,
    }
    return base.model_copy(update=values)


def fake_registry(
    settings: Settings, network: FakeNetwork, client: httpx.AsyncClient
) -> ProviderRegistry:
    github = build_github_client(settings, transport=network.transport())
    policy = RetryPolicy(attempts=settings.provider_max_attempts, sleep=no_sleep)
    return build_registry(settings, client, github=github, policy=policy)


@pytest.fixture
def network() -> FakeNetwork:
    return FakeNetwork()


@pytest.fixture
def jobs_settings(settings: Settings) -> Settings:
    return job_settings(settings)


@pytest.fixture
async def jobs_app(
    jobs_settings: Settings,
    network: FakeNetwork,
    sessionmaker: async_sessionmaker[AsyncSession],
    cache: Cache,
) -> AsyncIterator[FastAPI]:
    app = create_app(jobs_settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=network.transport()) as http,
    ):
        resources: Resources = app.state.resources
        app.state.resources = dataclasses.replace(
            resources,
            sessionmaker=sessionmaker,
            cache=cache,
            providers=fake_registry(jobs_settings, network, http),
        )
        yield app


@pytest.fixture
def resources(jobs_app: FastAPI) -> Resources:
    return jobs_app.state.resources  # type: ignore[no-any-return]


@pytest.fixture
async def api(jobs_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=jobs_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


@pytest.fixture
async def admin_headers(session: AsyncSession, settings: Settings) -> dict[str, str]:
    issued = await key_service.create(
        session,
        pepper=settings.api_key_pepper,
        name="jobs-admin",
        tier=ApiKeyTier.PREMIUM,
        scopes=[Scope.READ, Scope.ADMIN],
    )
    await session.commit()
    return {"X-API-Key": issued.plaintext}


RunJob = Callable[..., Awaitable[runner.Outcome]]


@pytest.fixture
def run_job(jobs_app: FastAPI) -> RunJob:
    """Run a job in the test's process the way `wump jobs run` does, retries included."""

    async def run(job_type: str, **args: str) -> runner.Outcome:
        return await runner.run_inline(jobs_app.state.resources, job_type, args)

    return run


Configure = Callable[..., None]


@pytest.fixture
def configure(jobs_app: FastAPI) -> Configure:
    """Change settings of the running app (and so of the jobs it runs)."""

    def change(**updates: Any) -> None:
        resources: Resources = jobs_app.state.resources
        settings = resources.settings.model_copy(update=updates)
        jobs_app.state.resources = dataclasses.replace(resources, settings=settings)

    return change


async def job_records(session: AsyncSession, job_type: str | None = None) -> list[JobExecution]:
    statement = select(JobExecution).order_by(JobExecution.created_at)
    if job_type is not None:
        statement = statement.where(JobExecution.job_type == job_type)
    result = await session.execute(statement.execution_options(populate_existing=True))
    return list(result.scalars())
