from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.providers.conftest import Script, load, ok, script
from wump.core.config import Settings
from wump.ingest.identity import Ecosystem
from wump.providers.base import (
    Capability,
    HealthRecorder,
    ProviderError,
    ProviderHealth,
    ProviderNotFound,
    ProviderTransientError,
    RetryPolicy,
)
from wump.providers.ecosystems import EcosystemsProvider
from wump.providers.github import build_github_client
from wump.providers.librariesio import LibrariesIoProvider
from wump.providers.registry import ProviderRegistry, build_registry


@dataclass
class FakeProvider:
    """A provider whose answer is set by the test; `asked` counts the calls."""

    name: str
    capabilities: frozenset[Capability] = frozenset({Capability.DEPENDENTS})
    configured: bool = True
    answer: Any = None
    asked: int = 0
    health_record: HealthRecorder = field(default_factory=HealthRecorder)

    def health(self) -> ProviderHealth:
        return self.health_record.snapshot(
            name=self.name, configured=self.configured, capabilities=self.capabilities
        )

    async def fetch(self) -> Any:
        self.asked += 1
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


async def ask(provider: FakeProvider) -> Any:
    return await provider.fetch()


def registry(*providers: FakeProvider, order: tuple[str, ...] = ()) -> ProviderRegistry:
    return ProviderRegistry(providers, order=order)


async def test_first_provider_with_data_answers() -> None:
    first = FakeProvider("a", answer=["repo-1"])
    second = FakeProvider("b", answer=["repo-2"])

    result = await registry(first, second).fetch_with_fallback(Capability.DEPENDENTS, ask)

    assert result.value == ["repo-1"]
    assert result.provider == "a"
    assert second.asked == 0


async def test_transient_failure_falls_back_to_the_next_provider() -> None:
    first = FakeProvider("a", answer=ProviderTransientError("a", "answered 503"))
    second = FakeProvider("b", answer=["repo-2"])

    result = await registry(first, second).fetch_with_fallback(Capability.DEPENDENTS, ask)

    assert result.value == ["repo-2"]
    assert result.provider == "b"
    assert [(a.provider, a.outcome) for a in result.attempts] == [("a", "transient"), ("b", "ok")]


async def test_empty_or_missing_data_falls_back() -> None:
    empty = FakeProvider("a", answer=[])
    none = FakeProvider("b", answer=None)
    missing = FakeProvider("c", answer=ProviderNotFound("c", "gone"))
    last = FakeProvider("d", answer={"count": 3})

    result = await registry(empty, none, missing, last).fetch_with_fallback(
        Capability.DEPENDENTS, ask
    )

    assert result.provider == "d"
    outcomes = [a.outcome for a in result.attempts]
    assert outcomes == ["empty", "empty", "not_found", "ok"]


async def test_order_comes_from_the_fallback_setting() -> None:
    first = FakeProvider("a", answer=["from-a"])
    second = FakeProvider("b", answer=["from-b"])

    result = await registry(first, second, order=("b", "a")).fetch_with_fallback(
        Capability.DEPENDENTS, ask
    )

    assert result.provider == "b"


async def test_only_providers_with_the_capability_are_asked() -> None:
    owners = FakeProvider("a", capabilities=frozenset({Capability.OWNER_ENRICHMENT}), answer=[1])
    dependents = FakeProvider("b", answer=[2])

    result = await registry(owners, dependents).fetch_with_fallback(Capability.DEPENDENTS, ask)

    assert result.provider == "b"
    assert owners.asked == 0


async def test_unconfigured_and_rate_limited_providers_are_skipped() -> None:
    unconfigured = FakeProvider("a", configured=False, answer=[1])
    limited = FakeProvider("b", answer=[2])
    reset = datetime.now(UTC) + timedelta(minutes=5)
    limited.health_record.observe(
        {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(reset.timestamp()))}
    )
    healthy = FakeProvider("c", answer=[3])

    result = await registry(unconfigured, limited, healthy).fetch_with_fallback(
        Capability.DEPENDENTS, ask
    )

    assert result.provider == "c"
    assert unconfigured.asked == limited.asked == 0
    assert [a.outcome for a in result.attempts] == ["skipped", "skipped", "ok"]
    assert "rate limited until" in result.attempts[1].detail


async def test_no_data_anywhere_is_an_empty_result() -> None:
    result = await registry(FakeProvider("a", answer=[]), FakeProvider("b")).fetch_with_fallback(
        Capability.DEPENDENTS, ask
    )

    assert result.value is None
    assert result.provider is None


