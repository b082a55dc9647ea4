from collections.abc import Callable

import httpx
import pytest

from tests.providers.conftest import Script, Sleeps, load, ok, script
from wump.ingest.identity import Ecosystem
from wump.providers.base import (
    HealthRecorder,
    ProviderError,
    ProviderNotFound,
    ProviderTransientError,
    RetryPolicy,
    SlidingWindowLimiter,
    UnsupportedRequest,
)
from wump.providers.librariesio import LibrariesIoProvider

API_KEY = "5f2b8e1c9d7a4b3e8f6c2a1d0e9b7c4a"

MakeLibrariesIo = Callable[..., LibrariesIoProvider]


@pytest.fixture
def make_librariesio(
    http_client: Callable[[Script], httpx.AsyncClient], policy: RetryPolicy, health: HealthRecorder
) -> MakeLibrariesIo:
    def make(
        handler: Script, *, api_key: str = API_KEY, limiter: SlidingWindowLimiter | None = None
    ) -> LibrariesIoProvider:
        health.secrets = (api_key,)
        return LibrariesIoProvider(
            http_client(handler), api_key=api_key, policy=policy, health=health, limiter=limiter
        )

    return make


def lio(name: str) -> object:
    return load("librariesio", name)


async def test_project_sends_api_key_and_reads_sourcerank(
    make_librariesio: MakeLibrariesIo,
) -> None:
    handler = script(ok(lio("project.json")))

    project = await make_librariesio(handler).project(Ecosystem.PYPI, "requests")

    request = handler.last
    assert request.url.host == "libraries.io"
    assert request.url.path == "/api/pypi/requests"
    assert request.url.params["api_key"] == API_KEY
    assert project.rank == 34
    assert project.repository_url == "https://github.com/psf/requests"
    assert project.dependent_repos_count == 1463298
    assert project.dependents_count == 61870


async def test_sourcerank_breakdown(make_librariesio: MakeLibrariesIo) -> None:
    handler = script(ok(lio("sourcerank.json")))

    rank = await make_librariesio(handler).sourcerank(Ecosystem.PYPI, "requests")

    assert handler.last.url.path == "/api/pypi/requests/sourcerank"
    assert rank.dependent_projects == 11
    assert rank.stars == 7
    assert rank.total == 46


async def test_dependent_repositories_page(make_librariesio: MakeLibrariesIo) -> None:
    handler = script(ok(lio("dependent_repositories.json")))

    page = await make_librariesio(handler).dependent_repositories(
        Ecosystem.PYPI, "requests", page=2, per_page=2
    )

    request = handler.last
    assert request.url.path == "/api/pypi/requests/dependent_repositories"
    assert request.url.params["page"] == "2"
    assert request.url.params["per_page"] == "2"
    first, fork = page.items
    assert first.full_name == "home-assistant/core"
    assert first.owner == "home-assistant"
    assert first.stargazers_count == 77482
    assert fork.fork is True
    assert page.next_cursor == 3


async def test_maven_coordinates_are_one_path_segment(make_librariesio: MakeLibrariesIo) -> None:
    handler = script(ok(lio("project.json")))

    await make_librariesio(handler).project(Ecosystem.MAVEN, "org.slf4j:slf4j-api")

    assert handler.last.url.raw_path.startswith(b"/api/maven/org.slf4j%3Aslf4j-api?")


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(403, json={"error": "Dependents are not available."}),
        httpx.Response(404, json={"error": "Error 404"}),
        httpx.Response(200, json={"message": "This endpoint has been disabled."}),
        httpx.Response(200, text="<html>disabled</html>"),
        httpx.Response(200, json=[]),
    ],
    ids=["forbidden", "not-found", "message-object", "html", "empty-list"],
)
async def test_disabled_dependents_endpoint_reads_as_no_data(
    make_librariesio: MakeLibrariesIo, health: HealthRecorder, answer: httpx.Response
) -> None:
    handler = script(answer)

    page = await make_librariesio(handler).dependents(Ecosystem.NPM, "left-pad")

    assert handler.last.url.path == "/api/npm/left-pad/dependents"
    assert page.items == []
    assert page.next_cursor is None
    assert health.failures == 0


