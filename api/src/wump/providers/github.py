"""GitHub: owner profiles, sponsorship signals, repositories and dependency-graph SBOMs.

A thin client over githubkit, which brings authentication, the base URL and
GitHub's rate-limit detection; wump keeps its own retries, budget and models.
One token from the settings is used. Tokens are never pooled or rotated to get
around GitHub's limits.
"""

from typing import Any, Literal
from urllib.parse import quote

import httpx
from githubkit import GitHub
from githubkit.exception import RateLimitExceeded, RequestError, RequestFailed, RequestTimeout

from wump import __version__
from wump.core.config import Settings
from wump.providers.base import (
    NOT_MODIFIED,
    Capability,
    HealthRecorder,
    ProviderError,
    ProviderHealth,
    ProviderNotFound,
    ProviderTransientError,
    RequestBudget,
    RetryPolicy,
    Unchanged,
    UnsupportedRequest,
    decode_json,
    error_for_status,
    parse_model,
    parse_models,
    recorded,
    with_retries,
)
from wump.providers.schemas import GitHubOwner, GitHubRepository, GitHubSponsorship

NAME = "github"
API_VERSION = "2022-11-28"
ORGANIZATION = "Organization"

SPONSORSHIP_QUERY = """
query($login: String!) {
  repositoryOwner(login: $login) {
    __typename
    login
    ... on Sponsorable {
      hasSponsorsListing
      sponsorsListing { name url }
      sponsoring { totalCount }
    }
  }
}
"""


class _KeepOpenTransport(httpx.AsyncBaseTransport):
    """Shares one connection pool across the client githubkit opens and closes per request."""

    def __init__(self, transport: httpx.AsyncBaseTransport) -> None:
        self.transport = transport

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self.transport.handle_async_request(request)

    async def aclose(self) -> None:
        # githubkit closes its client after every request; the pool lives until
        # GitHubProvider.aclose().
        return None


def build_github_client(
    settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None
) -> GitHub[Any]:
    """A githubkit client for wump: its retries and HTTP cache off, wump's own in use."""
    return GitHub(
        settings.github_token or None,
        base_url=settings.github_api_url,
        user_agent=f"wump/{__version__} (+https://github.com/wump-dev/wump)",
        timeout=settings.http_timeout_seconds,
        async_transport=_KeepOpenTransport(transport or httpx.AsyncHTTPTransport()),
        http_cache=False,
        auto_retry=False,
    )


