import json
import re
from pathlib import Path
from typing import Any

import pytest

from wump.ingest.identity import Ecosystem
from wump.ingest.parsers import sbom
from wump.ingest.parsers.base import ManifestError, ParseResult
from wump.models.enums import DependencyType

FIXTURES = Path(__file__).parents[2] / "fixtures"
SBOMS = FIXTURES / "manifests" / "sbom"

RUNTIME = DependencyType.RUNTIME
DEV = DependencyType.DEVELOPMENT
OPTIONAL = DependencyType.OPTIONAL
BUILD = DependencyType.BUILD

# (ecosystem, name, requirement, type, direct)
Row = tuple[Ecosystem, str, str, DependencyType, bool]


def rows(result: ParseResult) -> set[Row]:
    return {
        (d.ecosystem, d.name, d.requirement, d.dependency_type, d.is_direct)
        for d in result.dependencies
    }


def fixture(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text())
    return document


def spdx(packages: list[dict[str, Any]], relationships: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "spdxVersion": "SPDX-2.3",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": "example",
        "packages": packages,
        "relationships": relationships,
    }


def package(ref: str, purl: str | None = None, **fields: Any) -> dict[str, Any]:
    refs = [
        {"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": purl}
    ]
    return {"SPDXID": ref, "name": ref, **({"externalRefs": refs} if purl else {}), **fields}


def rel(source: str, kind: str, target: str) -> dict[str, str]:
    return {"spdxElementId": source, "relationshipType": kind, "relatedSpdxElement": target}