async def test_dependents_are_read_if_the_endpoint_comes_back(
    make_librariesio: MakeLibrariesIo,
) -> None:
    handler = script(ok([lio("project.json")]))

    page = await make_librariesio(handler).dependents(Ecosystem.PYPI, "urllib3", per_page=1)

    assert [p.name for p in page.items] == ["requests"]
    assert page.next_cursor == 2


async def test_server_error_on_dependents_is_still_an_error(
    make_librariesio: MakeLibrariesIo,
) -> None:
    handler = script(*(httpx.Response(500) for _ in range(3)))

    with pytest.raises(ProviderTransientError):
        await make_librariesio(handler).dependents(Ecosystem.NPM, "left-pad")


async def test_without_api_key_nothing_is_sent(make_librariesio: MakeLibrariesIo) -> None:
    handler = script()
    provider = make_librariesio(handler, api_key="")

    with pytest.raises(UnsupportedRequest):
        await provider.project(Ecosystem.PYPI, "requests")
    assert handler.requests == []
    assert provider.configured is False
    assert provider.health().configured is False


async def test_github_actions_are_not_on_libraries_io(make_librariesio: MakeLibrariesIo) -> None:
    with pytest.raises(UnsupportedRequest):
        await make_librariesio(script()).project(Ecosystem.GITHUB, "actions/checkout")


async def test_unknown_project_is_not_found(make_librariesio: MakeLibrariesIo) -> None:
    handler = script(ok(lio("not_found.json"), status=404))

    with pytest.raises(ProviderNotFound):
        await make_librariesio(handler).project(Ecosystem.NPM, "no-such-package-anywhere")


async def test_requests_are_kept_under_the_per_minute_limit(
    make_librariesio: MakeLibrariesIo,
) -> None:
    clock = [0.0]
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        clock[0] += seconds

    limiter = SlidingWindowLimiter(2, 60.0, clock=lambda: clock[0], sleep=sleep)
    handler = script(*(ok(lio("sourcerank.json")) for _ in range(3)))
    provider = make_librariesio(handler, limiter=limiter)

    for _ in range(3):
        await provider.sourcerank(Ecosystem.PYPI, "requests")
        clock[0] += 1.0

    assert len(handler.requests) == 3
    # The third request waited until the first left the 60-second window.
    assert waits == [58.0]


async def test_job_copies_share_the_per_minute_limiter(make_librariesio: MakeLibrariesIo) -> None:
    provider = make_librariesio(script())

    job = provider.with_budget(10)

    assert job.http.limiter is provider.http.limiter
    assert job.http.budget is not provider.http.budget


async def test_api_key_never_appears_in_errors_or_health(
    make_librariesio: MakeLibrariesIo, health: HealthRecorder, sleeps: Sleeps
) -> None:
    # The simulated network error names the full URL, api_key included.
    handler = script(httpx.ConnectError, httpx.ConnectError, httpx.ConnectError)

    with pytest.raises(ProviderTransientError) as caught:
        await make_librariesio(handler).project(Ecosystem.PYPI, "requests")

    assert API_KEY in str(handler.last.url)
    assert API_KEY not in str(caught.value)
    assert API_KEY not in repr(caught.value)
    assert caught.value.__cause__ is None
    snapshot = health.snapshot(name="librariesio", configured=True, capabilities=())
    assert snapshot.last_error is not None
    assert API_KEY not in snapshot.model_dump_json()
    assert len(sleeps.delays) == 2


async def test_error_text_echoing_the_key_is_scrubbed_in_health(health: HealthRecorder) -> None:
    health.secrets = (API_KEY,)

    health.failed(ProviderError("librariesio", f"bad request for ?api_key={API_KEY}"))

    assert health.last_error_message is not None
    assert API_KEY not in health.last_error_message
    assert "[redacted]" in health.last_error_message
