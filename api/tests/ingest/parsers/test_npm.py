import json
import time
from pathlib import Path
from typing import Any

import pytest

from wump.ingest.identity import Ecosystem
from wump.ingest.parsers import ManifestError, ParseResult, detect, parse_file, parse_text
from wump.ingest.parsers.npm import (
    parse_package_json,
    parse_package_lock,
    parse_pnpm_lock,
    parse_yarn_lock,
)
from wump.models.enums import DependencyType

FIXTURES = Path(__file__).parents[2] / "fixtures" / "manifests" / "npm"
RUNTIME, DEV, OPTIONAL, PEER = (
    DependencyType.RUNTIME,
    DependencyType.DEVELOPMENT,
    DependencyType.OPTIONAL,
    DependencyType.PEER,
)


def summary(result: ParseResult) -> dict[str, tuple[str, DependencyType, bool]]:
    return {d.name: (d.requirement, d.dependency_type, d.is_direct) for d in result.dependencies}


def fixture(relative: str) -> ParseResult:
    return parse_file(FIXTURES / relative, display_path=relative)


# package.json -----------------------------------------------------------------------------


def test_package_json_types_each_dependency_map_and_resolves_aliases() -> None:
    result = fixture("app/package.json")

    assert summary(result) == {
        # Also a peer dependency; runtime is the stronger.
        "react": ("^18.2.0", RUNTIME, True),
        "react-dom": ("^18.2.0", RUNTIME, True),
        # Also under devDependencies and, as the alias "lodash3", again under dependencies.
        "lodash": ("~4.17.21", RUNTIME, True),
        "string-width": ("^4.2.0", RUNTIME, True),
        "axios": ("1.6.2", RUNTIME, True),
        "fsevents": ("^2.3.3", OPTIONAL, True),
        "styled-components": ("^6", PEER, True),
        "typescript": ("^5.3.2", DEV, True),
        "@types/react": ("^18.2.39", DEV, True),
        "eslint": (">=8.0.0 <9", DEV, True),
        "jest": ("latest", DEV, True),
    }
    assert {d.ecosystem for d in result.dependencies} == {Ecosystem.NPM}
    assert {d.manifest_path for d in result.dependencies} == {"app/package.json"}


def test_package_json_skips_workspace_local_git_and_url_specs() -> None:
    result = fixture("app/package.json")

    assert result.skipped == [
        "@acme/ui@workspace:*",
        "local-utils@file:../local-utils",
        "linked@link:../linked",
        "left-pad-fork@github:acme/left-pad#v1.3.0",
        "legacy-widget@git+https://github.com/acme/legacy-widget.git#semver:^2.0.0",
        "tarball-pkg@https://cdn.example.com/tarball-pkg-1.0.0.tgz",
        "shorthand@acme/shorthand",
    ]


def test_package_json_with_bom_and_crlf_reads_peers_and_bundled_true() -> None:
    raw = (FIXTURES / "lib" / "package.json").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert b"\r\n" in raw

    result = fixture("lib/package.json")

    assert summary(result) == {
        "date-fns": ("^2.30.0", RUNTIME, True),
        # An empty range means any version.
        "clsx": ("*", RUNTIME, True),
        # A peer for users, a dev dependency for the library's own tests: peer is stronger.
        "react": ("^17.0.0 || ^18.0.0", PEER, True),
        "react-dom": ("^17.0.0 || ^18.0.0", PEER, True),
        "vite": ("^5.0.4", DEV, True),
    }


def test_package_json_bundle_dependencies_are_runtime() -> None:
    text = json.dumps(
        {
            "devDependencies": {"left-pad": "^1.3.0"},
            "bundleDependencies": ["left-pad", "vendored-only"],
        }
    )
    result = parse_package_json("package.json", text)

    assert summary(result) == {
        "left-pad": ("*", RUNTIME, True),
        "vendored-only": ("*", RUNTIME, True),
    }


def test_zero_byte_and_empty_object_package_json_have_no_dependencies() -> None:
    assert (FIXTURES / "empty" / "package.json").stat().st_size == 0

    assert fixture("empty/package.json").dependencies == []
    assert parse_package_json("package.json", "{}").dependencies == []
    assert parse_package_json("package.json", "  \n").dependencies == []


def test_package_json_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(ManifestError, match="expected a JSON object"):
        parse_package_json("package.json", "[]")


