"""Real workers on a real queue: `wump worker` subprocesses consuming a Valkey stream.

Integration lane only (PostgreSQL and Redis). The API runs in the test with the
Valkey queue; the workers are separate processes, pointed at a fake provider
network served over HTTP on 127.0.0.1. Everything is committed for real, so
each test wipes the graph tables of its own database before and after, and uses
queue and key names of its own on Redis.
"""

import asyncio
import os
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis
from sqlalchemy import delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from tests.conftest import DATABASE_URL, VALKEY_URL
from tests.jobs.conftest import GITHUB_TOKEN, LIBRARIES_IO_KEY
from tests.jobs.network import FakeNetwork, Reply, provider_settings, serve
from wump.auth import service as key_service
from wump.auth.schemas import Scope
from wump.core.config import Environment, Settings
from wump.core.db import session_scope
from wump.core.deps import Resources
from wump.main import create_app
from wump.models import ApiKey, ApiKeyTier, Dependency, DependencySource, JobExecution, Repository

pytestmark = [pytest.mark.redis, pytest.mark.postgres]

KEY_NAME = "jobs-worker-process"
GRAPH_TABLES = (
    "dependent_owners",
    "dependencies",
    "repositories",
    "organizations",
    "packages",
    "job_executions",
)
SBOM = r"/github/repos/acme/weather/dependency-graph/sbom"
SBOM_PACKAGES = 12


@dataclass
class Live:
    """The API in this process, and how to start worker processes next to it."""

    app: FastAPI
    api: httpx.AsyncClient
    network: FakeNetwork
    environment: dict[str, str]
    directory: Path
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def resources(self) -> Resources:
        return self.app.state.resources  # type: ignore[no-any-return]

    def start_worker(self) -> subprocess.Popen[bytes]:
        log = (self.directory / f"worker-{len(self.workers)}.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-c", "from wump.cli import main; main()", "worker"],
            env=self.environment,
            cwd=self.directory,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.workers.append(process)
        return process

    def logs(self) -> str:
        return "\n".join(path.read_text() for path in sorted(self.directory.glob("worker-*.log")))


def environment_of(settings: Settings) -> dict[str, str]:
    """The settings as the environment of a worker process."""
    names = (
        "database_url",
        "valkey_url",
        "cache_prefix",
        "github_token",
        "libraries_io_api_key",
        "github_api_url",
        "ecosystems_repos_url",
        "ecosystems_packages_url",
        "libraries_io_url",
        "deps_dev_url",
        "job_queue_name",
        "job_timeout_seconds",
        "job_redelivery_seconds",
        "job_heartbeat_seconds",
        "job_retry_delay_seconds",
        "job_retry_max_delay_seconds",
        "provider_max_attempts",
    )
    values = {name.upper(): str(getattr(settings, name)) for name in names}
    return {**os.environ, **values, "ENVIRONMENT": "test", "LOG_FORMAT": "console"}


async def wipe(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    async with session_scope(sessionmaker) as session:
        for table in GRAPH_TABLES:
            await session.execute(text(f"DELETE FROM {table}"))  # noqa: S608
        await session.execute(delete(ApiKey).where(ApiKey.name == KEY_NAME))


async def forget_keys(prefix: str) -> None:
    redis = Redis.from_url(VALKEY_URL)
    async with redis:
        for pattern in (f"{prefix}*", f"autoclaim:{prefix}*"):
            keys = [key async for key in redis.scan_iter(match=pattern)]
            if keys:
                await redis.delete(*keys)


@pytest.fixture
def network() -> Iterator[tuple[FakeNetwork, str]]:
    network = FakeNetwork()
    with serve(network) as base:
        yield network, base


@pytest.fixture
async def live(
    engine: AsyncEngine, settings: Settings, network: tuple[FakeNetwork, str], tmp_path: Path
) -> AsyncIterator[Live]:
    fake, base = network
    prefix = f"wumptest-{uuid.uuid4().hex[:10]}"
    live_settings = settings.model_copy(
        update={
            "environment": Environment.TEST,
            "database_url": DATABASE_URL,
            "valkey_url": VALKEY_URL,
            "cache_prefix": prefix,
            "job_queue_name": f"{prefix}:jobs",
            "github_token": GITHUB_TOKEN,
            "libraries_io_api_key": LIBRARIES_IO_KEY,
            "job_timeout_seconds": 4,
            "job_redelivery_seconds": 5,
            "job_heartbeat_seconds": 0.5,
            "job_retry_delay_seconds": 0.0,
            "job_retry_max_delay_seconds": 0.0,
            "provider_max_attempts": 1,
            "rate_limit_anonymous_per_minute": 1000,
            **provider_settings(base),
        }
    )
    app = create_app(live_settings)
    async with app.router.lifespan_context(app):
        resources: Resources = app.state.resources
        await wipe(resources.sessionmaker)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as api:
            state = Live(app, api, fake, environment_of(live_settings), tmp_path)
            try:
                yield state
            finally:
                for process in state.workers:
                    if process.poll() is None:
                        process.kill()
                        process.wait(10)
                await wipe(resources.sessionmaker)
    await forget_keys(prefix)


async def eventually(
    live: Live, check: Callable[[], Awaitable[bool]], *, seconds: float, what: str
) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}; worker logs:\n{live.logs()}")
        await asyncio.sleep(0.2)


async def job(live: Live, job_id: str) -> dict[str, Any]:
    response = await live.api.get(f"/api/v1/jobs/{job_id}")
    assert response.status_code == 200
    return response.json()  # type: ignore[no-any-return]