def cyclonedx(components: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    return {"bomFormat": "CycloneDX", "specVersion": "1.6", "components": components, **fields}


def test_github_dependency_graph_export_reads_packages_graph_and_repository() -> None:
    response = fixture(FIXTURES / "github" / "dependency_graph_sbom.json")

    result = sbom.parse_sbom("acme-labs/weather-station", response["sbom"])

    assert rows(result) == {
        (Ecosystem.PYPI, "flask", "3.0.3", RUNTIME, True),
        (Ecosystem.PYPI, "requests", ">= 2.31.0", RUNTIME, True),
        (Ecosystem.PYPI, "flask-sqlalchemy", "3.1.1", RUNTIME, True),
        (Ecosystem.PYPI, "sphinx-autobuild", "*", RUNTIME, True),
        (Ecosystem.NPM, "express", "4.19.2", RUNTIME, True),
        (Ecosystem.NPM, "accepts", "1.3.8", RUNTIME, False),
        (Ecosystem.NPM, "mime-types", "2.1.35", RUNTIME, False),
        (Ecosystem.NPM, "@types/node", "^20.11.30", RUNTIME, True),
        (Ecosystem.NPM, "lodash", "4.17.21", RUNTIME, True),
        (Ecosystem.GITHUB, "actions/checkout", "4.*.*", BUILD, True),
        (Ecosystem.GITHUB, "actions/setup-python", "5.*.*", BUILD, True),
        (Ecosystem.GITHUB, "acme-labs/shared-workflows", "main", BUILD, True),
    }
    # lodash is listed once per manifest; the repository itself is no dependency.
    assert len(result.dependencies) == 12
    assert result.skipped == []
    assert result.repository == "acme-labs/weather-station"
    assert {d.manifest_path for d in result.dependencies} == {"acme-labs/weather-station"}


def test_saved_github_api_response_parses_like_the_document_inside() -> None:
    path = FIXTURES / "github" / "dependency_graph_sbom.json"

    from_file = sbom.parse("sbom.json", path.read_text())
    from_api = sbom.parse_sbom("sbom.json", fixture(path)["sbom"])

    assert from_file == from_api


def test_spdx_without_relationships_counts_every_package_as_direct() -> None:
    text = (SBOMS / "inventory-api.spdx.json").read_text()

    result = sbom.parse("inventory-api.spdx.json", text)

    assert rows(result) == {
        (Ecosystem.PYPI, "django", "5.0.4", RUNTIME, True),
        (Ecosystem.NPM, "left-pad", "1.3.0", RUNTIME, True),
        (Ecosystem.CARGO, "serde", "1.0.197", RUNTIME, True),
        (Ecosystem.GOLANG, "github.com/gorilla/mux", "v1.8.1", RUNTIME, True),
        (Ecosystem.MAVEN, "com.fasterxml.jackson.core:jackson-databind", "2.17.0", RUNTIME, True),
        (Ecosystem.GEM, "rack", "*", RUNTIME, True),
    }
    assert result.skipped == [
        "openssl: 'deb' packages are not supported",
        "libyaml: no package URL",
    ]
    assert result.repository is None


def test_spdx_typed_relationships_give_types_and_follow_the_weakest_link() -> None:
    document = spdx(
        [
            package("SPDXRef-app"),
            package("SPDXRef-flask", "pkg:pypi/flask@3.0.3", versionInfo="3.0.3"),
            package("SPDXRef-pytest", "pkg:pypi/pytest@8.2.2", versionInfo="8.2.2"),
            package("SPDXRef-pluggy", "pkg:pypi/pluggy@1.5.0", versionInfo="1.5.0"),
            package("SPDXRef-ruff", "pkg:pypi/ruff@0.4.4", versionInfo="0.4.4"),
            package("SPDXRef-hatch", "pkg:pypi/hatchling@1.24.2", versionInfo="1.24.2"),
            package("SPDXRef-ujson", "pkg:pypi/ujson@5.10.0", versionInfo="5.10.0"),
            package("SPDXRef-click", "pkg:pypi/click@8.1.7", versionInfo="8.1.7"),
            package("SPDXRef-stray", "pkg:pypi/stray@1.0", versionInfo="1.0"),
        ],
        [
            rel("SPDXRef-DOCUMENT", "DESCRIBES", "SPDXRef-app"),
            rel("SPDXRef-flask", "DEPENDENCY_OF", "SPDXRef-app"),
            rel("SPDXRef-pytest", "TEST_DEPENDENCY_OF", "SPDXRef-app"),
            rel("SPDXRef-pytest", "DEPENDS_ON", "SPDXRef-pluggy"),
            rel("SPDXRef-ruff", "DEV_DEPENDENCY_OF", "SPDXRef-app"),
            rel("SPDXRef-hatch", "BUILD_DEPENDENCY_OF", "SPDXRef-app"),
            rel("SPDXRef-ujson", "OPTIONAL_DEPENDENCY_OF", "SPDXRef-app"),
            # click comes with ruff (dev) and with flask (runtime): runtime wins.
            rel("SPDXRef-ruff", "DEPENDS_ON", "SPDXRef-click"),
            rel("SPDXRef-click", "DEPENDENCY_OF", "SPDXRef-flask"),
        ],
    )

    result = sbom.parse_sbom("app.spdx.json", document)

    assert rows(result) == {
        (Ecosystem.PYPI, "flask", "3.0.3", RUNTIME, True),
        (Ecosystem.PYPI, "pytest", "8.2.2", DependencyType.TEST, True),
        (Ecosystem.PYPI, "pluggy", "1.5.0", DependencyType.TEST, False),
        (Ecosystem.PYPI, "ruff", "0.4.4", DEV, True),
        (Ecosystem.PYPI, "hatchling", "1.24.2", BUILD, True),
        (Ecosystem.PYPI, "ujson", "5.10.0", OPTIONAL, True),
        (Ecosystem.PYPI, "click", "8.1.7", RUNTIME, False),
        (Ecosystem.PYPI, "stray", "1.0", RUNTIME, False),
    }


def test_spdx_graph_that_never_leaves_the_project_counts_every_package_as_direct() -> None:
    # Like a filesystem scan: packages depend on each other, the project on nothing.
    document = spdx(
        [
            package("SPDXRef-dir"),
            package("SPDXRef-a", "pkg:npm/a@1.0.0", versionInfo="1.0.0"),
            package("SPDXRef-b", "pkg:npm/b@2.0.0", versionInfo="2.0.0"),
        ],
        [
            rel("SPDXRef-DOCUMENT", "DESCRIBES", "SPDXRef-dir"),
            rel("SPDXRef-dir", "CONTAINS", "SPDXRef-a"),
            rel("SPDXRef-b", "DEPENDENCY_OF", "SPDXRef-a"),
        ],
    )

    result = sbom.parse_sbom("scan.spdx.json", document)

    assert {(d.name, d.is_direct) for d in result.dependencies} == {("a", True), ("b", True)}


@pytest.mark.parametrize(
    ("root", "name", "expected"),
    [
        (
            {
                "externalRefs": [
                    {
                        "referenceCategory": "PACKAGE_MANAGER",
                        "referenceType": "purl",
                        "referenceLocator": "pkg:github/octo/widgets@v2",
                    }
                ]
            },
            "x",
            "octo/widgets",
        ),
        (
            {"downloadLocation": "git+https://github.com/octo/widgets.git@v1.0#src"},
            "x",
            "octo/widgets",
        ),
        ({"downloadLocation": "git+ssh://git@github.com/octo/widgets"}, "x", "octo/widgets"),
        ({"downloadLocation": "NOASSERTION"}, "com.github.octo/widgets", "octo/widgets"),
        ({"downloadLocation": "git+https://gitlab.com/octo/widgets"}, "github/example", None),
        ({"downloadLocation": "https://github.com/octo"}, "octo/widgets", None),
    ],
)
def test_spdx_names_the_github_repository_it_describes(
    root: dict[str, Any], name: str, expected: str | None
) -> None:
    document = spdx([{"SPDXID": "SPDXRef-root", "name": name, **root}], [])
    document["documentDescribes"] = ["SPDXRef-root"]
    document["name"] = name

    assert sbom.parse_sbom("x.spdx.json", document).repository == expected


def test_cyclonedx_1_4_maven_bom_with_nested_components() -> None:
    text = (SBOMS / "inventory-service-1.4.cdx.json").read_text()

    result = sbom.parse("bom.json", text)

    assert rows(result) == {
        (
            Ecosystem.MAVEN,
            "org.springframework.boot:spring-boot-starter-web",
            "3.2.5",
            RUNTIME,
            True,
        ),
        (Ecosystem.MAVEN, "com.fasterxml.jackson.core:jackson-databind", "2.15.4", RUNTIME, False),
        (Ecosystem.MAVEN, "com.fasterxml.jackson.core:jackson-core", "2.15.4", RUNTIME, False),
        (Ecosystem.MAVEN, "io.netty:netty-all", "4.1.109.Final", RUNTIME, True),
        (Ecosystem.MAVEN, "io.netty:netty-buffer", "4.1.109.Final", RUNTIME, False),
        (Ecosystem.MAVEN, "io.netty:netty-codec-http", "4.1.109.Final", RUNTIME, False),
        (Ecosystem.MAVEN, "org.postgresql:postgresql", "42.7.3", OPTIONAL, True),
    }
    assert result.skipped == [
        "org.junit.jupiter/junit-jupiter@5.10.2: excluded scope, not used by the project"
    ]
    assert result.repository == "example-org/inventory-service"


def test_cyclonedx_1_5_npm_sbom_marks_development_and_optional_packages() -> None:
    text = (SBOMS / "web-dashboard-1.5.cdx.json").read_text()

    result = sbom.parse("web-dashboard.cdx.json", text)

    assert rows(result) == {
        (Ecosystem.NPM, "react", "18.3.1", RUNTIME, True),
        (Ecosystem.NPM, "react-dom", "18.3.1", RUNTIME, True),
        (Ecosystem.NPM, "scheduler", "0.23.2", RUNTIME, False),
        (Ecosystem.NPM, "loose-envify", "1.4.0", RUNTIME, False),
        (Ecosystem.NPM, "js-tokens", "4.0.0", RUNTIME, False),
        (Ecosystem.NPM, "vite", "5.3.4", DEV, True),
        (Ecosystem.NPM, "@types/react", "18.3.3", DEV, True),
        (Ecosystem.NPM, "debug", "4.3.5", DEV, False),
        (Ecosystem.NPM, "ms", "2.1.2", DEV, False),
        (Ecosystem.NPM, "fsevents", "2.3.3", OPTIONAL, True),
    }
    assert result.skipped == []
    assert result.repository == "acme-corp/web-dashboard"


def test_cyclonedx_1_6_counts_the_projects_own_modules_as_the_project() -> None:
    text = (SBOMS / "ml-pipeline-1.6.cdx.json").read_text()

    result = sbom.parse("sbom.json", text)

    assert rows(result) == {
        (Ecosystem.PYPI, "numpy", "1.26.4", RUNTIME, True),
        (Ecosystem.PYPI, "pandas", "2.2.2", RUNTIME, True),
        (Ecosystem.PYPI, "python-dateutil", "2.9.0.post0", RUNTIME, False),
        (Ecosystem.PYPI, "six", "1.16.0", RUNTIME, False),
        # Required by the project's own ml-pipeline-core module.
        (Ecosystem.PYPI, "torch", "2.3.1", RUNTIME, True),
        (Ecosystem.PYPI, "tqdm", "*", OPTIONAL, True),
        (Ecosystem.GITHUB, "actions/checkout", "v4", BUILD, True),
        (Ecosystem.GITHUB, "actions/cache", "v4", BUILD, True),
    }
    assert result.skipped == [
        "pytest@8.2.2: excluded scope, not used by the project",
        "openssl@3.0.13: 'generic' packages are not supported",
        "model-weights.safetensors: no package URL",
    ]
    assert result.repository == "acme-corp/ml-pipeline"


@pytest.mark.parametrize("version", sbom.CYCLONEDX_VERSIONS)
def test_cyclonedx_without_dependency_graph_counts_every_component_as_direct(
    version: str,
) -> None:
    document = cyclonedx(
        [
            {"type": "library", "name": "rails", "version": "7.1.3", "purl": "pkg:gem/rails@7.1.3"},
            # No version field: the purl's version stands in.
            {
                "type": "library",
                "name": "Newtonsoft.Json",
                "purl": "pkg:nuget/Newtonsoft.Json@13.0.3",
            },
            {"type": "library", "name": "ktor", "purl": "pkg:maven/io.ktor/ktor-server-core"},
        ],
        specVersion=version,
    )

    result = sbom.parse_sbom("bom.json", document)

    assert rows(result) == {
        (Ecosystem.GEM, "rails", "7.1.3", RUNTIME, True),
        (Ecosystem.NUGET, "Newtonsoft.Json", "13.0.3", RUNTIME, True),
        (Ecosystem.MAVEN, "io.ktor:ktor-server-core", "*", RUNTIME, True),
    }
    assert result.repository is None


def test_duplicate_components_collapse_to_the_strongest_type() -> None:
    document = cyclonedx(
        [
            {
                "name": "lodash",
                "version": "4.17.20",
                "scope": "optional",
                "purl": "pkg:npm/lodash@4.17.20",
            },
            {"name": "lodash", "version": "4.17.21", "purl": "pkg:npm/lodash@4.17.21"},
        ]
    )

    result = sbom.parse_sbom("bom.json", document)

    assert rows(result) == {(Ecosystem.NPM, "lodash", "4.17.21", RUNTIME, True)}


def test_invalid_package_urls_are_skipped_with_the_reason() -> None:
    document = spdx([package("SPDXRef-x", "npm/left-pad@1.3.0")], [])

    result = sbom.parse_sbom("x.spdx.json", document)

    assert result.dependencies == []
    assert len(result.skipped) == 1
    assert result.skipped[0].startswith("SPDXRef-x: not a valid purl")


@pytest.mark.parametrize("kind", ["spdx", "cyclonedx"])
def test_huge_generated_sbom_parses_every_package_and_the_graph(kind: str) -> None:
    count, fanout = 10_000, 100
    # The project needs the first hundred packages; each package needs the one a hundred on.
    document = huge_spdx(count, fanout) if kind == "spdx" else huge_cyclonedx(count, fanout)

    result = sbom.parse(f"huge.{kind}.json", json.dumps(document))

    assert len(result.dependencies) == count
    assert result.skipped == []
    direct = {d.name for d in result.dependencies if d.is_direct}
    assert direct == {f"pkg-{i}" for i in range(fanout)}
    last = result.dependencies[-1]
    assert (last.name, last.requirement, last.is_direct) == (
        f"pkg-{count - 1}",
        f"1.0.{count - 1}",
        False,
    )


def huge_spdx(count: int, fanout: int) -> dict[str, Any]:
    packages = [package("SPDXRef-root")] + [
        package(f"SPDXRef-{i}", f"pkg:npm/pkg-{i}@1.0.{i}", versionInfo=f"1.0.{i}")
        for i in range(count)
    ]
    edges = [rel("SPDXRef-DOCUMENT", "DESCRIBES", "SPDXRef-root")]
    edges += [rel("SPDXRef-root", "DEPENDS_ON", f"SPDXRef-{i}") for i in range(fanout)]
    edges += [
        rel(f"SPDXRef-{i}", "DEPENDS_ON", f"SPDXRef-{i + fanout}") for i in range(count - fanout)
    ]
    return spdx(packages, edges)


def huge_cyclonedx(count: int, fanout: int) -> dict[str, Any]:
    components = [
        {
            "bom-ref": f"ref-{i}",
            "name": f"pkg-{i}",
            "version": f"1.0.{i}",
            "purl": f"pkg:npm/pkg-{i}@1.0.{i}",
        }
        for i in range(count)
    ]
    dependencies = [{"ref": "root", "dependsOn": [f"ref-{i}" for i in range(fanout)]}]
    dependencies += [
        {"ref": f"ref-{i}", "dependsOn": [f"ref-{i + fanout}"]} for i in range(count - fanout)
    ]
    return cyclonedx(
        components,
        metadata={"component": {"bom-ref": "root", "name": "app"}},
        dependencies=dependencies,
    )


@pytest.mark.parametrize(
    "name",
    [
        "app.spdx.json",
        "reports/bom.json",
        "sbom.json",
        "app.sbom.json",
        "app.cdx.json",
        "my-spdx-export.json",
    ],
)
def test_sbom_parser_claims_sbom_file_names(name: str) -> None:
    assert sbom.PARSERS[0].matches(name)


@pytest.mark.parametrize("name", ["package.json", "composer.json", "bom.xml", "app.spdx"])
def test_sbom_parser_leaves_other_file_names_alone(name: str) -> None:
    assert not sbom.PARSERS[0].matches(name)


def test_broken_json_names_the_line() -> None:
    text = '{\n  "spdxVersion": "SPDX-2.3",\n  "packages": [\n    {"name": "x",}\n  ]\n}\n'

    with pytest.raises(ManifestError) as caught:
        sbom.parse("sbom.json", text)

    assert caught.value.line == 4
    assert str(caught.value).startswith("sbom.json:4: invalid JSON")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[]", "expected a JSON object at the top level"),
        ('"SPDX-2.3"', "expected a JSON object at the top level"),
        ('{"name": "app", "packages": []}', 'neither SPDX ("spdxVersion") nor CycloneDX'),
        (
            '{"bomFormat": "SPDX", "specVersion": "1.5"}',
            'neither SPDX ("spdxVersion") nor CycloneDX',
        ),
    ],
)
def test_json_that_is_no_sbom_is_refused(text: str, message: str) -> None:
    with pytest.raises(ManifestError, match=re.escape(message)):
        sbom.parse("bom.json", text)