async def test_all_failing_with_one_transient_raises_transient_with_shortest_wait() -> None:
    first = FakeProvider("a", answer=ProviderTransientError("a", "slow down", retry_after=900))
    second = FakeProvider("b", answer=ProviderTransientError("b", "slow down", retry_after=60))
    third = FakeProvider("c", answer=ProviderNotFound("c", "gone"))

    with pytest.raises(ProviderTransientError) as caught:
        await registry(first, second, third).fetch_with_fallback(Capability.DEPENDENTS, ask)

    assert caught.value.retry_after == 60


async def test_all_not_found_raises_not_found() -> None:
    first = FakeProvider("a", answer=ProviderNotFound("a", "gone"))
    second = FakeProvider("b", answer=ProviderNotFound("b", "gone"))

    with pytest.raises(ProviderNotFound):
        await registry(first, second).fetch_with_fallback(Capability.DEPENDENTS, ask)


async def test_permanent_errors_everywhere_raise_the_last() -> None:
    first = FakeProvider("a", answer=ProviderNotFound("a", "gone"))
    second = FakeProvider("b", answer=ProviderError("b", "answered 401", status=401))

    with pytest.raises(ProviderError) as caught:
        await registry(first, second).fetch_with_fallback(Capability.DEPENDENTS, ask)

    assert caught.value.status == 401


async def test_programming_errors_are_not_swallowed() -> None:
    broken = FakeProvider("a", answer=KeyError("oops"))

    with pytest.raises(KeyError):
        await registry(broken, FakeProvider("b", answer=[1])).fetch_with_fallback(
            Capability.DEPENDENTS, ask
        )


def test_unknown_name_in_the_order_is_refused() -> None:
    with pytest.raises(ValueError, match="nope"):
        registry(FakeProvider("a"), order=("a", "nope"))


def test_health_lists_every_provider_in_order() -> None:
    names = [h.name for h in registry(FakeProvider("a"), FakeProvider("b"), order=("b",)).health()]

    assert names == ["b", "a"]


async def test_build_registry_follows_settings(
    http_client: Callable[[Script], httpx.AsyncClient],
) -> None:
    settings = Settings(
        _env_file=None,
        provider_fallback_order="librariesio, ecosystems,depsdev,github",
        libraries_io_api_key="",
        github_token="",
    )

    built = build_registry(settings, http_client(script()))

    assert built.order == ["librariesio", "ecosystems", "depsdev", "github"]
    health = {h.name: h for h in built.health()}
    assert health["librariesio"].configured is False
    assert health["ecosystems"].configured is True
    assert health["github"].configured is False
    assert Capability.REPOSITORY_SCAN in health["github"].capabilities
    dependents = [p.name for p in built.providers_for(Capability.DEPENDENTS)]
    assert dependents == ["librariesio", "ecosystems"]


async def test_closing_the_registry_closes_the_github_pool(
    http_client: Callable[[Script], httpx.AsyncClient],
) -> None:
    closed: list[bool] = []

    class Transport(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            return httpx.Response(200, json=load("github", "users_octocat.json"))

        async def aclose(self) -> None:
            closed.append(True)

    settings = Settings(_env_file=None, github_token="")
    github = build_github_client(settings, transport=Transport())
    built = build_registry(settings, http_client(script()), github=github)

    # githubkit closes its per-request client; the pool must survive that.
    await github.arequest("GET", "/users/octocat")
    assert closed == []
    await built.aclose()

    assert closed == [True]


async def test_real_providers_fall_back_from_ecosystems_to_libraries_io(
    http_client: Callable[[Script], httpx.AsyncClient], policy: RetryPolicy
) -> None:
    def route(request: httpx.Request) -> httpx.Response:
        if request.url.host == "repos.ecosyste.ms":
            return httpx.Response(503)
        return ok(load("librariesio", "dependent_repositories.json"))

    handler = script(*([route] * 4))
    client = http_client(handler)
    ecosystems = EcosystemsProvider(client, policy=policy)
    librariesio = LibrariesIoProvider(client, api_key="k" * 32, policy=policy)
    providers = ProviderRegistry([ecosystems, librariesio], order=("ecosystems", "librariesio"))

    async def dependents(provider: Any) -> list[str] | None:
        match provider:
            case EcosystemsProvider():
                page = await provider.dependent_repositories(Ecosystem.PYPI, "requests")
                return [repo.full_name for repo in page.items]
            case LibrariesIoProvider():
                lio_page = await provider.dependent_repositories(Ecosystem.PYPI, "requests")
                return [repo.full_name for repo in lio_page.items]
        return None

    result = await providers.fetch_with_fallback(Capability.DEPENDENTS, dependents)

    assert result.provider == "librariesio"
    assert result.value == ["home-assistant/core", "someone/requests-fork"]
    hosts = [r.url.host for r in handler.requests]
    assert hosts == ["repos.ecosyste.ms"] * 3 + ["libraries.io"]
    assert ecosystems.health().failures == 1
    assert librariesio.health().successes == 1
