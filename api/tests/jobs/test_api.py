"""The jobs API, the package refresh, GET /providers and /health/jobs."""

import uuid
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.builders import create_registry_package
from tests.jobs.conftest import job_records
from tests.jobs.network import FakeNetwork, Reply
from wump.auth.ratelimit import COST_JOB_TRIGGER
from wump.core.deps import Resources
from wump.models import JobExecution, JobStatus, Package
from wump.models.base import utcnow

REFRESH = "/api/v1/packages/pypi/requests/refresh"


async def test_refresh_answers_202_with_the_discovery_job(
    api: httpx.AsyncClient, session: AsyncSession
) -> None:
    response = await api.post(REFRESH)

    assert response.status_code == 202
    job = response.json()
    assert job["type"] == "discover.dependents"
    assert job["args"] == {"purl": "pkg:pypi/requests"}
    assert job["status"] == "pending"
    # The in-process queue (inline here) ran it once the request had committed.
    [record] = await job_records(session, "discover.dependents")
    assert str(record.id) == job["id"]
    assert record.status == JobStatus.COMPLETED
    followed = await api.get(f"/api/v1/jobs/{job['id']}")
    assert followed.json()["status"] == "completed"
    assert followed.json()["records_processed"] == 3


async def test_refresh_within_the_hour_returns_the_same_job(
    api: httpx.AsyncClient, session: AsyncSession
) -> None:
    first = (await api.post(REFRESH)).json()
    again = await api.post("/api/v1/packages/pypi/Requests/refresh")

    assert again.status_code == 202
    assert again.json()["id"] == first["id"]
    assert again.json()["status"] == "completed"
    assert len(await job_records(session, "discover.dependents")) == 1


async def test_refresh_after_the_dedupe_window_queues_a_new_job(
    api: httpx.AsyncClient, session: AsyncSession
) -> None:
    first = (await api.post(REFRESH)).json()
    record = await session.get(JobExecution, uuid.UUID(first["id"]))
    assert record is not None
    record.completed_at = utcnow() - timedelta(hours=2)
    await session.commit()

    again = await api.post(REFRESH)

    assert again.json()["id"] != first["id"]


async def test_refresh_returns_a_job_still_queued(
    api: httpx.AsyncClient, session: AsyncSession, resources: Resources
) -> None:
    resources.jobs.sends = False
    first = (await api.post(REFRESH)).json()

    again = (await api.post(REFRESH)).json()

    assert first["status"] == again["status"] == "pending"
    assert again["id"] == first["id"]


async def test_refresh_records_the_package_as_requested(
    api: httpx.AsyncClient, session: AsyncSession
) -> None:
    await api.post("/api/v1/packages/npm/@types/node/refresh")

    package = await session.scalar(
        select(Package)
        .where(Package.purl == "pkg:npm/%40types/node")
        .execution_options(populate_existing=True)
    )
    assert package is not None
    assert package.last_requested_at is not None


async def test_refresh_of_an_unknown_ecosystem_is_a_404_problem(api: httpx.AsyncClient) -> None:
    response = await api.post("/api/v1/packages/cobol/requests/refresh")

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert "pypi" in response.json()["supported_ecosystems"]


async def test_refresh_costs_the_job_trigger_rate(api: httpx.AsyncClient) -> None:
    response = await api.post(REFRESH)
    remaining = int(response.headers["x-ratelimit-remaining"])
    limit = int(response.headers["x-ratelimit-limit"])

    assert limit - remaining == COST_JOB_TRIGGER


async def test_refresh_route_leaves_the_package_routes_alone(
    api: httpx.AsyncClient, session: AsyncSession
) -> None:
    await create_registry_package(session, name="refresh")
    await session.commit()

    # GET on the same path is the package detail route, reading "requests/refresh" as
    # a name, and a package literally named "refresh" is still reachable.
    assert (await api.get(REFRESH)).status_code == 404
    assert (await api.get("/api/v1/packages/pypi/refresh")).status_code == 200


async def test_queueing_a_job_needs_the_admin_scope(api: httpx.AsyncClient) -> None:
    body = {"type": "cleanup", "args": {}}

    assert (await api.post("/api/v1/jobs", json=body)).status_code == 401


