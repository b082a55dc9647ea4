import json
import time
from collections.abc import Callable

import httpx
import pytest

from tests.providers.conftest import NOW, Script, Sleeps, load, ok, script
from wump.core.config import Settings
from wump.providers.base import (
    NOT_MODIFIED,
    BudgetExhausted,
    HealthRecorder,
    ProviderError,
    ProviderNotFound,
    ProviderTransientError,
    RetryPolicy,
    UnsupportedRequest,
)
from wump.providers.github import GitHubProvider, build_github_client

TOKEN = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"

MakeGitHub = Callable[..., GitHubProvider]


@pytest.fixture
def make_github(policy: RetryPolicy, health: HealthRecorder) -> MakeGitHub:
    def make(handler: Script, *, token: str = TOKEN, budget: int | None = None) -> GitHubProvider:
        settings = Settings(_env_file=None, github_token=token)
        github = build_github_client(settings, transport=httpx.MockTransport(handler))
        health.secrets = (token,)
        return GitHubProvider(github, token=token, policy=policy, health=health, budget=budget)

    return make


def gh(name: str) -> object:
    return load("github", name)


async def test_user_profile_reads_users_endpoint_with_token_and_api_version(
    make_github: MakeGitHub,
) -> None:
    handler = script(ok(gh("users_octocat.json")))

    owner = await make_github(handler).owner_profile("octocat")

    request = handler.last
    assert request.url == "https://api.github.com/users/octocat"
    assert request.headers["Authorization"] == f"token {TOKEN}"
    assert request.headers["X-GitHub-Api-Version"] == "2022-11-28"
    assert request.headers["User-Agent"].startswith("wump/")
    assert owner.login == "octocat"
    assert owner.type == "User"
    assert owner.website_url == "https://github.blog"
    assert owner.company == "@github"
    assert owner.followers == 21564
    assert owner.is_verified is None
    assert owner.is_organization is False


async def test_organization_found_through_users_is_read_again_from_orgs(
    make_github: MakeGitHub,
) -> None:
    handler = script(ok(gh("users_github.json")), ok(gh("orgs_github.json")))

    owner = await make_github(handler).owner_profile("github")

    assert [r.url.path for r in handler.requests] == ["/users/github", "/orgs/github"]
    assert owner.is_organization
    assert owner.is_verified is True
    assert owner.description == "How people build software."
    assert owner.website_url == "https://github.com/about"
    assert owner.public_repos == 512


async def test_known_organization_goes_straight_to_orgs(make_github: MakeGitHub) -> None:
    handler = script(ok(gh("orgs_github.json")))

    owner = await make_github(handler).owner_profile("github", owner_type="Organization")

    assert [r.url.path for r in handler.requests] == ["/orgs/github"]
    assert owner.is_verified is True


async def test_organization_hint_falls_back_to_users_on_404(make_github: MakeGitHub) -> None:
    handler = script(ok({"message": "Not Found"}, status=404), ok(gh("users_octocat.json")))

    owner = await make_github(handler).owner_profile("octocat", owner_type="Organization")

    assert [r.url.path for r in handler.requests] == ["/orgs/octocat", "/users/octocat"]
    assert owner.type == "User"


async def test_missing_owner_is_not_found(make_github: MakeGitHub) -> None:
    body = {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}
    handler = script(ok(body, status=404))

    with pytest.raises(ProviderNotFound):
        await make_github(handler).owner_profile("nobody-here")
    assert len(handler.requests) == 1


async def test_sponsorship_query_reads_listing_and_sponsoring_count(
    make_github: MakeGitHub,
) -> None:
    handler = script(ok(gh("graphql_repository_owner_org.json")))

    sponsorship = await make_github(handler).sponsorship("pallets")

    request = handler.last
    assert request.method == "POST"
    assert request.url == "https://api.github.com/graphql"
    body = json.loads(request.content)
    assert body["variables"] == {"login": "pallets"}
    for name in ("repositoryOwner", "hasSponsorsListing", "sponsorsListing", "sponsoring"):
        assert name in body["query"]
    assert sponsorship.owner_type == "Organization"
    assert sponsorship.has_sponsors_listing is True
    assert sponsorship.sponsors_listing is not None
    assert sponsorship.sponsors_listing.url == "https://github.com/sponsors/pallets"
    assert sponsorship.sponsoring_count == 4