def test_package_json_dependencies_of_the_wrong_type_name_the_key() -> None:
    with pytest.raises(ManifestError, match="'devDependencies' must be an object"):
        parse_package_json("package.json", '{"devDependencies": ["jest"]}')


def test_broken_package_json_reports_the_line() -> None:
    text = '{\n  "name": "x",\n  "dependencies": {\n    "a": "^1",,\n  }\n}\n'

    with pytest.raises(ManifestError) as caught:
        parse_text("web/package.json", text)

    assert caught.value.path == "web/package.json"
    assert caught.value.line == 4


# package-lock.json / npm-shrinkwrap.json ----------------------------------------------------


def test_package_lock_v3_reads_the_packages_map_of_a_workspace() -> None:
    result = fixture("app/package-lock.json")

    assert summary(result) == {
        "@babel/code-frame": ("7.23.5", DEV, False),
        "@babel/highlight": ("7.23.4", DEV, False),
        # A dev-only 2.4.2 is nested under @babel/highlight; the hoisted runtime 4.1.2 wins.
        "chalk": ("4.1.2", RUNTIME, True),
        "fsevents": ("2.3.3", OPTIONAL, True),
        "js-tokens": ("4.0.0", RUNTIME, False),
        "lodash": ("4.17.21", RUNTIME, True),
        "loose-envify": ("1.4.0", RUNTIME, False),
        "nan": ("2.18.0", DEV, False),
        "react": ("18.2.0", RUNTIME, True),
        # A peer of the packages/ui workspace.
        "react-dom": ("18.2.0", PEER, True),
        "scheduler": ("0.23.0", PEER, False),
        # Installed as the alias string-width-cjs.
        "string-width": ("4.2.3", RUNTIME, True),
        "typescript": ("5.3.2", DEV, True),
        # Installed under the workspace's own node_modules.
        "classnames": ("2.3.2", RUNTIME, True),
    }
    # The linked workspace member and the extraneous package are neither listed nor skipped.
    assert result.skipped == [
        "left-pad-fork@git+ssh://git@github.com/acme/left-pad.git"
        "#5d2a5b1a4c3e2f1d0c9b8a7f6e5d4c3b2a1f0e9d"
    ]


def test_package_lock_v1_walks_the_nested_dependencies_tree() -> None:
    result = fixture("legacy/package-lock.json")

    assert summary(result) == {
        "accepts": ("1.3.8", RUNTIME, False),
        "debug": ("2.6.9", RUNTIME, False),
        "express": ("4.18.2", RUNTIME, False),
        "mocha": ("10.2.0", DEV, False),
        "fsevents": ("2.3.3", OPTIONAL, False),
        "strip-ansi": ("6.0.1", RUNTIME, False),
        # Only nested (under debug and under mocha's own debug).
        "ms": ("2.0.0", RUNTIME, False),
    }
    assert result.skipped == [
        "local-lib@file:../local-lib",
        "my-fork@github:acme/my-fork#0123abc4567def89012345abcdef6789012345ab",
    ]


def test_npm_shrinkwrap_v2_is_read_like_a_package_lock() -> None:
    chosen = detect("cli-tool/npm-shrinkwrap.json")
    assert chosen is not None
    assert chosen.name == "package-lock.json"

    result = fixture("cli-tool/npm-shrinkwrap.json")

    assert summary(result) == {
        "commander": ("11.1.0", RUNTIME, True),
        "prettier": ("3.1.0", DEV, True),
    }


@pytest.mark.parametrize("version", [0, 4, "3", None])
def test_package_lock_with_unknown_lockfile_version_names_the_key(version: object) -> None:
    text = json.dumps({"name": "x", "lockfileVersion": version, "packages": {}})

    with pytest.raises(ManifestError, match=r"package-lock.json: unsupported lockfileVersion"):
        parse_package_lock("package-lock.json", text)


def test_package_lock_entries_of_the_wrong_shape_are_skipped() -> None:
    packages = {
        "": {"dependencies": ["not", "an", "object"]},
        "node_modules/ok": {"version": "1.0.0"},
        "node_modules/linked": {"link": True, "resolved": ["odd"]},
        "node_modules/bad name": {"version": "1.0.0"},
        "node_modules/unversioned": {},
        "node_modules/scalar": "1.0.0",
    }
    text = json.dumps({"lockfileVersion": 3, "packages": packages})

    result = parse_package_lock("package-lock.json", text)

    assert summary(result) == {"ok": ("1.0.0", RUNTIME, False)}
    assert result.skipped == ["linked@['odd']", "bad name@1.0.0", "unversioned@?"]


