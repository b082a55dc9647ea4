from typing import Annotated

import httpx
import pytest
from fastapi import FastAPI, Query

from wump.core.deps import SessionDep
from wump.core.errors import Conflict, NotFound, Unavailable, WumpError
from wump.models import Package

PROBLEM = "application/problem+json"


@pytest.fixture
def routes(app: FastAPI) -> FastAPI:
    @app.get("/t/not-found")
    async def not_found() -> None:
        raise NotFound("No package pkg:pypi/nope is known.", extra={"suggestions": ["nope2"]})

    @app.get("/t/conflict")
    async def conflict() -> None:
        raise Conflict("Already there.")

    @app.get("/t/unavailable")
    async def unavailable() -> None:
        raise Unavailable("Try later.", headers={"Retry-After": "5"})

    @app.get("/t/validated")
    async def validated(limit: Annotated[int, Query(ge=1, le=500)] = 50) -> dict[str, int]:
        return {"limit": limit}

    @app.get("/t/crash")
    async def crash() -> None:
        raise RuntimeError("secret internals at /srv/db password=hunter2")

    @app.post("/t/duplicate")
    async def duplicate(session: SessionDep) -> None:
        for _ in range(2):
            session.add(Package(ecosystem="pypi", name="a", normalized_name="a", purl="pkg:pypi/a"))
            await session.flush()

    return app


@pytest.mark.parametrize(
    ("path", "status", "slug"),
    [
        ("/t/not-found", 404, "not-found"),
        ("/t/conflict", 409, "conflict"),
        ("/t/unavailable", 503, "unavailable"),
    ],
)
async def test_domain_errors_render_as_problem_json(
    routes: FastAPI, client: httpx.AsyncClient, path: str, status: int, slug: str
) -> None:
    response = await client.get(path)

    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["status"] == status
    assert body["type"].endswith(f"/{slug}")
    assert body["title"]
    assert body["detail"]
    assert body["instance"] == path
    assert body["request_id"] == response.headers["x-request-id"]


async def test_error_extensions_and_headers_reach_the_caller(
    routes: FastAPI, client: httpx.AsyncClient
) -> None:
    not_found = await client.get("/t/not-found")
    unavailable = await client.get("/t/unavailable")

    assert not_found.json()["suggestions"] == ["nope2"]
    assert unavailable.headers["retry-after"] == "5"


async def test_validation_errors_are_422_problems_naming_the_parameter(
    routes: FastAPI, client: httpx.AsyncClient
) -> None:
    response = await client.get("/t/validated", params={"limit": "9999"})

    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert "limit" in body["detail"]
    assert body["errors"][0]["loc"] == ["query", "limit"]


async def test_unknown_route_is_a_404_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/no/such/route")

    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    assert "/docs" in response.json()["detail"]


async def test_wrong_method_is_a_405_problem(client: httpx.AsyncClient) -> None:
    response = await client.delete("/health")

    assert response.status_code == 405
    assert response.headers["content-type"] == PROBLEM


async def test_unexpected_error_is_a_500_without_internals(
    routes: FastAPI, client: httpx.AsyncClient
) -> None:
    response = await client.get("/t/crash", headers={"X-Request-ID": "trace-me-123"})

    assert response.status_code == 500
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["x-request-id"] == "trace-me-123"
    text = response.text
    assert "hunter2" not in text
    assert "Traceback" not in text
    assert "RuntimeError" not in text
    assert response.json()["request_id"] == "trace-me-123"


async def test_integrity_error_maps_to_409_on_either_database(
    routes: FastAPI, client: httpx.AsyncClient
) -> None:
    response = await client.post("/t/duplicate")

    assert response.status_code == 409
    assert response.json()["detail"] == "A record with the same identity already exists."


def test_wump_error_defaults() -> None:
    error = WumpError("boom")
    assert error.status == 500
    assert NotFound("x").status == 404
    assert WumpError("x", status=418).status == 418