async def test_admin_queues_a_job(
    api: httpx.AsyncClient, admin_headers: dict[str, str], session: AsyncSession
) -> None:
    response = await api.post(
        "/api/v1/jobs",
        json={"type": "scan.repository", "args": {"full_name": "acme/weather"}},
        headers=admin_headers,
    )

    assert response.status_code == 202
    job = response.json()
    assert job["args"] == {"full_name": "acme/weather"}
    [record] = await job_records(session, "scan.repository")
    assert record.status == JobStatus.COMPLETED
    assert record.meta["queued_by"] == "api"


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"type": "mine.bitcoin", "args": {}}, ["body", "type"]),
        ({"type": "discover.dependents", "args": {}}, ["body", "args", "purl"]),
        ({"type": "discover.dependents", "args": {"purl": "requests"}}, ["body", "args", "purl"]),
        ({"type": "scan.repository", "args": {"full_name": "../x"}}, ["body", "args", "full_name"]),
        ({"type": "cleanup", "args": {"force": "yes"}}, ["body", "args", "force"]),
        (
            {"type": "enrich.organizations", "args": {"stale_after": "soon"}},
            ["body", "args", "stale_after"],
        ),
    ],
    ids=["unknown-type", "missing-arg", "bad-purl", "bad-repository", "extra-arg", "bad-duration"],
)
async def test_invalid_job_is_a_422_problem(
    api: httpx.AsyncClient,
    admin_headers: dict[str, str],
    session: AsyncSession,
    body: dict[str, object],
    where: list[str],
) -> None:
    response = await api.post("/api/v1/jobs", json=body, headers=admin_headers)

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert where in [error["loc"] for error in response.json()["errors"]]
    assert await job_records(session) == []


async def test_unknown_job_id_is_a_404_problem(api: httpx.AsyncClient) -> None:
    response = await api.get(f"/api/v1/jobs/{uuid.uuid4()}")

    assert response.status_code == 404
    assert response.json()["type"].endswith("/not-found")


async def test_job_list_filters_and_pages(
    api: httpx.AsyncClient, admin_headers: dict[str, str], session: AsyncSession
) -> None:
    now = utcnow()
    for n in range(5):
        session.add(
            JobExecution(
                job_type="scan.repository",
                status=JobStatus.FAILED if n % 2 else JobStatus.COMPLETED,
                args={"full_name": f"acme/repo-{n}"},
                error_message="ProviderError: github: answered 451" if n % 2 else None,
                created_at=now - timedelta(minutes=n),
            )
        )
    session.add(JobExecution(job_type="cleanup", status=JobStatus.FAILED, created_at=now))
    await session.commit()

    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, str | int] = {"status": "failed", "type": "scan.repository", "limit": 1}
        if cursor:
            params["cursor"] = cursor
        page = (await api.get("/api/v1/jobs", params=params, headers=admin_headers)).json()
        assert page["total"] == 2
        seen += [item["args"]["full_name"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert seen == ["acme/repo-1", "acme/repo-3"]


async def test_job_list_flags_stale_jobs(
    api: httpx.AsyncClient, admin_headers: dict[str, str], session: AsyncSession
) -> None:
    session.add(
        JobExecution(
            job_type="scan.repository",
            status=JobStatus.RUNNING,
            args={"full_name": "acme/lost"},
            attempts=1,
            started_at=utcnow() - timedelta(hours=2),
        )
    )
    await session.commit()

    page = (await api.get("/api/v1/jobs", headers=admin_headers)).json()

    assert [item["stale"] for item in page["items"]] == [True]


async def test_job_list_refuses_a_tampered_cursor(
    api: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await api.get(
        "/api/v1/jobs", params={"cursor": "not-a-cursor"}, headers=admin_headers
    )

    assert response.status_code == 400


async def test_job_list_needs_the_admin_scope(api: httpx.AsyncClient) -> None:
    assert (await api.get("/api/v1/jobs")).status_code == 401


async def test_providers_report_their_health_after_a_job(
    api: httpx.AsyncClient, network: FakeNetwork
) -> None:
    network.fail(r"/ecosystems/repos/.*/dependent_repositories", Reply(500, {"message": "x"}))
    await api.post(REFRESH)

    response = await api.get("/api/v1/providers")

    assert response.status_code == 200
    body = response.json()
    assert body["processes"] == 1
    providers = {item["name"]: item for item in body["items"]}
    assert [item["name"] for item in body["items"]] == [
        "ecosystems",
        "librariesio",
        "depsdev",
        "github",
    ]
    ecosystems = providers["ecosystems"]
    assert ecosystems["retries"] == 1
    assert ecosystems["failures"] == 0
    assert ecosystems["successes"] >= 1
    assert ecosystems["last_success_at"] is not None
    assert providers["github"]["configured"] is True
    assert providers["github"]["requests"] >= 3


async def test_jobs_health_in_process(
    api: httpx.AsyncClient, session: AsyncSession, resources: Resources
) -> None:
    session.add(
        JobExecution(
            job_type="scan.repository",
            status=JobStatus.FAILED,
            args={"full_name": "acme/x"},
            attempts=3,
            error_message="ProviderTransientError: github: rate limited for repository acme/x",
        )
    )
    await session.commit()

    response = await api.get("/health/jobs")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "healthy"
    assert body["queue"] == {
        "backend": "memory",
        "name": resources.settings.job_queue_name,
        "runs_jobs": True,
        "waiting": None,
        "in_progress": None,
    }
    assert body["workers"] == []
    [failure] = body["recent_failures"]
    assert failure["type"] == "scan.repository"
    assert failure["attempts"] == 3


async def test_health_has_no_jobs_check_without_a_shared_queue(api: httpx.AsyncClient) -> None:
    body = (await api.get("/health")).json()

    assert body["checks"]["jobs"] is None
    assert body["status"] == "healthy"