class GitHubProvider:
    """GitHub's REST and GraphQL APIs, one method per endpoint."""

    name = NAME
    capabilities = frozenset({Capability.OWNER_ENRICHMENT, Capability.REPOSITORY_SCAN})

    def __init__(
        self,
        github: GitHub[Any],
        *,
        token: str = "",
        policy: RetryPolicy | None = None,
        health: HealthRecorder | None = None,
        budget: int | None = None,
    ) -> None:
        self.github = github
        self._token = token
        self.policy = policy or RetryPolicy()
        self.health_record = health or HealthRecorder(secrets=(token,))
        self.budget = RequestBudget(budget)

    @property
    def configured(self) -> bool:
        # REST answers without a token (60 requests an hour); GraphQL does not.
        return bool(self._token)

    def with_budget(self, limit: int | None) -> "GitHubProvider":
        """A copy for one job, with its own budget and the shared client and health."""
        return GitHubProvider(
            self.github,
            token=self._token,
            policy=self.policy,
            health=self.health_record,
            budget=limit,
        )

    def health(self) -> ProviderHealth:
        return self.health_record.snapshot(
            name=self.name, configured=self.configured, capabilities=self.capabilities
        )

    async def aclose(self) -> None:
        transport = self.github.config.async_transport
        if isinstance(transport, _KeepOpenTransport):
            await transport.transport.aclose()

    async def owner_profile(self, login: str, *, owner_type: str | None = None) -> GitHubOwner:
        """A user's or organization's profile.

        `/users/{login}` answers for both and says which it is; an organization
        is then read from `/orgs/{org}`, which adds `is_verified` and
        `description`. Pass `owner_type="Organization"` when known to save a request.
        """

        async def fetch() -> GitHubOwner:
            if owner_type == ORGANIZATION:
                try:
                    return await self._organization(login)
                except ProviderNotFound:
                    pass
            what = f"user {login}"
            data = await self._get_json(f"/users/{_segment(login)}", what=what)
            owner = parse_model(NAME, GitHubOwner, data, what=what)
            if owner.is_organization and owner_type != ORGANIZATION:
                return await self._organization(login)
            return owner

        return await recorded(fetch, health=self.health_record)

    async def sponsorship(self, login: str) -> GitHubSponsorship:
        """Whether the owner has a GitHub Sponsors listing and how many others it sponsors."""
        if not self._token:
            raise UnsupportedRequest(NAME, "the GraphQL API needs GITHUB_TOKEN")
        what = f"sponsorship of {login}"

        async def fetch() -> GitHubSponsorship:
            body = {"query": SPONSORSHIP_QUERY, "variables": {"login": login}}
            data = await with_retries(
                lambda: self._graphql(body, what=what),
                policy=self.policy,
                health=self.health_record,
            )
            owner = (data.get("data") or {}).get("repositoryOwner")
            if owner is None:
                raise ProviderNotFound(NAME, f"owner {login} was not found")
            return parse_model(NAME, GitHubSponsorship, owner, what=what)

        return await recorded(fetch, health=self.health_record)

    async def owner_repositories(
        self, login: str, *, owner_type: str = "User", max_pages: int | None = None
    ) -> list[GitHubRepository]:
        """The owner's public repositories, 100 a page, following the `Link` header."""
        is_org = owner_type == ORGANIZATION
        first = f"/{'orgs' if is_org else 'users'}/{_segment(login)}/repos"
        first_params = {"per_page": 100, "type": "public" if is_org else "owner"}
        what = f"repositories of {login}"

        async def fetch() -> list[GitHubRepository]:
            url: str | None = first
            params: dict[str, Any] | None = first_params
            repositories: list[GitHubRepository] = []
            pages = 0
            while url is not None and (max_pages is None or pages < max_pages):
                response = await self._get(url, what=what, params=params)
                data = decode_json(NAME, response, what=what)
                repositories += parse_models(NAME, GitHubRepository, data, what=what)
                # The next link carries the query already.
                url, params = response.links.get("next", {}).get("url"), None
                pages += 1
            return repositories

        return await recorded(fetch, health=self.health_record)

    async def repository(
        self, owner: str, repo: str, *, etag: str | None = None
    ) -> GitHubRepository | Literal[Unchanged.NOT_MODIFIED]:
        """One repository. With the `etag` stored last time, an unchanged one answers
        `NOT_MODIFIED` without spending the rate limit."""
        what = f"repository {owner}/{repo}"
        headers = {"If-None-Match": etag} if etag else None

        async def fetch() -> GitHubRepository | Literal[Unchanged.NOT_MODIFIED]:
            response = await self._get(_repo_path(owner, repo), what=what, headers=headers)
            if response.status_code == 304:
                return NOT_MODIFIED
            data = decode_json(NAME, response, what=what)
            found = parse_model(NAME, GitHubRepository, data, what=what)
            return found.model_copy(update={"etag": response.headers.get("etag")})

        return await recorded(fetch, health=self.health_record)

    async def dependency_graph_sbom(self, owner: str, repo: str) -> dict[str, Any]:
        """The repository's dependency graph as an SPDX 2.3 document (the `sbom` object)."""
        what = f"dependency graph SBOM of {owner}/{repo}"

        async def fetch() -> dict[str, Any]:
            data = await self._get_json(
                f"{_repo_path(owner, repo)}/dependency-graph/sbom", what=what
            )
            sbom = data.get("sbom") if isinstance(data, dict) else None
            if not isinstance(sbom, dict):
                raise ProviderError(NAME, f"sent no SPDX document for {what}")
            return sbom

        return await recorded(fetch, health=self.health_record)

    async def _organization(self, login: str) -> GitHubOwner:
        what = f"organization {login}"
        data = await self._get_json(f"/orgs/{_segment(login)}", what=what)
        return parse_model(NAME, GitHubOwner, data, what=what)

    async def _get_json(self, url: str, *, what: str) -> Any:
        return decode_json(NAME, await self._get(url, what=what), what=what)

    async def _get(
        self,
        url: str,
        *,
        what: str,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        return await with_retries(
            lambda: self._send("GET", url, what=what, params=params, headers=headers),
            policy=self.policy,
            health=self.health_record,
        )

    async def _graphql(self, body: dict[str, Any], *, what: str) -> dict[str, Any]:
        response = await self._send("POST", "/graphql", what=what, json=body)
        data = decode_json(NAME, response, what=what)
        if not isinstance(data, dict):
            raise ProviderError(NAME, f"sent no GraphQL result for {what}")
        types = {error.get("type") for error in data.get("errors") or [] if isinstance(error, dict)}
        if types & {"RATE_LIMITED", "RATE_LIMIT"}:
            raise ProviderTransientError(NAME, f"GraphQL rate limited for {what}")
        if "NOT_FOUND" in types:
            raise ProviderNotFound(NAME, f"{what} was not found")
        if data.get("errors") and not data.get("data"):
            raise ProviderError(NAME, f"GraphQL refused the query for {what}")
        return data

    async def _send(
        self,
        method: str,
        url: str,
        *,
        what: str,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        json: Any = None,
    ) -> httpx.Response:
        self.budget.spend(NAME)
        self.health_record.request_sent()
        try:
            response = await self.github.arequest(
                method,
                url,
                params=params,
                json=json,
                headers={"X-GitHub-Api-Version": API_VERSION, **(headers or {})},
            )
        except RateLimitExceeded as exc:
            self.health_record.observe(exc.response.headers)
            raise ProviderTransientError(
                NAME,
                f"rate limited for {what}",
                status=exc.response.status_code,
                retry_after=exc.retry_after.total_seconds(),
            ) from None
        except RequestFailed as exc:
            raw = exc.response.raw_response
            self.health_record.observe(raw.headers)
            now = self.health_record.clock()
            error = error_for_status(NAME, raw, what=what, now=now)
            raise error or ProviderError(
                NAME, f"failed for {what}", status=raw.status_code
            ) from None
        except RequestTimeout:
            raise ProviderTransientError(NAME, f"timed out fetching {what}") from None
        except RequestError as exc:
            message = f"could not connect for {what} ({type(exc.exc).__name__})"
            raise ProviderTransientError(NAME, message) from None
        raw = response.raw_response
        self.health_record.observe(raw.headers)
        if raw.status_code == 304:
            self.budget.refund()
            self.health_record.not_modified += 1
        return raw


def _segment(value: str) -> str:
    return quote(value, safe="")


def _repo_path(owner: str, repo: str) -> str:
    return f"/repos/{_segment(owner)}/{_segment(repo)}"
