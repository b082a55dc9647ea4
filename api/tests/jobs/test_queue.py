"""The queue's guarantees: after-commit sends, retries of transient failures only,
duplicate deliveries, timeouts, the in-process background mode and the schedules."""

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from taskiq.schedule_sources import LabelScheduleSource

from tests.jobs.conftest import (
    Configure,
    RunJob,
    fake_registry,
    job_records,
    job_settings,
)
from tests.jobs.network import FakeNetwork, Reply
from wump.core import migrations
from wump.core.config import Environment, Settings
from wump.core.db import session_scope
from wump.core.deps import Resources
from wump.jobs import catalog, runner
from wump.jobs.broker import build_broker
from wump.jobs.queue import enqueue
from wump.jobs.schedules import CRONS, build_scheduler
from wump.main import create_app
from wump.models import JobExecution, JobStatus, Repository

SBOM = r"/github/repos/acme/weather/dependency-graph/sbom"


async def test_a_job_queued_in_a_rolled_back_transaction_is_never_sent(
    resources: Resources, session: AsyncSession, network: FakeNetwork
) -> None:
    async def queue_then_fail() -> None:
        async with session_scope(resources.sessionmaker) as scoped:
            await enqueue(
                scoped,
                resources.sessionmaker,
                resources.jobs,
                "scan.repository",
                {"full_name": "acme/weather"},
            )
            raise RuntimeError("the request failed after queueing")

    with pytest.raises(RuntimeError):
        await queue_then_fail()

    assert await job_records(session) == []
    assert network.requests == []


async def test_a_job_that_cannot_be_sent_is_recorded_as_failed(
    resources: Resources, session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Unreachable(Exception):
        pass

    async def broken_send(*_: Any) -> None:
        raise Unreachable("Valkey is down")

    monkeypatch.setattr(resources.jobs, "send", broken_send)
    async with session_scope(resources.sessionmaker) as scoped:
        execution = await enqueue(scoped, resources.sessionmaker, resources.jobs, "cleanup", {})

    [record] = await job_records(session)
    assert record.id == execution.id
    assert record.status == JobStatus.FAILED
    assert record.error_message == "could not be queued: Unreachable: Valkey is down"


async def test_the_queue_retries_a_transient_failure(
    api: httpx.AsyncClient,
    admin_headers: dict[str, str],
    session: AsyncSession,
    network: FakeNetwork,
) -> None:
    network.fail(SBOM, *[Reply(503, {"message": "unavailable"})] * 3)

    await api.post(
        "/api/v1/jobs",
        json={"type": "scan.repository", "args": {"full_name": "acme/weather"}},
        headers=admin_headers,
    )

    [record] = await job_records(session, "scan.repository")
    assert (record.status, record.attempts, record.error_message) == (
        JobStatus.COMPLETED,
        2,
        None,
    )


async def test_the_queue_does_not_retry_a_permanent_failure(
    api: httpx.AsyncClient,
    admin_headers: dict[str, str],
    session: AsyncSession,
    network: FakeNetwork,
) -> None:
    network.fail(SBOM, Reply(451, {"message": "Unavailable For Legal Reasons"}))

    await api.post(
        "/api/v1/jobs",
        json={"type": "scan.repository", "args": {"full_name": "acme/weather"}},
        headers=admin_headers,
    )

    [record] = await job_records(session, "scan.repository")
    assert (record.status, record.attempts) == (JobStatus.FAILED, 1)
    assert record.error_message == (
        "ProviderError: github: answered 451 for dependency graph SBOM of acme/weather"
    )
    assert len(network.seen(SBOM)) == 1


async def test_a_duplicate_delivery_of_a_finished_job_is_not_run_again(
    resources: Resources, run_job: RunJob, session: AsyncSession, network: FakeNetwork
) -> None:
    first = await run_job("scan.repository", full_name="acme/weather")
    requests = len(network.requests)

    again = await runner.execute(
        resources, "scan.repository", {"full_name": "acme/weather"}, job_id=first.job_id
    )

    assert again.status is JobStatus.COMPLETED
    assert len(network.requests) == requests
    [record] = await job_records(session, "scan.repository")
    assert record.attempts == 1


async def test_a_message_for_a_job_with_no_record_fails_without_running(
    resources: Resources, network: FakeNetwork
) -> None:
    with pytest.raises(runner.JobFailed, match="has no record"):
        await runner.execute(
            resources,
            "scan.repository",
            {"full_name": "acme/weather"},
            job_id="6f1d3c2e-0000-4000-8000-000000000000",
        )

    assert network.requests == []


async def test_a_message_with_invalid_arguments_is_recorded_as_failed(
    resources: Resources, session: AsyncSession
) -> None:
    with pytest.raises(runner.JobFailed):
        await runner.execute(resources, "scan.repository", {"full_name": "not a repository"})

    [record] = await job_records(session, "scan.repository")
    assert record.status == JobStatus.FAILED
    assert record.error_message is not None
    assert record.error_message.startswith("invalid arguments for scan.repository")


async def test_a_job_past_its_timeout_is_stopped_and_recorded_as_failed(
    run_job: RunJob, session: AsyncSession, configure: Configure, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(job_timeout_seconds=1)

    async def stuck(*_: Any) -> Any:
        await asyncio.sleep(30)

    definition = catalog.JOBS["cleanup"]
    monkeypatch.setitem(catalog.JOBS, "cleanup", dataclasses.replace(definition, run=stuck))

    with pytest.raises(runner.JobFailed, match="did not finish within 1 s"):
        await run_job("cleanup")

    [record] = await job_records(session, "cleanup")
    assert (record.status, record.attempts) == (JobStatus.FAILED, 1)


def test_retry_delay_doubles_with_jitter_and_honours_retry_after(settings: Settings) -> None:
    tuned = settings.model_copy(
        update={"job_retry_delay_seconds": 10.0, "job_retry_max_delay_seconds": 300.0}
    )

    def lowest(attempt: int, retry_after: float | None = None) -> float:
        return runner.retry_delay(tuned, attempt, retry_after, jitter=lambda: 0.0)

    def highest(attempt: int, retry_after: float | None = None) -> float:
        return runner.retry_delay(tuned, attempt, retry_after, jitter=lambda: 1.0)

    assert (lowest(1), highest(1)) == (5.0, 10.0)
    assert (lowest(2), highest(2)) == (10.0, 20.0)
    assert lowest(3, retry_after=90.0) == 90.0
    assert highest(20) == 300.0
    assert lowest(1, retry_after=3600.0) == 300.0


async def test_schedules_are_read_from_the_task_labels(settings: Settings) -> None:
    broker = build_broker(settings)
    source = LabelScheduleSource(broker)
    await source.startup()

    schedules = {task.task_name: task for task in await source.get_schedules()}

    assert {name: task.cron for name, task in schedules.items()} == {
        "refresh.tracked": "0 2 * * *",
        "enrich.organizations": "0 3 * * 0",
        "cleanup": "0 4 1 * *",
        "rollups.rescore": "5 0 * * *",
    }
    assert {task.cron_offset for task in schedules.values()} == {"UTC"}
    assert len(CRONS) == len(schedules)


@pytest.fixture
async def background_app(
    settings: Settings, tmp_path: Path, network: FakeNetwork
) -> AsyncIterator[FastAPI]:
    """The embedded default: jobs run in the background of the API process, on a
    database of their own (the test transaction cannot be shared across tasks)."""
    database = f"sqlite+aiosqlite:///{tmp_path}/background.db"
    app = create_app(job_settings(settings, job_mode="background", database_url=database))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=network.transport()) as http,
    ):
        resources: Resources = app.state.resources
        await migrations.upgrade(resources.engine)
        app.state.resources = dataclasses.replace(
            resources, providers=fake_registry(resources.settings, network, http)
        )
        yield app


