"""Access policy and rate limits, through the HTTP API."""

import asyncio
import dataclasses
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from tests.auth.conftest import ClientFactory, KeyFactory
from wump.auth import service
from wump.auth.ratelimit import COST_CSV_EXPORT, COST_JOB_TRIGGER
from wump.auth.schemas import Scope
from wump.core.config import AuthMode
from wump.core.db import session_scope
from wump.core.deps import Resources
from wump.models import ApiKeyTier
from wump.models.base import utcnow


def _set_settings(app: FastAPI, **changes: object) -> None:
    resources: Resources = app.state.resources
    settings = resources.settings.model_copy(update=changes)
    app.state.resources = dataclasses.replace(resources, settings=settings)
    app.state.settings = settings


def _comparable(response: httpx.Response) -> dict[str, object]:
    body = response.json()
    return {k: v for k, v in body.items() if k not in {"request_id", "instance"}}


async def test_open_mode_serves_anonymous_callers_with_limit_headers(
    make_client: ClientFactory,
) -> None:
    response = await make_client().get("/api/v1/probe")

    assert response.status_code == 200
    assert response.json()["identity"].startswith("ip:10.")
    assert response.headers["x-ratelimit-limit"] == "30"
    assert response.headers["x-ratelimit-remaining"] == "29"
    assert 0 <= int(response.headers["x-ratelimit-reset"]) <= 60


async def test_anonymous_callers_are_limited_per_ip(make_client: ClientFactory) -> None:
    client = make_client()
    statuses = [(await client.get("/api/v1/probe")).status_code for _ in range(31)]
    other_ip = await make_client().get("/api/v1/probe")

    assert statuses[:30] == [200] * 30
    assert statuses[30] == 429
    assert other_ip.status_code == 200


async def test_over_the_limit_is_a_429_problem_with_retry_after(
    make_client: ClientFactory,
) -> None:
    client = make_client()
    for _ in range(30):
        await client.get("/api/v1/probe")

    response = await client.get("/api/v1/probe")

    assert response.status_code == 429
    assert response.headers["content-type"] == "application/problem+json"
    assert int(response.headers["retry-after"]) >= 1
    assert response.headers["x-ratelimit-remaining"] == "0"
    assert "30 requests per minute" in response.json()["detail"]


@pytest.mark.parametrize(
    ("tier", "limit"),
    [(ApiKeyTier.FREE, 60), (ApiKeyTier.STANDARD, 600), (ApiKeyTier.PREMIUM, 6000)],
)
async def test_a_key_raises_the_caller_to_its_tier(
    make_client: ClientFactory, issue_key: KeyFactory, tier: ApiKeyTier, limit: int
) -> None:
    issued = await issue_key(tier=tier)

    response = await make_client().get("/api/v1/probe", headers={"X-API-Key": issued.plaintext})

    assert response.status_code == 200
    assert response.json()["identity"] == f"key:{issued.record.prefix}"
    assert response.headers["x-ratelimit-limit"] == str(limit)


async def test_bearer_token_is_accepted_like_the_header(
    make_client: ClientFactory, issue_key: KeyFactory
) -> None:
    issued = await issue_key(rate_limit_per_minute=7)

    response = await make_client().get(
        "/api/v1/probe", headers={"Authorization": f"Bearer {issued.plaintext}"}
    )

    assert response.status_code == 200
    assert response.headers["x-ratelimit-limit"] == "7"


async def test_exports_and_job_triggers_cost_more(
    make_client: ClientFactory, issue_key: KeyFactory
) -> None:
    issued = await issue_key(tier=ApiKeyTier.STANDARD)
    client = make_client()
    headers = {"X-API-Key": issued.plaintext}

    plain = await client.get("/api/v1/probe", headers=headers)
    csv = await client.get("/api/v1/probe", params={"format": "csv"}, headers=headers)
    accept_csv = await client.get("/api/v1/probe", headers=headers | {"Accept": "text/csv"})
    job = await client.post("/api/v1/probe/job", headers=headers)

    remaining = [int(r.headers["x-ratelimit-remaining"]) for r in (plain, csv, accept_csv, job)]
    assert remaining[0] == 599
    assert remaining[1] == remaining[0] - COST_CSV_EXPORT
    assert remaining[2] == remaining[1] - COST_CSV_EXPORT
    assert remaining[3] == remaining[2] - COST_JOB_TRIGGER


async def test_every_credential_failure_gets_the_same_401(
    probe_app: FastAPI,
    make_client: ClientFactory,
    issue_key: KeyFactory,
    session: AsyncSession,
) -> None:
    _set_settings(probe_app, auth_mode=AuthMode.KEYS)
    revoked = await issue_key()
    expired = await issue_key()
    valid = await issue_key()
    await service.revoke(session, revoked.record.id)
    expired.record.expires_at = utcnow() - timedelta(minutes=1)
    await session.commit()
    wrong_secret = f"wump_{valid.record.prefix}_{'B' * 43}"
    credentials = {
        "missing": {},
        "unknown": {"X-API-Key": f"wump_00000000_{'C' * 43}"},
        "malformed": {"X-API-Key": "not-a-key"},
        "oversized": {"X-API-Key": "wump_" + "x" * 5000},
        "wrong secret": {"X-API-Key": wrong_secret},
        "expired": {"X-API-Key": expired.plaintext},
        "revoked": {"Authorization": f"Bearer {revoked.plaintext}"},
    }
    client = make_client()

    responses = {
        name: await client.get("/api/v1/probe", headers=h) for name, h in credentials.items()
    }

    assert {name: r.status_code for name, r in responses.items()} == dict.fromkeys(credentials, 401)
    bodies = [_comparable(response) for response in responses.values()]
    assert all(body == bodies[0] for body in bodies)
    assert all(r.headers["www-authenticate"] for r in responses.values())