@pytest.mark.parametrize("version", ["SPDX-3.0", "SPDX-1.2", "2.3", 2.3, None])
def test_unsupported_spdx_version_is_refused(version: object) -> None:
    document = spdx([], [])
    document["spdxVersion"] = version

    with pytest.raises(ManifestError, match="spdxVersion"):
        sbom.parse_sbom("x.spdx.json", document)


@pytest.mark.parametrize("version", ["1.0", "1.1", "1.7", "2.0", 1.5, None])
def test_unsupported_cyclonedx_spec_version_is_refused(version: object) -> None:
    document = cyclonedx([], specVersion=version)

    with pytest.raises(ManifestError, match="specVersion"):
        sbom.parse_sbom("bom.json", document)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (spdx({"a": 1}, []), "packages is not a list"),  # type: ignore[arg-type]
        (spdx([package("SPDXRef-a"), "left-pad"], []), r"packages\[1\] is not an object"),  # type: ignore[list-item]
        (
            spdx([package("SPDXRef-a", versionInfo=1)], []),
            r"packages\[0\].versionInfo is not a string",
        ),
        (
            spdx([{"SPDXID": "a", "externalRefs": ["pkg:npm/a"]}], []),
            r"packages\[0\].externalRefs\[0\] is not an object",
        ),
        (
            spdx([], [{"spdxElementId": "a", "relationshipType": "DEPENDS_ON"}]),
            r"relationships\[0\].relatedSpdxElement is missing",
        ),
        (
            {**spdx([], []), "documentDescribes": "SPDXRef-a"},
            "documentDescribes is not a list of strings",
        ),
        (cyclonedx([{"name": "a", "components": {}}]), r"components\[0\].components is not a list"),
        (
            cyclonedx([{"name": "a", "components": [{"name": "b", "purl": 7}]}]),
            r"components\[0\].components\[0\].purl is not a string",
        ),
        (
            cyclonedx([], dependencies=[{"ref": "a", "dependsOn": "b"}]),
            r"dependencies\[0\].dependsOn is not a list of strings",
        ),
        (cyclonedx([], metadata=[]), "metadata is not an object"),
        (cyclonedx([], metadata={"component": "app"}), "metadata.component is not an object"),
    ],
)
def test_malformed_document_names_the_key(document: dict[str, Any], message: str) -> None:
    with pytest.raises(ManifestError, match=message):
        sbom.parse_sbom("doc.json", document)
