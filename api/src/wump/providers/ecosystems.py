"""ecosyste.ms: dependent repositories, package metadata and owner profiles.

Two services answer: repos.ecosyste.ms (usage of a package by repositories,
and owners) and packages.ecosyste.ms (package metadata and dependent
packages). Requests carry `mailto=` with the operator's address when
`ECOSYSTEMS_MAILTO` is set, which puts wump in ecosyste.ms' "polite" pool.
"""

from urllib.parse import quote

import httpx

from wump.core.config import Settings
from wump.ingest.identity import Ecosystem
from wump.providers.base import (
    Capability,
    HealthRecorder,
    ProviderHealth,
    ProviderHttp,
    RequestBudget,
    RetryPolicy,
    UnsupportedRequest,
    parse_model,
    parse_models,
)
from wump.providers.schemas import (
    EcosystemsDependency,
    EcosystemsOwner,
    EcosystemsPackage,
    EcosystemsRepository,
    Page,
)

NAME = "ecosystems"
MAX_PER_PAGE = 100

# packages.ecosyste.ms registry names.
REGISTRIES: dict[Ecosystem, str] = {
    Ecosystem.PYPI: "pypi.org",
    Ecosystem.NPM: "npmjs.org",
    Ecosystem.CARGO: "crates.io",
    Ecosystem.GOLANG: "proxy.golang.org",
    Ecosystem.GEM: "rubygems.org",
    Ecosystem.MAVEN: "repo1.maven.org",
    Ecosystem.NUGET: "nuget.org",
    Ecosystem.COMPOSER: "packagist.org",
    Ecosystem.GITHUB: "github actions",
}

# The ecosystem names repos.ecosyste.ms uses for package usage.
USAGE_ECOSYSTEMS: dict[Ecosystem, str] = {
    Ecosystem.PYPI: "pypi",
    Ecosystem.NPM: "npm",
    Ecosystem.CARGO: "cargo",
    Ecosystem.GOLANG: "go",
    Ecosystem.GEM: "rubygems",
    Ecosystem.MAVEN: "maven",
    Ecosystem.NUGET: "nuget",
    Ecosystem.COMPOSER: "packagist",
    Ecosystem.GITHUB: "actions",
}