async def test_background_mode_answers_first_and_runs_the_job_after(
    background_app: FastAPI,
) -> None:
    resources: Resources = background_app.state.resources
    transport = httpx.ASGITransport(app=background_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as api:
        response = await api.post("/api/v1/packages/pypi/requests/refresh")
        assert response.json()["status"] == "pending"

        await resources.jobs.drain()
        job = (await api.get(f"/api/v1/jobs/{response.json()['id']}")).json()

    assert job["status"] == "completed"
    async with session_scope(resources.sessionmaker) as session:
        names = set((await session.execute(select(Repository.full_name))).scalars())
        scans = await session.execute(
            select(JobExecution.status).where(JobExecution.job_type == "scan.organization")
        )
        assert list(scans.scalars()) == [JobStatus.COMPLETED] * 3
    assert names == {"psf/requests-html", "home-assistant/core", "someone/requests-fork"}


def test_the_embedded_queue_runs_nothing_by_default_in_tests(settings: Settings) -> None:
    assert settings.effective_job_mode == "off"
    development = settings.model_copy(update={"environment": Environment.DEVELOPMENT})
    assert development.effective_job_mode == "background"
    assert development.model_copy(update={"job_mode": "inline"}).effective_job_mode == "inline"


async def test_a_scheduled_job_records_itself_when_it_runs(
    resources: Resources, session: AsyncSession
) -> None:
    scheduler = build_scheduler(resources.jobs.broker)
    [source] = scheduler.sources
    await source.startup()
    [cleanup] = [task for task in await source.get_schedules() if task.task_name == "cleanup"]

    # What `wump scheduler` does when the cron expression matches.
    await scheduler.on_ready(source, cleanup)

    [record] = await job_records(session, "cleanup")
    assert (record.status, record.attempts, record.args) == (JobStatus.COMPLETED, 1, {})
