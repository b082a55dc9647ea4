from collections.abc import Callable

import httpx
import pytest

from tests.providers.conftest import NOW, Script, Sleeps, load, ok, script
from wump.core.config import Settings
from wump.ingest.identity import Ecosystem
from wump.providers.base import HealthRecorder, ProviderNotFound, RetryPolicy
from wump.providers.ecosystems import EcosystemsProvider

MAILTO = "maintainer@example.org"

MakeEcosystems = Callable[..., EcosystemsProvider]


@pytest.fixture
def make_ecosystems(
    http_client: Callable[[Script], httpx.AsyncClient], policy: RetryPolicy, health: HealthRecorder
) -> MakeEcosystems:
    def make(handler: Script, *, mailto: str = MAILTO) -> EcosystemsProvider:
        return EcosystemsProvider(http_client(handler), mailto=mailto, policy=policy, health=health)

    return make


def eco(name: str) -> object:
    return load("ecosystems", name)


async def test_dependent_repositories_sends_filters_keyset_and_mailto(
    make_ecosystems: MakeEcosystems,
) -> None:
    handler = script(ok(eco("usage_dependent_repositories.json")))

    page = await make_ecosystems(handler).dependent_repositories(
        Ecosystem.PYPI,
        "requests",
        after_id=1000,
        per_page=3,
        fork=False,
        archived=False,
        min_stars=1,
    )

    request = handler.last
    assert request.url.host == "repos.ecosyste.ms"
    assert request.url.path == "/api/v1/usage/pypi/requests/dependent_repositories"
    assert dict(request.url.params) == {
        "mailto": MAILTO,
        "per_page": "3",
        "after_id": "1000",
        "fork": "false",
        "archived": "false",
        "min_stars": "1",
    }
    assert request.headers["Accept"] == "application/json"
    names = [repo.full_name for repo in page.items]
    assert names == ["psf/requests-html", "home-assistant/core", "someone/requests-fork"]
    core = page.items[1]
    assert core.owner == "home-assistant"
    assert core.stargazers_count == 77482
    assert core.default_branch == "dev"
    assert core.host is not None
    assert core.host.name == "GitHub"
    assert page.items[2].fork is True
    # A full page: the next one starts after the last id.
    assert page.next_cursor == 80413


async def test_short_page_of_dependents_is_the_last(make_ecosystems: MakeEcosystems) -> None:
    handler = script(ok(eco("usage_dependent_repositories.json")))

    page = await make_ecosystems(handler).dependent_repositories(Ecosystem.PYPI, "requests")

    assert "after_id" not in handler.last.url.params
    assert "fork" not in handler.last.url.params
    assert handler.last.url.params["per_page"] == "100"
    assert page.next_cursor is None


async def test_scoped_npm_name_is_encoded_as_one_path_segment(
    make_ecosystems: MakeEcosystems,
) -> None:
    handler = script(ok([]))

    page = await make_ecosystems(handler).dependent_repositories(Ecosystem.NPM, "@types/node")

    assert handler.last.url.raw_path.startswith(
        b"/api/v1/usage/npm/%40types%2Fnode/dependent_repositories?"
    )
    assert page.items == []
    assert page.next_cursor is None


async def test_go_module_maps_to_the_go_usage_ecosystem(make_ecosystems: MakeEcosystems) -> None:
    handler = script(ok([]))

    await make_ecosystems(handler).dependencies(Ecosystem.GOLANG, "github.com/spf13/cobra")

    assert handler.last.url.raw_path.startswith(
        b"/api/v1/usage/go/github.com%2Fspf13%2Fcobra/dependencies?"
    )


async def test_dependency_edges_carry_requirement_kind_and_manifest(
    make_ecosystems: MakeEcosystems,
) -> None:
    handler = script(ok(eco("usage_dependencies.json")))

    page = await make_ecosystems(handler).dependencies(
        Ecosystem.PYPI, "requests", after=8812000, per_page=2
    )

    assert handler.last.url.params["after"] == "8812000"
    first, second = page.items
    assert first.requirements == ">=2.31.0"
    assert first.kind == "runtime"
    assert first.direct is True
    assert first.manifest is not None
    assert first.manifest.filepath == "requirements_all.txt"
    assert first.repository is not None
    assert first.repository.full_name == "home-assistant/core"
    assert second.direct is False
    assert page.next_cursor == 8812391