async def test_keys_mode_locks_the_api_but_not_health_or_docs(
    probe_app: FastAPI, make_client: ClientFactory, issue_key: KeyFactory
) -> None:
    _set_settings(probe_app, auth_mode=AuthMode.KEYS)
    issued = await issue_key()
    client = make_client()

    assert (await client.get("/api/v1/probe")).status_code == 401
    assert (
        await client.get("/api/v1/probe", headers={"X-API-Key": issued.plaintext})
    ).status_code == 200
    for open_path in (
        "/health",
        "/health/live",
        "/health/ready",
        "/docs",
        "/redoc",
        "/openapi.json",
    ):
        assert (await client.get(open_path)).status_code == 200, open_path


async def test_admin_routes_need_the_admin_scope(
    make_client: ClientFactory, issue_key: KeyFactory
) -> None:
    reader = await issue_key(scopes=(Scope.READ,))
    client = make_client()

    anonymous = await client.get("/api/v1/admin/keys")
    forbidden = await client.get("/api/v1/admin/keys", headers={"X-API-Key": reader.plaintext})

    assert anonymous.status_code == 401
    assert forbidden.status_code == 403
    assert forbidden.headers["content-type"] == "application/problem+json"
    assert "admin" in forbidden.json()["detail"]


async def test_admin_api_runs_the_whole_key_lifecycle(
    make_client: ClientFactory, issue_key: KeyFactory
) -> None:
    admin = await issue_key(scopes=(Scope.READ, Scope.ADMIN))
    client = make_client()
    auth = {"X-API-Key": admin.plaintext}

    created = await client.post(
        "/api/v1/admin/keys",
        json={"name": "dashboard", "tier": "standard", "expires_in_days": 90},
        headers=auth,
    )
    assert created.status_code == 201
    new_key = created.json()["key"]
    key_id = created.json()["id"]
    assert created.json()["tier"] == "standard"
    assert (await client.get("/api/v1/probe", headers={"X-API-Key": new_key})).status_code == 200

    listed = await client.get("/api/v1/admin/keys", headers=auth)
    assert listed.status_code == 200
    assert new_key not in listed.text
    assert "key_hash" not in listed.text
    assert key_id in {item["id"] for item in listed.json()["items"]}

    rotated = await client.post(
        f"/api/v1/admin/keys/{key_id}/rotate", json={"grace_hours": 1}, headers=auth
    )
    assert rotated.status_code == 201
    newer_key = rotated.json()["key"]
    for key in (new_key, newer_key):
        assert (await client.get("/api/v1/probe", headers={"X-API-Key": key})).status_code == 200

    revoked = await client.delete(f"/api/v1/admin/keys/{key_id}", headers=auth)
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    assert (await client.get("/api/v1/probe", headers={"X-API-Key": new_key})).status_code == 401
    assert (await client.get("/api/v1/probe", headers={"X-API-Key": newer_key})).status_code == 200

    missing = await client.delete(
        "/api/v1/admin/keys/00000000-0000-0000-0000-000000000000", headers=auth
    )
    assert missing.status_code == 404
    bad_body = await client.post("/api/v1/admin/keys", json={"name": ""}, headers=auth)
    assert bad_body.status_code == 422


async def test_forwarded_for_is_ignored_unless_the_proxy_is_trusted(
    probe_app: FastAPI, make_client: ClientFactory
) -> None:
    client = make_client(ip="192.0.2.10")
    spoofed = await client.get("/api/v1/probe", headers={"X-Forwarded-For": "203.0.113.7"})
    _set_settings(probe_app, trusted_proxies=["192.0.2.0/24"])
    believed = await client.get(
        "/api/v1/probe", headers={"X-Forwarded-For": "203.0.113.7, 192.0.2.11"}
    )

    assert spoofed.json()["identity"] == "ip:192.0.2.10"
    assert believed.json()["identity"] == "ip:203.0.113.7"


async def test_concurrent_requests_let_through_exactly_the_limit(
    committing_app: FastAPI,
) -> None:
    resources: Resources = committing_app.state.resources
    async with session_scope(resources.sessionmaker) as session:
        issued = await service.create(
            session,
            pepper=resources.settings.api_key_pepper,
            name="concurrency",
            tier=ApiKeyTier.FREE,
            scopes=[Scope.READ],
            rate_limit_per_minute=60,
        )
    headers = {"X-API-Key": issued.plaintext}
    transport = httpx.ASGITransport(app=committing_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        responses = await asyncio.gather(
            *(client.get("/api/v1/probe", headers=headers) for _ in range(200))
        )

    statuses = [response.status_code for response in responses]
    assert statuses.count(200) == 60
    assert statuses.count(429) == 140