async def test_sponsorship_of_user_without_listing(make_github: MakeGitHub) -> None:
    handler = script(ok(gh("graphql_repository_owner_user.json")))

    sponsorship = await make_github(handler).sponsorship("octocat")

    assert sponsorship.has_sponsors_listing is False
    assert sponsorship.sponsors_listing is None
    assert sponsorship.sponsoring_count == 0


async def test_sponsorship_of_unknown_owner_is_not_found(make_github: MakeGitHub) -> None:
    handler = script(ok(gh("graphql_repository_owner_missing.json")))

    with pytest.raises(ProviderNotFound):
        await make_github(handler).sponsorship("nobody-here")


async def test_sponsorship_without_token_sends_nothing(make_github: MakeGitHub) -> None:
    handler = script()

    with pytest.raises(UnsupportedRequest):
        await make_github(handler, token="").sponsorship("pallets")
    assert handler.requests == []


async def test_graphql_rate_limit_is_retried(make_github: MakeGitHub, sleeps: Sleeps) -> None:
    handler = script(
        ok(gh("graphql_rate_limited.json")), ok(gh("graphql_repository_owner_org.json"))
    )

    sponsorship = await make_github(handler).sponsorship("pallets")

    assert sponsorship.has_sponsors_listing
    assert len(handler.requests) == 2
    assert len(sleeps.delays) == 1


async def test_owner_repositories_follow_link_header(make_github: MakeGitHub) -> None:
    next_url = "https://api.github.com/organizations/9919/repos?per_page=100&type=public&page=2"
    handler = script(
        ok(gh("orgs_repos_page1.json"), headers={"Link": f'<{next_url}>; rel="next"'}),
        ok(gh("orgs_repos_page2.json")),
    )

    repos = await make_github(handler).owner_repositories("github", owner_type="Organization")

    first, second = handler.requests
    assert first.url.path == "/orgs/github/repos"
    assert dict(first.url.params) == {"per_page": "100", "type": "public"}
    assert second.url == next_url
    assert [r.full_name for r in repos] == ["github/gitignore", "github/markup", "github/gemoji"]
    gemoji = repos[2]
    assert gemoji.archived is True
    assert gemoji.language == "Ruby"
    assert repos[0].stargazers_count == 164812
    assert repos[0].owner.type == "Organization"


async def test_user_repositories_use_users_endpoint_and_stop_at_max_pages(
    make_github: MakeGitHub,
) -> None:
    next_url = "https://api.github.com/user/583231/repos?per_page=100&type=owner&page=2"
    handler = script(ok(gh("orgs_repos_page1.json"), headers={"Link": f'<{next_url}>; rel="next"'}))

    repos = await make_github(handler).owner_repositories("octocat", max_pages=1)

    assert handler.last.url.path == "/users/octocat/repos"
    assert handler.last.url.params["type"] == "owner"
    assert len(repos) == 2


async def test_repository_keeps_etag_for_the_next_conditional_request(
    make_github: MakeGitHub,
) -> None:
    etag = 'W/"0f9c7d1e2b3a4c5d6e7f8a9b0c1d2e3f"'
    handler = script(ok(gh("repos_get.json"), headers={"ETag": etag}))

    repository = await make_github(handler).repository("octocat", "Hello-World")

    assert "If-None-Match" not in handler.last.headers
    assert repository is not NOT_MODIFIED
    assert repository.full_name == "octocat/Hello-World"
    assert repository.default_branch == "master"
    assert repository.etag == etag


async def test_unchanged_repository_answers_not_modified_and_costs_no_budget(
    make_github: MakeGitHub, health: HealthRecorder
) -> None:
    etag = 'W/"0f9c7d1e2b3a4c5d6e7f8a9b0c1d2e3f"'
    handler = script(httpx.Response(304, headers={"ETag": etag}))
    github = make_github(handler, budget=1)

    result = await github.repository("octocat", "Hello-World", etag=etag)

    assert result is NOT_MODIFIED
    assert handler.last.headers["If-None-Match"] == etag
    assert github.budget.remaining == 1
    assert health.not_modified == 1


