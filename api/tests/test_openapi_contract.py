"""The API honours its own OpenAPI document: schemathesis against `/openapi.json`.

Schemathesis generates requests for every operation from the published schema:
valid ones, invalid ones, and valid ones aimed at a seeded graph so that the
success paths run too. Each response must not be a 5xx and must match the
documented status codes, content types, headers and body schemas.

Cases are drawn first (Hypothesis, bounded and derandomized so CI is
reproducible) and then sent through the test client on the test's own event
loop, so they read the same seeded, rolled-back database as every other test.
The run is made twice: anonymously in the default `AUTH_MODE=open`, and with an
admin key in `AUTH_MODE=keys`, so the admin routes' success paths run too.
"""

import contextlib
import dataclasses
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy.ext.asyncio import AsyncSession

from tests.packages.conftest import app, build_graph
from wump.auth import service as key_service
from wump.auth.schemas import Scope
from wump.core.config import AuthMode
from wump.core.deps import Resources
from wump.models import ApiKeyTier

POSITIVE_EXAMPLES = 25
NEGATIVE_EXAMPLES = 10
SEEDED_EXAMPLES = 25
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# Known objects of the seeded graph, so generated filters run against real rows.
SEEDED_PATHS = {
    "ecosystem": "pypi",
    "name": "httpx",
    "login": "acme",
}
SEEDED_QUERIES = {
    "/api/v1/packages/lookup": {"purl": "pkg:pypi/httpx"},
    "/api/v1/search/packages": {"q": "http"},
    "/api/v1/search/organizations": {"q": "ac"},
}
AUTH_HEADERS = ("authorization", "x-api-key")
# Hundreds of anonymous requests a minute: the app without the anonymous rate limit.
__all__ = ["app"]


def _draw(strategy: Any, count: int) -> list[Case[Any]]:
    cases: list[Case[Any]] = []

    @settings(
        max_examples=count,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def collect(case: Case[Any]) -> None:
        cases.append(case)

    # No invalid input exists for an operation without parameters.
    with contextlib.suppress(Unsatisfiable):
        collect()
    return cases


def _cases(schema: Any) -> list[Case[Any]]:
    cases: list[Case[Any]] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        cases += _draw(operation.as_strategy(), POSITIVE_EXAMPLES)
        cases += _draw(operation.as_strategy(GenerationMode.NEGATIVE), NEGATIVE_EXAMPLES)
        seeded = _seeded_strategy(operation)
        if seeded is not None:
            cases += _draw(seeded, SEEDED_EXAMPLES)
    return cases


def _seeded_strategy(operation: Any) -> Any:
    known = {
        p.name: SEEDED_PATHS[p.name] for p in operation.path_parameters if p.name in SEEDED_PATHS
    }
    if known:
        return operation.as_strategy(path_parameters=known)
    if operation.path in SEEDED_QUERIES:
        return operation.as_strategy(query=SEEDED_QUERIES[operation.path])
    return None


async def _send(
    client: httpx.AsyncClient, case: Case[Any], credentials: dict[str, str]
) -> httpx.Response:
    headers = {
        name: value
        for name, value in (case.headers or {}).items()
        if name.lower() not in AUTH_HEADERS
    } | credentials
    return await client.request(
        case.method, case.formatted_path, params=case.query or None, headers=headers
    )


def _describe(case: Case[Any], response: httpx.Response, error: FailureGroup) -> str:
    return (
        f"{case.method} {case.formatted_path} query={case.query!r} -> "
        f"{response.status_code}: {'; '.join(str(e).splitlines()[0] for e in error.exceptions)}"
    )


async def _credentials(
    started_app: FastAPI, session: AsyncSession, *, keyed: bool
) -> dict[str, str]:
    if not keyed:
        return {}
    resources: Resources = started_app.state.resources
    settings = resources.settings.model_copy(update={"auth_mode": AuthMode.KEYS})
    started_app.state.resources = dataclasses.replace(resources, settings=settings)
    issued = await key_service.create(
        session,
        pepper=settings.api_key_pepper,
        name="contract",
        tier=ApiKeyTier.PREMIUM,
        scopes=[Scope.READ, Scope.ADMIN],
        rate_limit_per_minute=1_000_000,
    )
    await session.commit()
    return {"X-API-Key": issued.plaintext}


@pytest.mark.parametrize("keyed", [False, True], ids=["anonymous", "admin-key"])
async def test_every_operation_honours_the_openapi_contract(
    started_app: FastAPI, client: httpx.AsyncClient, session: AsyncSession, keyed: bool
) -> None:
    await build_graph(session)
    credentials = await _credentials(started_app, session, keyed=keyed)
    spec = (await client.get("/openapi.json")).json()
    schema = schemathesis.openapi.from_dict(spec)
    cases = _cases(schema)
    failures: list[str] = []
    statuses: dict[int, int] = {}

    for case in cases:
        response = await _send(client, case, credentials)
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        check: Callable[..., None] = case.validate_response
        try:
            check(response, checks=CHECKS)
        except FailureGroup as error:
            failures.append(_describe(case, response, error))

    assert not failures, f"{len(failures)} of {len(cases)} responses broke the contract:\n" + (
        "\n".join(failures[:15])
    )
    # The seeded cases must reach the success paths, not only the error handling.
    assert statuses.get(200, 0) > len(cases) // 4, statuses
    assert not any(status >= 500 for status in statuses)
