"""The same faults, served to every provider: each must retry what is transient,
stop on what is not, and keep secrets out of errors and health records."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.providers.conftest import NOW, Script, Sleeps, load, script
from wump.core.config import Settings
from wump.ingest.identity import Ecosystem
from wump.providers.base import (
    HealthRecorder,
    ProviderError,
    ProviderNotFound,
    ProviderTransientError,
    RetryPolicy,
)
from wump.providers.depsdev import DepsDevProvider
from wump.providers.ecosystems import EcosystemsProvider
from wump.providers.github import GitHubProvider, build_github_client
from wump.providers.librariesio import LibrariesIoProvider

GITHUB_TOKEN = "ghp_" + "Z9y8X7w6V5u4T3s2R1q0P9o8N7m6L5k4J3i2"
LIBRARIES_IO_KEY = "0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d"
SECRETS = (GITHUB_TOKEN, LIBRARIES_IO_KEY)


@dataclass(frozen=True)
class Case:
    """How to build one provider over a script and make one representative call."""

    build: Callable[[Script, httpx.AsyncClient, RetryPolicy, HealthRecorder], Any]
    call: Callable[[Any], Awaitable[Any]]
    body: Any


def _github(
    handler: Script, _: httpx.AsyncClient, policy: RetryPolicy, health: HealthRecorder
) -> Any:
    settings = Settings(_env_file=None, github_token=GITHUB_TOKEN)
    github = build_github_client(settings, transport=httpx.MockTransport(handler))
    return GitHubProvider(github, token=GITHUB_TOKEN, policy=policy, health=health)


def _ecosystems(
    _: Script, client: httpx.AsyncClient, policy: RetryPolicy, health: HealthRecorder
) -> Any:
    return EcosystemsProvider(client, mailto="ops@example.org", policy=policy, health=health)


def _librariesio(
    _: Script, client: httpx.AsyncClient, policy: RetryPolicy, health: HealthRecorder
) -> Any:
    return LibrariesIoProvider(client, api_key=LIBRARIES_IO_KEY, policy=policy, health=health)


def _depsdev(
    _: Script, client: httpx.AsyncClient, policy: RetryPolicy, health: HealthRecorder
) -> Any:
    return DepsDevProvider(client, policy=policy, health=health)


CASES = {
    "github": Case(
        _github, lambda p: p.owner_profile("octocat"), load("github", "users_octocat.json")
    ),
    "ecosystems": Case(
        _ecosystems,
        lambda p: p.package(Ecosystem.PYPI, "requests"),
        load("ecosystems", "registries_package.json"),
    ),
    "librariesio": Case(
        _librariesio,
        lambda p: p.project(Ecosystem.PYPI, "requests"),
        load("librariesio", "project.json"),
    ),
    "depsdev": Case(
        _depsdev,
        lambda p: p.version(Ecosystem.PYPI, "requests", "2.32.3"),
        load("depsdev", "get_version.json"),
    ),
}


@dataclass
class Run:
    handler: Script
    health: HealthRecorder
    sleeps: Sleeps
    call: Callable[[], Awaitable[Any]]


@dataclass
class Harness:
    """Builds a provider over scripted steps; `body` is a good answer for its call."""

    case: Case
    client: Callable[[Script], httpx.AsyncClient]
    policy: RetryPolicy
    sleeps: Sleeps

    @property
    def body(self) -> Any:
        return self.case.body

    def __call__(self, *steps: Any) -> Run:
        handler = script(*steps)
        health = HealthRecorder(clock=lambda: NOW, secrets=SECRETS)
        provider = self.case.build(handler, self.client(handler), self.policy, health)
        return Run(handler, health, self.sleeps, lambda: self.case.call(provider))


@pytest.fixture(params=sorted(CASES))
def make_run(
    request: pytest.FixtureRequest,
    http_client: Callable[[Script], httpx.AsyncClient],
    policy: RetryPolicy,
    sleeps: Sleeps,
) -> Harness:
    return Harness(CASES[request.param], http_client, policy, sleeps)


async def test_server_errors_are_retried_until_one_succeeds(make_run: Harness) -> None:
    body = make_run.body
    run = make_run(httpx.Response(500), httpx.Response(502), httpx.Response(200, json=body))

    assert await run.call() is not None
    assert len(run.handler.requests) == 3
    # Jittered exponential backoff: 1s then 2s at most, at least half of each.
    assert run.sleeps.delays == [0.75, 1.5]
    assert run.health.retries == 2
    assert run.health.successes == 1
    assert run.health.failures == 0


async def test_three_server_errors_give_up_with_a_transient_error(
    make_run: Harness,
) -> None:
    run = make_run(httpx.Response(503), httpx.Response(502), httpx.Response(500))

    with pytest.raises(ProviderTransientError) as caught:
        await run.call()

    assert caught.value.status == 500
    assert len(run.handler.requests) == 3
    assert run.health.failures == 1
    assert run.health.last_error_type == "ProviderTransientError"


async def test_too_many_requests_honours_retry_after(make_run: Harness) -> None:
    body = make_run.body
    run = make_run(
        httpx.Response(429, headers={"Retry-After": "7"}), httpx.Response(200, json=body)
    )

    await run.call()

    assert run.sleeps.delays == [7.0]


async def test_forbidden_with_retry_after_is_a_secondary_rate_limit(
    make_run: Harness,
) -> None:
    body = make_run.body
    limited = httpx.Response(
        403,
        json={"message": "You have exceeded a secondary rate limit."},
        headers={"Retry-After": "12"},
    )
    run = make_run(limited, httpx.Response(200, json=body))

    await run.call()

    assert run.sleeps.delays == [12.0]
    assert len(run.handler.requests) == 2


async def test_retry_after_beyond_the_cap_is_raised_at_once(make_run: Harness) -> None:
    run = make_run(httpx.Response(429, headers={"Retry-After": "900"}))

    with pytest.raises(ProviderTransientError) as caught:
        await run.call()

    assert caught.value.retry_after == 900.0
    assert run.sleeps.delays == []
    assert len(run.handler.requests) == 1


async def test_timeout_is_retried(make_run: Harness) -> None:
    body = make_run.body
    run = make_run(httpx.ReadTimeout, httpx.Response(200, json=body))

    await run.call()

    assert len(run.handler.requests) == 2
    assert len(run.sleeps.delays) == 1


async def test_repeated_timeouts_end_in_a_transient_error(make_run: Harness) -> None:
    run = make_run(httpx.ConnectTimeout, httpx.ReadTimeout, httpx.ReadTimeout)

    with pytest.raises(ProviderTransientError, match="timed out"):
        await run.call()


async def test_truncated_json_is_an_error_and_not_retried(make_run: Harness) -> None:
    body = make_run.body
    cut = httpx.Response(200, json=body).content[:40]
    run = make_run(httpx.Response(200, content=cut, headers={"Content-Type": "application/json"}))

    with pytest.raises(ProviderError) as caught:
        await run.call()

    assert not isinstance(caught.value, ProviderTransientError)
    assert len(run.handler.requests) == 1
    assert run.sleeps.delays == []
    assert run.health.failures == 1


async def test_missing_thing_is_not_found_and_not_retried(make_run: Harness) -> None:
    run = make_run(httpx.Response(404, json={"message": "Not Found"}))

    with pytest.raises(ProviderNotFound):
        await run.call()

    assert len(run.handler.requests) == 1
    # The provider answered; it is healthy.
    assert run.health.failures == 0
    assert run.health.successes == 1


async def test_other_client_errors_are_not_retried(make_run: Harness) -> None:
    run = make_run(httpx.Response(422, json={"message": "Validation Failed"}))

    with pytest.raises(ProviderError) as caught:
        await run.call()

    assert caught.value.status == 422
    assert not isinstance(caught.value, ProviderTransientError)
    assert len(run.handler.requests) == 1


async def test_unexpected_shape_is_an_error(make_run: Harness) -> None:
    run = make_run(httpx.Response(200, json={"unexpected": True}))

    with pytest.raises(ProviderError, match="unexpected shape"):
        await run.call()


async def test_secrets_never_reach_errors_or_health(make_run: Harness) -> None:
    run = make_run(httpx.ConnectError, httpx.ReadTimeout, httpx.Response(401, json={}))

    with pytest.raises(ProviderError) as caught:
        await run.call()

    text = f"{caught.value} {caught.value!r} {caught.value.message}"
    snapshot = run.health.snapshot(name="any", configured=True, capabilities=())
    for secret in SECRETS:
        assert secret not in text
        assert secret not in snapshot.model_dump_json()
    assert snapshot.last_error is not None
    assert snapshot.last_error.status == 401