async def test_package_metadata_from_the_registry(make_ecosystems: MakeEcosystems) -> None:
    handler = script(ok(eco("registries_package.json")))

    package = await make_ecosystems(handler).package(Ecosystem.PYPI, "requests")

    assert handler.last.url.host == "packages.ecosyste.ms"
    assert handler.last.url.path == "/api/v1/registries/pypi.org/packages/requests"
    assert package.repository_url == "https://github.com/psf/requests"
    assert package.latest_release_number == "2.32.3"
    assert package.dependent_repos_count == 1463290
    assert package.dependent_packages_count == 61844
    assert package.funding_links == [
        "https://github.com/sponsors/psf",
        "https://opencollective.com/psf",
    ]
    assert package.normalized_licenses == ["Apache-2.0"]


async def test_dependent_packages_pass_latest_and_kind(make_ecosystems: MakeEcosystems) -> None:
    handler = script(ok(eco("registries_dependent_packages.json")))

    page = await make_ecosystems(handler).dependent_packages(
        Ecosystem.PYPI, "requests", page=3, per_page=2, latest=False, kind="runtime"
    )

    request = handler.last
    assert request.url.path == "/api/v1/registries/pypi.org/packages/requests/dependent_packages"
    assert request.url.params["latest"] == "false"
    assert request.url.params["kind"] == "runtime"
    assert request.url.params["page"] == "3"
    assert [p.name for p in page.items] == ["httpie", "kubernetes"]
    assert page.next_cursor == 4


async def test_owner_profile_with_funding_and_sponsors_flag(
    make_ecosystems: MakeEcosystems,
) -> None:
    handler = script(ok(eco("hosts_owner.json")))

    owner = await make_ecosystems(handler).owner("home-assistant")

    assert handler.last.url.path == "/api/v1/hosts/GitHub/owners/home-assistant"
    assert owner.kind == "organization"
    assert owner.website == "https://www.home-assistant.io"
    assert owner.email == "hello@home-assistant.io"
    assert owner.location is None
    assert owner.funding_links == ["https://www.openhomefoundation.org"]
    assert owner.metadata.has_sponsors_listing is False


async def test_without_mailto_no_mailto_parameter_is_sent(make_ecosystems: MakeEcosystems) -> None:
    handler = script(ok(eco("hosts_owner.json")))

    await make_ecosystems(handler, mailto="").owner("home-assistant")

    assert "mailto" not in handler.last.url.params


async def test_unknown_package_is_not_found(make_ecosystems: MakeEcosystems) -> None:
    handler = script(ok(eco("not_found.json"), status=404))

    with pytest.raises(ProviderNotFound):
        await make_ecosystems(handler).package(Ecosystem.NPM, "no-such-package-anywhere")


async def test_rate_limited_answer_waits_for_the_reset(
    make_ecosystems: MakeEcosystems, sleeps: Sleeps, health: HealthRecorder
) -> None:
    limited = httpx.Response(
        429,
        json={"error_msg": "Rate limit exceeded. See https://ecosyste.ms/api for details."},
        headers={
            "x-ratelimit-limit": "15000",
            "x-ratelimit-remaining": "0",
            "x-ratelimit-reset": str(int(NOW) + 20),
            "x-ratelimit-tier": "polite",
        },
    )
    handler = script(
        limited, ok(eco("hosts_owner.json"), headers={"x-ratelimit-remaining": "14999"})
    )

    owner = await make_ecosystems(handler).owner("home-assistant")

    assert owner.login == "home-assistant"
    assert sleeps.delays == [20.0]
    assert health.retries == 1
    assert health.rate_limit_remaining == 14999


async def test_settings_configure_urls_and_mailto(
    http_client: Callable[[Script], httpx.AsyncClient],
) -> None:
    settings = Settings(
        _env_file=None,
        ecosystems_mailto=MAILTO,
        ecosystems_repos_url="https://repos.example.test/api/v1/",
    )

    provider = EcosystemsProvider.from_settings(settings, http_client(script()))

    assert provider.repos_url == "https://repos.example.test/api/v1"
    assert provider.mailto == MAILTO


def test_settings_refuse_a_mailto_that_is_not_an_address() -> None:
    with pytest.raises(ValueError, match="ECOSYSTEMS_MAILTO"):
        Settings(_env_file=None, ecosystems_mailto="not-an-address")
