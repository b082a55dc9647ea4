from collections.abc import Callable

import httpx
import pytest

from tests.providers.conftest import Script, load, ok, script
from wump.ingest.identity import Ecosystem
from wump.providers.base import HealthRecorder, ProviderNotFound, RetryPolicy, UnsupportedRequest
from wump.providers.depsdev import DepsDevProvider

MakeDepsDev = Callable[[Script], DepsDevProvider]


@pytest.fixture
def make_depsdev(
    http_client: Callable[[Script], httpx.AsyncClient], policy: RetryPolicy, health: HealthRecorder
) -> MakeDepsDev:
    def make(handler: Script) -> DepsDevProvider:
        return DepsDevProvider(http_client(handler), policy=policy, health=health)

    return make


def dd(name: str) -> object:
    return load("depsdev", name)


async def test_get_package_encodes_scoped_names_and_finds_the_default_version(
    make_depsdev: MakeDepsDev,
) -> None:
    handler = script(ok(dd("get_package.json")))

    package = await make_depsdev(handler).package(Ecosystem.NPM, "@types/node")

    assert handler.last.url.host == "api.deps.dev"
    assert handler.last.url.raw_path == b"/v3/systems/npm/packages/%40types%2Fnode"
    assert package.package_key.name == "@types/node"
    assert len(package.versions) == 3
    assert package.default_version == "22.13.5"


async def test_get_version_maps_the_package_to_its_source_repository(
    make_depsdev: MakeDepsDev,
) -> None:
    handler = script(ok(dd("get_version.json")))

    version = await make_depsdev(handler).version(Ecosystem.PYPI, "requests", "2.32.3")

    assert handler.last.url.raw_path == b"/v3/systems/pypi/packages/requests/versions/2.32.3"
    assert version.source_repository == "github.com/psf/requests"
    assert version.licenses == ["Apache-2.0"]
    assert version.is_default is True


async def test_version_without_source_repo_relation_has_none(make_depsdev: MakeDepsDev) -> None:
    body = {"versionKey": {"system": "NPM", "name": "left-pad", "version": "1.3.0"}}
    handler = script(ok(body))

    version = await make_depsdev(handler).version(Ecosystem.NPM, "left-pad", "1.3.0")

    assert version.source_repository is None
    assert version.related_projects == []


async def test_dependents_use_v3alpha_and_read_all_three_counts(
    make_depsdev: MakeDepsDev,
) -> None:
    handler = script(ok(dd("get_dependents.json")))

    dependents = await make_depsdev(handler).dependents(Ecosystem.PYPI, "requests", "2.32.3")

    assert handler.last.url.raw_path == (
        b"/v3alpha/systems/pypi/packages/requests/versions/2.32.3:dependents"
    )
    assert dependents.dependent_count == 391204
    assert dependents.direct_dependent_count == 71542
    assert dependents.indirect_dependent_count == 330877


async def test_zero_counts_left_out_by_proto_json_read_as_zero(make_depsdev: MakeDepsDev) -> None:
    handler = script(ok({"dependentCount": 3, "indirectDependentCount": 3}))

    dependents = await make_depsdev(handler).dependents(Ecosystem.CARGO, "tiny", "0.1.0")

    assert dependents.direct_dependent_count == 0


async def test_project_scorecard(make_depsdev: MakeDepsDev) -> None:
    handler = script(ok(dd("get_project.json")))

    project = await make_depsdev(handler).project("github.com/psf/requests")

    assert handler.last.url.raw_path == b"/v3/projects/github.com%2Fpsf%2Frequests"
    assert project.stars_count == 52493
    assert project.scorecard is not None
    assert project.scorecard.overall_score == pytest.approx(6.9)
    checks = {check.name: check.score for check in project.scorecard.checks}
    assert checks["Maintained"] == 10
    assert checks["Packaging"] == -1


async def test_unknown_version_is_not_found(make_depsdev: MakeDepsDev) -> None:
    handler = script(ok(dd("not_found.json"), status=404))

    with pytest.raises(ProviderNotFound):
        await make_depsdev(handler).version(Ecosystem.NPM, "left-pad", "9.9.9")


@pytest.mark.parametrize("ecosystem", [Ecosystem.GEM, Ecosystem.COMPOSER, Ecosystem.GITHUB])
async def test_ecosystems_deps_dev_lacks_are_refused_without_a_request(
    make_depsdev: MakeDepsDev, ecosystem: Ecosystem
) -> None:
    handler = script()

    with pytest.raises(UnsupportedRequest):
        await make_depsdev(handler).package(ecosystem, "anything")
    assert handler.requests == []
