"""Libraries.io: project metadata, SourceRank and dependent repositories.

Every request needs `LIBRARIES_IO_API_KEY`, sent as the `api_key` query
parameter; it is never logged nor put in an error message. Libraries.io
allows 60 requests a minute per key, which the client keeps to on its own.
Its project `dependents` endpoint has been switched off upstream since 2023;
whatever it answers now is read as "no data".
"""

from urllib.parse import quote

import httpx

from wump.core.config import Settings
from wump.ingest.identity import Ecosystem
from wump.providers.base import (
    Capability,
    HealthRecorder,
    ProviderError,
    ProviderHealth,
    ProviderHttp,
    RequestBudget,
    RetryPolicy,
    SlidingWindowLimiter,
    UnsupportedRequest,
    decode_json,
    parse_model,
    parse_models,
)
from wump.providers.schemas import (
    LibrariesIoProject,
    LibrariesIoRepository,
    LibrariesIoSourceRank,
    Page,
)

NAME = "librariesio"
MAX_PER_PAGE = 100
# The answers the disabled `dependents` endpoint may give instead of a list.
DISABLED_STATUSES = frozenset({403, 404, 410, 501})

PLATFORMS: dict[Ecosystem, str] = {
    Ecosystem.PYPI: "pypi",
    Ecosystem.NPM: "npm",
    Ecosystem.CARGO: "cargo",
    Ecosystem.GOLANG: "go",
    Ecosystem.GEM: "rubygems",
    Ecosystem.MAVEN: "maven",
    Ecosystem.NUGET: "nuget",
    Ecosystem.COMPOSER: "packagist",
}


class LibrariesIoProvider:
    """The Libraries.io API, one method per endpoint."""

    name = NAME
    capabilities = frozenset({Capability.DEPENDENTS, Capability.PACKAGE_METADATA})

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        api_key: str,
        base_url: str = "https://libraries.io/api",
        requests_per_minute: int = 60,
        policy: RetryPolicy | None = None,
        health: HealthRecorder | None = None,
        budget: int | None = None,
        limiter: SlidingWindowLimiter | None = None,
        http: ProviderHttp | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.http = http or ProviderHttp(
            NAME,
            client,
            policy=policy or RetryPolicy(),
            health=health or HealthRecorder(secrets=(api_key,)),
            limiter=limiter or SlidingWindowLimiter(requests_per_minute, 60.0),
            params={"api_key": api_key},
        ).with_budget(budget)

    @classmethod
    def from_settings(
        cls, settings: Settings, client: httpx.AsyncClient, *, policy: RetryPolicy | None = None
    ) -> "LibrariesIoProvider":
        return cls(
            client,
            api_key=settings.libraries_io_api_key,
            base_url=settings.libraries_io_url,
            requests_per_minute=settings.libraries_io_requests_per_minute,
            policy=policy,
        )

    @property
    def configured(self) -> bool:
        return bool(self.api_key)

    def with_budget(self, limit: int | None) -> "LibrariesIoProvider":
        """A copy for one job, with its own budget; the per-minute limiter stays shared."""
        return LibrariesIoProvider(
            self.http.client,
            api_key=self.api_key,
            base_url=self.base_url,
            http=self.http.with_budget(limit),
        )

    @property
    def budget(self) -> RequestBudget:
        """This copy's request budget; `used` counts the requests it sent."""
        return self.http.budget

    def health(self) -> ProviderHealth:
        return self.http.health.snapshot(
            name=self.name, configured=self.configured, capabilities=self.capabilities
        )

    async def project(self, ecosystem: Ecosystem, name: str) -> LibrariesIoProject:
        """Project metadata, with `rank` (SourceRank) and the dependent counts."""
        what = f"{ecosystem.value} project {name}"
        data = await self.http.get_json(self._project_url(ecosystem, name), what=what)
        return parse_model(NAME, LibrariesIoProject, data, what=what)

    async def sourcerank(self, ecosystem: Ecosystem, name: str) -> LibrariesIoSourceRank:
        """The breakdown of the project's SourceRank."""
        what = f"SourceRank of {ecosystem.value} project {name}"
        url = f"{self._project_url(ecosystem, name)}/sourcerank"
        data = await self.http.get_json(url, what=what)
        return parse_model(NAME, LibrariesIoSourceRank, data, what=what)

    async def dependent_repositories(
        self, ecosystem: Ecosystem, name: str, *, page: int = 1, per_page: int = MAX_PER_PAGE
    ) -> Page[LibrariesIoRepository, int]:
        """Repositories depending on the project, a page at a time."""
        what = f"dependent repositories of {ecosystem.value} project {name}"
        size = min(per_page, MAX_PER_PAGE)
        url = f"{self._project_url(ecosystem, name)}/dependent_repositories"
        data = await self.http.get_json(url, what=what, params={"page": page, "per_page": size})
        items = parse_models(NAME, LibrariesIoRepository, data, what=what)
        return Page(items, page + 1 if len(items) >= size else None)

    async def dependents(
        self, ecosystem: Ecosystem, name: str, *, page: int = 1, per_page: int = MAX_PER_PAGE
    ) -> Page[LibrariesIoProject, int]:
        """Packages depending on the project. Disabled upstream: an empty page unless it
        comes back and answers a list."""
        what = f"dependents of {ecosystem.value} project {name}"
        size = min(per_page, MAX_PER_PAGE)
        url = f"{self._project_url(ecosystem, name)}/dependents"
        response = await self.http.get(
            url, what=what, params={"page": page, "per_page": size}, accept=DISABLED_STATUSES
        )
        if response.status_code in DISABLED_STATUSES:
            return Page([], None)
        try:
            data = decode_json(NAME, response, what=what)
        except ProviderError:
            return Page([], None)
        if not isinstance(data, list):
            return Page([], None)
        items = parse_models(NAME, LibrariesIoProject, data, what=what)
        return Page(items, page + 1 if len(items) >= size else None)

    def _project_url(self, ecosystem: Ecosystem, name: str) -> str:
        if not self.api_key:
            raise UnsupportedRequest(NAME, "LIBRARIES_IO_API_KEY is not set")
        platform = PLATFORMS.get(ecosystem)
        if platform is None:
            raise UnsupportedRequest(NAME, f"no platform for {ecosystem.value}")
        return f"{self.base_url}/{platform}/{quote(name, safe='')}"