def test_zero_byte_package_lock_has_no_dependencies() -> None:
    assert parse_package_lock("package-lock.json", "").dependencies == []


def test_huge_package_lock_v3_counts_every_install() -> None:
    packages: dict[str, Any] = {
        "": {
            "name": "big",
            "dependencies": {f"pkg-{i}": "^1.0.0" for i in range(0, 20_000, 10)},
            "devDependencies": {f"pkg-{i}": "^1.0.0" for i in range(5, 20_000, 10)},
        }
    }
    for i in range(20_000):
        entry: dict[str, Any] = {
            "version": f"1.0.{i}",
            "resolved": f"https://registry.npmjs.org/pkg-{i}/-/pkg-{i}-1.0.{i}.tgz",
            "integrity": "sha512-" + "A" * 86 + "==",
        }
        if i % 10 >= 5:
            entry["dev"] = True
        packages[f"node_modules/pkg-{i}"] = entry
    text = json.dumps({"name": "big", "lockfileVersion": 3, "packages": packages})

    started = time.perf_counter()
    result = parse_package_lock("package-lock.json", text)
    elapsed = time.perf_counter() - started

    assert len(result.dependencies) == 20_000
    assert sum(d.is_direct for d in result.dependencies) == 4_000
    assert sum(d.dependency_type is DEV for d in result.dependencies) == 10_000
    assert elapsed < 5


# yarn.lock --------------------------------------------------------------------------------


def test_yarn_v1_lock_with_crlf_reads_each_entry_once() -> None:
    assert b"\r\n" in (FIXTURES / "yarn-classic" / "yarn.lock").read_bytes()

    result = fixture("yarn-classic/yarn.lock")

    assert summary(result) == {
        "@babel/code-frame": ("7.23.5", RUNTIME, False),
        "@babel/highlight": ("7.23.4", RUNTIME, False),
        # chalk is locked at 2.4.2 and 4.1.2; the first one is kept.
        "chalk": ("2.4.2", RUNTIME, False),
        "js-tokens": ("4.0.0", RUNTIME, False),
        "lodash": ("4.17.21", RUNTIME, False),
        "string-width": ("4.2.3", RUNTIME, False),
    }
    assert result.skipped == [
        "left-pad@https://github.com/acme/left-pad/archive/v1.3.0.tar.gz",
        "local-thing@file:../local-thing",
        "my-fork@git+https://github.com/acme/my-fork.git#v2",
    ]


def test_yarn_v1_lock_with_a_malformed_header_reports_the_line() -> None:
    text = '# yarn lockfile v1\n\nlodash@^4.17.21:\n  version "4.17.21"\n\nnot a header\n'

    with pytest.raises(ManifestError) as caught:
        parse_yarn_lock("yarn.lock", text)

    assert caught.value.line == 6


def test_yarn_berry_lock_skips_workspaces_and_patches() -> None:
    result = fixture("yarn-berry/yarn.lock")

    assert summary(result) == {
        "ansi-regex": ("5.0.1", RUNTIME, False),
        "js-tokens": ("4.0.0", RUNTIME, False),
        "loose-envify": ("1.4.0", RUNTIME, False),
        "react-dom": ("18.2.0", PEER, True),
        "react": ("18.2.0", RUNTIME, True),
        # Asked for through the alias strip-ansi-cjs.
        "strip-ansi": ("6.0.1", RUNTIME, True),
        "typescript": ("5.3.2", RUNTIME, True),
    }
    assert result.skipped == [
        "my-fork@https://github.com/acme/my-fork.git#commit=0123abc4567def89012345abcdef6789012345ab"
    ]


def test_yarn_berry_lock_with_unknown_metadata_version_names_the_key() -> None:
    text = '__metadata:\n  version: 42\n  cacheKey: 10c0\n\n"a@npm:^1":\n  version: 1.0.0\n'

    with pytest.raises(ManifestError, match=r"unsupported __metadata.version 42"):
        parse_yarn_lock("yarn.lock", text)