async def admin_headers(live: Live) -> dict[str, str]:
    async with session_scope(live.resources.sessionmaker) as session:
        issued = await key_service.create(
            session,
            pepper=live.resources.settings.api_key_pepper,
            name=KEY_NAME,
            tier=ApiKeyTier.PREMIUM,
            scopes=[Scope.READ, Scope.ADMIN],
        )
    return {"X-API-Key": issued.plaintext}


async def test_a_worker_process_runs_the_refresh_the_api_queued(live: Live) -> None:
    worker = live.start_worker()

    response = await live.api.post("/api/v1/packages/pypi/requests/refresh")
    assert response.status_code == 202
    job_id = response.json()["id"]

    async def finished() -> bool:
        return bool((await job(live, job_id))["status"] in {"completed", "failed"})

    await eventually(live, finished, seconds=30, what="the job to finish")
    record = await job(live, job_id)
    assert record["status"] == "completed", live.logs()
    assert record["attempts"] == 1
    assert record["records_processed"] == 3
    async with session_scope(live.resources.sessionmaker) as session:
        edges = await session.execute(
            select(Repository.full_name, Dependency.sources).join(
                Dependency, Dependency.repository_id == Repository.id
            )
        )
        assert dict(edges.all()) == {
            "psf/requests-html": DependencySource.ECOSYSTEMS.bit,
            "home-assistant/core": DependencySource.ECOSYSTEMS.bit,
            "someone/requests-fork": DependencySource.ECOSYSTEMS.bit,
        }

    # The follow-up scans went through the same queue to the same worker.
    async def scanned() -> bool:
        async with session_scope(live.resources.sessionmaker) as session:
            statuses = await session.execute(
                select(JobExecution.status).where(JobExecution.job_type == "scan.organization")
            )
            return sorted(statuses.scalars()) == ["completed"] * 3

    await eventually(live, scanned, seconds=30, what="the owner scans")
    assert live.network.seen("/github/users/home-assistant$")

    async def counted() -> bool:
        workers = (await live.api.get("/health/jobs")).json()["workers"]
        return [beat["finished"] for beat in workers] == [4]

    # The heartbeat is written every half second; give it one beat to catch up.
    await eventually(live, counted, seconds=10, what="a heartbeat counting four jobs")
    health = (await live.api.get("/health/jobs")).json()
    assert health["status"] == "healthy"
    assert health["queue"]["backend"] == "valkey"
    assert (health["queue"]["waiting"], health["queue"]["in_progress"]) == (0, 0)
    [beat] = health["workers"]
    assert (beat["pid"], beat["running"], beat["failed"]) == (worker.pid, 0, 0)
    checks = (await live.api.get("/health")).json()["checks"]
    assert (checks["jobs"]["status"], checks["jobs"]["workers"]) == ("healthy", 1)
    assert checks["jobs"]["backend"] == "valkey"
    providers = {p["name"]: p for p in (await live.api.get("/api/v1/providers")).json()["items"]}
    # The worker's provider requests are added up with the API's own (none).
    assert providers["github"]["requests"] >= 9
    assert providers["ecosystems"]["successes"] >= 1

    worker.send_signal(signal.SIGTERM)
    assert worker.wait(20) == 0, live.logs()
    assert (await live.api.get("/health/jobs")).json()["workers"] == []


async def test_a_worker_killed_mid_job_leaves_no_half_repository_and_the_job_is_redelivered(
    live: Live,
) -> None:
    gate = threading.Event()
    live.network.fail(SBOM, Reply(body={"sbom": {}}, hold=gate))
    first = live.start_worker()
    headers = await admin_headers(live)

    response = await live.api.post(
        "/api/v1/jobs",
        json={"type": "scan.repository", "args": {"full_name": "acme/weather"}},
        headers=headers,
    )
    job_id = response.json()["id"]
    # The worker has the repository's metadata and waits for its dependency graph.
    await asyncio.to_thread(live.network.holding.wait, 30)
    running = await job(live, job_id)
    assert (running["status"], running["attempts"]) == ("running", 1)
    depth = (await live.api.get("/health/jobs")).json()["queue"]
    assert (depth["waiting"], depth["in_progress"]) == (0, 1)

    first.send_signal(signal.SIGKILL)
    first.wait(10)
    gate.set()

    async with session_scope(live.resources.sessionmaker) as session:
        assert await session.scalar(select(func.count()).select_from(Repository)) == 0
        assert await session.scalar(select(func.count()).select_from(Dependency)) == 0

    live.start_worker()

    async def completed() -> bool:
        return bool((await job(live, job_id))["status"] == "completed")

    await eventually(live, completed, seconds=40, what="the redelivered job")
    record = await job(live, job_id)
    assert record["attempts"] == 2
    assert record["error_message"] is None
    async with session_scope(live.resources.sessionmaker) as session:
        edges = await session.scalar(select(func.count()).select_from(Dependency))
        assert edges == SBOM_PACKAGES
        repository = await session.scalar(select(Repository))
        assert repository is not None
        assert repository.etag == live.network.etag("acme/weather")


async def test_without_workers_the_queue_is_degraded_but_the_service_is_not(live: Live) -> None:
    response = await live.api.post("/api/v1/packages/pypi/requests/refresh")

    health = (await live.api.get("/health")).json()
    jobs = (await live.api.get("/health/jobs")).json()

    assert health["status"] == "healthy"
    assert (health["checks"]["jobs"]["status"], health["checks"]["jobs"]["workers"]) == (
        "healthy",
        0,
    )
    assert jobs["status"] == "degraded"
    assert jobs["workers"] == []
    assert (jobs["queue"]["waiting"], jobs["queue"]["in_progress"]) == (1, 0)
    assert (await job(live, response.json()["id"]))["status"] == "pending"