async def test_dependency_graph_sbom_returns_the_spdx_document(make_github: MakeGitHub) -> None:
    handler = script(ok(gh("repos_dependency_graph_sbom.json")))

    sbom = await make_github(handler).dependency_graph_sbom("octocat", "Hello-World")

    assert handler.last.url.path == "/repos/octocat/Hello-World/dependency-graph/sbom"
    assert sbom["spdxVersion"] == "SPDX-2.3"
    assert sbom["name"] == "com.github.octocat/Hello-World"
    assert len(sbom["packages"]) == 2


async def test_sbom_of_repository_without_dependency_graph_is_not_found(
    make_github: MakeGitHub,
) -> None:
    handler = script(ok({"message": "Not Found"}, status=404))

    with pytest.raises(ProviderNotFound):
        await make_github(handler).dependency_graph_sbom("octocat", "gone")


async def test_secondary_rate_limit_waits_retry_after_then_succeeds(
    make_github: MakeGitHub, sleeps: Sleeps
) -> None:
    limited = httpx.Response(
        403,
        json={"message": "You have exceeded a secondary rate limit. Please wait a few minutes."},
        headers={"Retry-After": "30"},
    )
    handler = script(limited, ok(gh("users_octocat.json")))

    owner = await make_github(handler).owner_profile("octocat")

    assert owner.login == "octocat"
    assert sleeps.delays == [30.0]


async def test_spent_primary_rate_limit_is_raised_without_waiting_an_hour(
    make_github: MakeGitHub, sleeps: Sleeps, health: HealthRecorder
) -> None:
    # githubkit measures the reset against the wall clock.
    reset = int(time.time()) + 3600
    headers = {
        "x-ratelimit-limit": "5000",
        "x-ratelimit-remaining": "0",
        "x-ratelimit-reset": str(reset),
    }
    handler = script(
        httpx.Response(403, json={"message": "API rate limit exceeded"}, headers=headers)
    )

    with pytest.raises(ProviderTransientError) as caught:
        await make_github(handler).owner_profile("octocat")

    assert caught.value.retry_after is not None
    assert caught.value.retry_after > 3000
    assert sleeps.delays == []
    assert len(handler.requests) == 1
    assert health.rate_limit_remaining == 0
    assert health.rate_limit == 5000


async def test_forbidden_without_rate_limit_headers_is_not_retried(
    make_github: MakeGitHub,
) -> None:
    handler = script(ok({"message": "Resource not accessible by integration"}, status=403))

    with pytest.raises(ProviderError) as caught:
        await make_github(handler).owner_profile("octocat")

    assert not isinstance(caught.value, ProviderTransientError)
    assert caught.value.status == 403
    assert len(handler.requests) == 1


async def test_rate_limit_headers_reach_the_health_record(
    make_github: MakeGitHub, health: HealthRecorder
) -> None:
    headers = {
        "x-ratelimit-limit": "5000",
        "x-ratelimit-remaining": "4987",
        "x-ratelimit-reset": str(int(NOW) + 1200),
    }
    handler = script(ok(gh("users_octocat.json"), headers=headers))
    github = make_github(handler)

    await github.owner_profile("octocat")

    snapshot = github.health()
    assert snapshot.rate_limit.remaining == 4987
    assert snapshot.rate_limit.limit == 5000
    assert snapshot.rate_limit.reset_at is not None
    assert snapshot.rate_limit.reset_at.timestamp() == NOW + 1200
    assert snapshot.successes == 1
    assert snapshot.requests == 1
    assert snapshot.configured is True


async def test_budget_stops_paging_when_spent(make_github: MakeGitHub) -> None:
    next_url = "https://api.github.com/organizations/9919/repos?per_page=100&type=public&page=2"
    handler = script(
        ok(gh("orgs_repos_page1.json"), headers={"Link": f'<{next_url}>; rel="next"'}),
    )

    with pytest.raises(BudgetExhausted):
        await make_github(handler, budget=1).owner_repositories("github", owner_type="Organization")
    assert len(handler.requests) == 1


async def test_job_copies_share_health_but_not_budget(
    make_github: MakeGitHub, health: HealthRecorder
) -> None:
    handler = script(ok(gh("users_octocat.json")), ok(gh("users_octocat.json")))
    shared = make_github(handler)
    job = shared.with_budget(1)

    await job.owner_profile("octocat")
    with pytest.raises(BudgetExhausted):
        await job.owner_profile("octocat")
    await shared.owner_profile("octocat")

    assert health.successes == 2
    assert shared.budget.remaining is None