def test_broken_yarn_berry_yaml_reports_the_line() -> None:
    text = '__metadata:\n  version: 8\n\n"a@npm:^1":\n  version: [1.0.0\n  resolution: x\n'

    with pytest.raises(ManifestError) as caught:
        parse_yarn_lock("yarn.lock", text)

    assert caught.value.line is not None
    assert caught.value.line >= 5


def test_huge_yarn_v1_lock_counts_every_entry() -> None:
    blocks = [
        f'"@scope/pkg-{i}@^1.0.0", "@scope/pkg-{i}@~1.0":\n'
        f'  version "1.0.{i}"\n'
        f'  resolved "https://registry.yarnpkg.com/@scope/pkg-{i}/-/pkg-{i}-1.0.{i}.tgz#{i:040x}"\n'
        f"  integrity sha512-{'B' * 86}==\n"
        f'  dependencies:\n    left-pad "^1.3.0"\n'
        for i in range(20_000)
    ]
    text = "# yarn lockfile v1\n\n\n" + "\n".join(blocks)

    result = parse_yarn_lock("yarn.lock", text)

    assert len(result.dependencies) == 20_000
    assert result.dependencies[-1].name == "@scope/pkg-19999"
    assert result.dependencies[-1].requirement == "1.0.19999"


def test_yarn_v1_entries_without_a_usable_name_are_skipped() -> None:
    text = (
        '# yarn lockfile v1\n\n"@^1.0.0":\n  version "1.0.0"\n\n'
        '"bad name@^1.0.0":\n  version "1.0.0"\n\nok@^2.0.0:\n  version "2.0.1"\n'
    )

    result = parse_yarn_lock("yarn.lock", text)

    assert summary(result) == {"ok": ("2.0.1", RUNTIME, False)}
    assert result.skipped == ["@^1.0.0", "bad name@^1.0.0"]


# pnpm-lock.yaml ---------------------------------------------------------------------------


def test_pnpm_v5_lock_uses_dev_and_optional_flags() -> None:
    result = fixture("pnpm-v5/pnpm-lock.yaml")

    assert summary(result) == {
        "@types/prop-types": ("15.7.11", DEV, False),
        "@types/react": ("18.2.39", DEV, True),
        "csstype": ("3.1.2", DEV, False),
        "fsevents": ("2.3.3", OPTIONAL, True),
        "js-tokens": ("4.0.0", RUNTIME, False),
        "loose-envify": ("1.4.0", RUNTIME, False),
        "react-dom": ("18.2.0", RUNTIME, True),
        "react": ("18.2.0", RUNTIME, True),
        "scheduler": ("0.23.0", RUNTIME, False),
        "typescript": ("5.3.2", DEV, True),
    }
    assert result.skipped == [
        "my-fork@github.com/acme/my-fork/0123abc4567def89012345abcdef6789012345ab",
        "github.com/acme/my-fork/0123abc4567def89012345abcdef6789012345ab",
    ]


def test_pnpm_v6_lock_reads_every_workspace_importer() -> None:
    result = fixture("pnpm-v6/pnpm-lock.yaml")

    assert summary(result) == {
        "@babel/runtime": ("7.23.5", RUNTIME, True),
        "@next/env": ("14.0.3", RUNTIME, False),
        "@next/swc-darwin-arm64": ("14.0.3", OPTIONAL, False),
        "js-tokens": ("4.0.0", RUNTIME, False),
        # Imported under the alias lodash-es4.
        "lodash-es": ("4.17.21", RUNTIME, True),
        "loose-envify": ("1.4.0", RUNTIME, False),
        "next": ("14.0.3", RUNTIME, True),
        "prettier": ("3.1.0", DEV, True),
        "react-dom": ("18.2.0", RUNTIME, True),
        "react": ("18.2.0", RUNTIME, True),
        "regenerator-runtime": ("0.14.0", RUNTIME, False),
        "scheduler": ("0.23.0", RUNTIME, False),
    }
    assert result.skipped == ["@acme/utils@link:../utils"]


