import io
import logging
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel

from tests.logs import wump_formatter


class Echo(BaseModel):
    text: str


@pytest.fixture
def echo_app(app: FastAPI) -> FastAPI:
    @app.post("/t/echo")
    async def echo(body: Echo) -> Echo:
        return body

    return app


async def test_api_responses_carry_security_headers(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")

    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["content-security-policy"].startswith("default-src 'none'")
    assert "strict-transport-security" not in response.headers


async def test_hsts_is_sent_over_https(started_app: FastAPI) -> None:
    transport = httpx.ASGITransport(app=started_app)
    async with httpx.AsyncClient(transport=transport, base_url="https://test") as client:
        response = await client.get("/health/live")
    assert "max-age=" in response.headers["strict-transport-security"]


async def test_docs_csp_lets_swagger_and_redoc_load(client: httpx.AsyncClient) -> None:
    for path in ("/docs", "/redoc"):
        response = await client.get(path)
        csp = response.headers["content-security-policy"]
        assert response.status_code == 200
        assert "https://cdn.jsdelivr.net" in csp
        assert "'unsafe-inline'" in csp


async def test_declared_oversized_body_is_refused_with_413(
    echo_app: FastAPI, client: httpx.AsyncClient
) -> None:
    big = "x" * (1024 * 1024 + 1)

    response = await client.post("/t/echo", json={"text": big})

    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert "limit" in response.json()["detail"]
    assert response.headers["x-request-id"]


async def test_streamed_oversized_body_is_refused_with_413(
    echo_app: FastAPI, client: httpx.AsyncClient
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(40):
            yield b"x" * 65536

    response = await client.post(
        "/t/echo", content=chunks(), headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 413


async def test_small_bodies_pass(echo_app: FastAPI, client: httpx.AsyncClient) -> None:
    response = await client.post("/t/echo", json={"text": "hello"})
    assert response.status_code == 200
    assert response.json() == {"text": "hello"}


async def test_overlong_url_is_refused_with_414(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/packages", params={"q": "a" * 5000})

    assert response.status_code == 414
    assert response.headers["content-type"] == "application/problem+json"


async def test_api_keys_never_reach_the_logs(client: httpx.AsyncClient) -> None:
    key = "wump_ab12cd34_" + "S" * 43
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(wump_formatter())
    logging.getLogger().addHandler(handler)
    try:
        await client.get("/api/v1/admin/keys", headers={"X-API-Key": key})
        await client.get("/api/v1/admin/keys", headers={"Authorization": f"Bearer {key}"})
        await client.get(f"/api/v1/admin/keys?api_key={key}")
    finally:
        logging.getLogger().removeHandler(handler)

    output = stream.getvalue()
    assert "request" in output
    assert "S" * 43 not in output
