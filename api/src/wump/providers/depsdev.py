"""deps.dev: packages, versions and their source repositories, dependent counts, Scorecards.

The stable v3 API answers packages, versions and projects; dependent counts
come from v3alpha, which may change without notice. deps.dev needs no key.
Names and project keys are percent-encoded whole (`@types/node` becomes
`%40types%2Fnode`, `github.com/a/b` becomes `github.com%2Fa%2Fb`).
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
)
from wump.providers.schemas import DepsDevDependents, DepsDevPackage, DepsDevProject, DepsDevVersion

NAME = "depsdev"

SYSTEMS: dict[Ecosystem, str] = {
    Ecosystem.PYPI: "pypi",
    Ecosystem.NPM: "npm",
    Ecosystem.CARGO: "cargo",
    Ecosystem.GOLANG: "go",
    Ecosystem.MAVEN: "maven",
    Ecosystem.NUGET: "nuget",
}


class DepsDevProvider:
    """The deps.dev API, one method per endpoint."""

    name = NAME
    capabilities = frozenset({Capability.PACKAGE_METADATA})
    configured = True

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        base_url: str = "https://api.deps.dev",
        policy: RetryPolicy | None = None,
        health: HealthRecorder | None = None,
        budget: int | None = None,
        http: ProviderHttp | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = http or ProviderHttp(
            NAME, client, policy=policy or RetryPolicy(), health=health or HealthRecorder()
        ).with_budget(budget)

    @classmethod
    def from_settings(
        cls, settings: Settings, client: httpx.AsyncClient, *, policy: RetryPolicy | None = None
    ) -> "DepsDevProvider":
        return cls(client, base_url=settings.deps_dev_url, policy=policy)

    def with_budget(self, limit: int | None) -> "DepsDevProvider":
        """A copy for one job, with its own budget and the shared client and health."""
        return DepsDevProvider(
            self.http.client, base_url=self.base_url, http=self.http.with_budget(limit)
        )

    @property
    def budget(self) -> RequestBudget:
        """This copy's request budget; `used` counts the requests it sent."""
        return self.http.budget

    def health(self) -> ProviderHealth:
        return self.http.health.snapshot(
            name=self.name, configured=self.configured, capabilities=self.capabilities
        )

    async def package(self, ecosystem: Ecosystem, name: str) -> DepsDevPackage:
        """`GetPackage`: the package's versions, the default one marked."""
        what = f"{ecosystem.value} package {name}"
        data = await self.http.get_json(self._package_url("v3", ecosystem, name), what=what)
        return parse_model(NAME, DepsDevPackage, data, what=what)

    async def version(self, ecosystem: Ecosystem, name: str, version: str) -> DepsDevVersion:
        """`GetVersion`: licenses, links and related projects; `source_repository`
        maps the package to its repository."""
        what = f"{ecosystem.value} package {name} {version}"
        url = f"{self._package_url('v3', ecosystem, name)}/versions/{_segment(version)}"
        data = await self.http.get_json(url, what=what)
        return parse_model(NAME, DepsDevVersion, data, what=what)

    async def dependents(self, ecosystem: Ecosystem, name: str, version: str) -> DepsDevDependents:
        """`GetDependents` (v3alpha): how many packages depend on this version."""
        what = f"dependents of {ecosystem.value} package {name} {version}"
        base = self._package_url("v3alpha", ecosystem, name)
        data = await self.http.get_json(
            f"{base}/versions/{_segment(version)}:dependents", what=what
        )
        return parse_model(NAME, DepsDevDependents, data, what=what)

    async def project(self, project_key: str) -> DepsDevProject:
        """`GetProject`: a repository (`github.com/owner/repo`) and its OpenSSF Scorecard."""
        what = f"project {project_key}"
        url = f"{self.base_url}/v3/projects/{_segment(project_key)}"
        data = await self.http.get_json(url, what=what)
        return parse_model(NAME, DepsDevProject, data, what=what)

    def _package_url(self, api: str, ecosystem: Ecosystem, name: str) -> str:
        system = SYSTEMS.get(ecosystem)
        if system is None:
            raise UnsupportedRequest(NAME, f"no data for {ecosystem.value}")
        return f"{self.base_url}/{api}/systems/{system}/packages/{_segment(name)}"


def _segment(value: str) -> str:
    return quote(value, safe="")