def test_pnpm_v9_lock_types_packages_through_the_snapshot_graph() -> None:
    result = fixture("pnpm-v9/pnpm-lock.yaml")

    assert summary(result) == {
        # Also an optional dependency of vitest; the importer's devDependencies decide.
        "@types/node": ("20.10.0", DEV, True),
        "accepts": ("1.3.8", RUNTIME, False),
        "bufferutil": ("4.0.8", OPTIONAL, True),
        "chokidar": ("3.5.3", RUNTIME, True),
        "debug": ("2.6.9", RUNTIME, False),
        "express": ("4.18.2", RUNTIME, True),
        # An optional dependency of a runtime one.
        "fsevents": ("2.3.3", OPTIONAL, False),
        # 2.0.0 is needed at runtime (through express), 2.1.3 only by vitest.
        "ms": ("2.0.0", RUNTIME, False),
        "node-gyp-build": ("4.7.1", OPTIONAL, False),
        "string-width": ("4.2.3", RUNTIME, True),
        "tinyspy": ("2.2.0", DEV, False),
        "undici-types": ("5.26.5", DEV, False),
        "vitest": ("1.0.0", DEV, True),
    }
    assert result.skipped == [
        "my-fork@https://codeload.github.com/acme/my-fork/tar.gz/0123abc4567def89012345abcdef6789012345ab"
    ]


def test_pnpm_lock_with_a_leading_config_document_reads_the_main_one() -> None:
    text = (
        "---\nlockfileVersion: '9.0'\n\nimporters:\n  .:\n    configDependencies: {}\n"
        "\n---\nlockfileVersion: '9.0'\n\nimporters:\n\n  .:\n    dependencies:\n"
        "      ms:\n        specifier: ^2.1.3\n        version: 2.1.3\n\n"
        "packages:\n\n  ms@2.1.3:\n    resolution: {integrity: sha512-x}\n\n"
        "snapshots:\n\n  ms@2.1.3: {}\n"
    )

    result = parse_pnpm_lock("pnpm-lock.yaml", text)

    assert summary(result) == {"ms": ("2.1.3", RUNTIME, True)}


@pytest.mark.parametrize("version", ["'7.0'", "'10.0'", "banana"])
def test_pnpm_lock_with_unknown_lockfile_version_names_the_key(version: str) -> None:
    with pytest.raises(ManifestError, match=r"unsupported lockfileVersion"):
        parse_pnpm_lock("pnpm-lock.yaml", f"lockfileVersion: {version}\npackages: {{}}\n")


def test_broken_pnpm_yaml_reports_the_line() -> None:
    text = "lockfileVersion: '9.0'\n\nimporters:\n  .:\n    dependencies: {a: 1\n\npackages: {}\n"

    with pytest.raises(ManifestError) as caught:
        parse_pnpm_lock("pnpm-lock.yaml", text)

    assert caught.value.line is not None
    assert caught.value.line >= 5
    assert str(caught.value).startswith(f"pnpm-lock.yaml:{caught.value.line}: invalid YAML")


def test_pnpm_yaml_tags_are_not_executed() -> None:
    text = "lockfileVersion: !!python/object/apply:os.system ['true']\n"

    with pytest.raises(ManifestError, match="invalid YAML"):
        parse_pnpm_lock("pnpm-lock.yaml", text)


def test_huge_pnpm_v9_lock_counts_every_package() -> None:
    names = [f"pkg-{i}" for i in range(4_000)]
    importer = "\n".join(
        f"      {name}:\n        specifier: ^1.0.0\n        version: 1.0.0" for name in names[:100]
    )
    packages = "\n".join(
        f"  {name}@1.0.0:\n    resolution: {{integrity: sha512-x}}" for name in names
    )
    # Chains: package i depends on package i + 100, so the 100 direct ones reach them all.
    snapshots = "\n".join(
        f"  {name}@1.0.0:\n    dependencies:\n      pkg-{i + 100}: 1.0.0"
        if i + 100 < len(names)
        else f"  {name}@1.0.0: {{}}"
        for i, name in enumerate(names)
    )
    text = (
        f"lockfileVersion: '9.0'\n\nimporters:\n  .:\n    devDependencies:\n{importer}\n\n"
        f"packages:\n{packages}\n\nsnapshots:\n{snapshots}\n"
    )

    result = parse_pnpm_lock("pnpm-lock.yaml", text)

    assert len(result.dependencies) == 4_000
    assert sum(d.is_direct for d in result.dependencies) == 100
    # Every package is reached from a devDependency through the chain.
    assert {d.dependency_type for d in result.dependencies} == {DEV}