class EcosystemsProvider:
    """The ecosyste.ms APIs, one method per endpoint."""

    name = NAME
    capabilities = frozenset(
        {Capability.DEPENDENTS, Capability.OWNER_ENRICHMENT, Capability.PACKAGE_METADATA}
    )
    configured = True

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        mailto: str = "",
        repos_url: str = "https://repos.ecosyste.ms/api/v1",
        packages_url: str = "https://packages.ecosyste.ms/api/v1",
        policy: RetryPolicy | None = None,
        health: HealthRecorder | None = None,
        budget: int | None = None,
        http: ProviderHttp | None = None,
    ) -> None:
        self.repos_url = repos_url.rstrip("/")
        self.packages_url = packages_url.rstrip("/")
        self.mailto = mailto
        self.http = http or ProviderHttp(
            NAME,
            client,
            policy=policy or RetryPolicy(),
            health=health or HealthRecorder(),
            params={"mailto": mailto} if mailto else None,
            # Without it ecosyste.ms may answer with its HTML pages.
            headers={"Accept": "application/json"},
        ).with_budget(budget)

    @classmethod
    def from_settings(
        cls, settings: Settings, client: httpx.AsyncClient, *, policy: RetryPolicy | None = None
    ) -> "EcosystemsProvider":
        return cls(
            client,
            mailto=settings.ecosystems_mailto,
            repos_url=settings.ecosystems_repos_url,
            packages_url=settings.ecosystems_packages_url,
            policy=policy,
        )

    def with_budget(self, limit: int | None) -> "EcosystemsProvider":
        """A copy for one job, with its own budget and the shared client and health."""
        return EcosystemsProvider(
            self.http.client,
            mailto=self.mailto,
            repos_url=self.repos_url,
            packages_url=self.packages_url,
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

    async def dependent_repositories(
        self,
        ecosystem: Ecosystem,
        name: str,
        *,
        after_id: int | None = None,
        per_page: int = MAX_PER_PAGE,
        fork: bool | None = None,
        archived: bool | None = None,
        min_stars: int | None = None,
    ) -> Page[EcosystemsRepository, int]:
        """Repositories whose manifests name the package, in id order.

        Pages are keyset pages: pass the returned `next_cursor` as `after_id`.
        `fork` and `archived` filter for (True) or against (False) those flags.
        """
        what = f"dependent repositories of {ecosystem.value} package {name}"
        size = min(per_page, MAX_PER_PAGE)
        params = {
            "per_page": size,
            "after_id": after_id,
            "fork": _flag(fork),
            "archived": _flag(archived),
            "min_stars": min_stars,
        }
        url = f"{self._usage_url(ecosystem, name)}/dependent_repositories"
        data = await self.http.get_json(url, what=what, params=params)
        items = parse_models(NAME, EcosystemsRepository, data, what=what)
        return Page(items, _next_id([item.id for item in items], size))

    async def dependencies(
        self,
        ecosystem: Ecosystem,
        name: str,
        *,
        after: int | None = None,
        per_page: int = MAX_PER_PAGE,
    ) -> Page[EcosystemsDependency, int]:
        """The dependency edges naming the package: requirement, kind, manifest and repository.

        Keyset pages: pass the returned `next_cursor` as `after`.
        """
        what = f"dependency edges of {ecosystem.value} package {name}"
        size = min(per_page, MAX_PER_PAGE)
        url = f"{self._usage_url(ecosystem, name)}/dependencies"
        data = await self.http.get_json(url, what=what, params={"per_page": size, "after": after})
        items = parse_models(NAME, EcosystemsDependency, data, what=what)
        return Page(items, _next_id([item.id for item in items], size))

    async def package(self, ecosystem: Ecosystem, name: str) -> EcosystemsPackage:
        """Package metadata: description, homepage, repository, funding links, dependent counts."""
        what = f"{ecosystem.value} package {name}"
        data = await self.http.get_json(self._package_url(ecosystem, name), what=what)
        return parse_model(NAME, EcosystemsPackage, data, what=what)

    async def dependent_packages(
        self,
        ecosystem: Ecosystem,
        name: str,
        *,
        page: int = 1,
        per_page: int = MAX_PER_PAGE,
        latest: bool = True,
        kind: str | None = None,
    ) -> Page[EcosystemsPackage, int]:
        """Packages depending on the package. `latest=False` adds past dependents;
        `kind` filters by dependency kind (e.g. "runtime", "development")."""
        what = f"dependent packages of {ecosystem.value} package {name}"
        size = min(per_page, MAX_PER_PAGE)
        params = {"page": page, "per_page": size, "latest": _flag(latest), "kind": kind}
        url = f"{self._package_url(ecosystem, name)}/dependent_packages"
        data = await self.http.get_json(url, what=what, params=params)
        items = parse_models(NAME, EcosystemsPackage, data, what=what)
        return Page(items, page + 1 if len(items) >= size else None)

    async def owner(self, login: str, *, host: str = "GitHub") -> EcosystemsOwner:
        """An owner's profile: kind, company, website, email and funding links."""
        what = f"owner {login}"
        url = f"{self.repos_url}/hosts/{_segment(host)}/owners/{_segment(login)}"
        data = await self.http.get_json(url, what=what)
        return parse_model(NAME, EcosystemsOwner, data, what=what)

    def _usage_url(self, ecosystem: Ecosystem, name: str) -> str:
        usage = USAGE_ECOSYSTEMS.get(ecosystem)
        if usage is None:
            raise UnsupportedRequest(NAME, f"no usage data for {ecosystem.value}")
        return f"{self.repos_url}/usage/{usage}/{_segment(name)}"

    def _package_url(self, ecosystem: Ecosystem, name: str) -> str:
        registry = REGISTRIES.get(ecosystem)
        if registry is None:
            raise UnsupportedRequest(NAME, f"no registry for {ecosystem.value}")
        return f"{self.packages_url}/registries/{_segment(registry)}/packages/{_segment(name)}"


def _segment(value: str) -> str:
    return quote(value, safe="")


def _flag(value: bool | None) -> str | None:
    return None if value is None else str(value).lower()


def _next_id(ids: list[int], per_page: int) -> int | None:
    # A short page is the last one.
    return ids[-1] if ids and len(ids) >= per_page else None
