"""Cargo.toml and Cargo.lock.

Only crates.io crates are dependencies; path, git and alternate-registry crates are
reported as skipped. In a workspace, a member's `{ workspace = true }` entry takes its
requirement from `[workspace.dependencies]` when that table is in the same file.
"""

from collections.abc import Iterator
from typing import Any

from wump.ingest.identity import Ecosystem
from wump.ingest.parsers.base import (
    ManifestError,
    ParsedDependency,
    Parser,
    ParseResult,
    collapse,
)
from wump.ingest.parsers.formats import load_toml
from wump.models.enums import DependencyType

_TABLES: dict[str, DependencyType] = {
    "dependencies": DependencyType.RUNTIME,
    "dev-dependencies": DependencyType.DEVELOPMENT,
    # Cargo still accepts the underscore spellings of old manifests.
    "dev_dependencies": DependencyType.DEVELOPMENT,
    "build-dependencies": DependencyType.BUILD,
    "build_dependencies": DependencyType.BUILD,
}
_CRATES_IO_SOURCES = (
    "registry+https://github.com/rust-lang/crates.io-index",
    "sparse+https://index.crates.io/",
)


def parse_cargo_toml(path: str, text: str) -> ParseResult:
    result = ParseResult()
    deps: list[ParsedDependency] = []
    for alias, spec, kind in _declared(path, load_toml(path, text)):
        name = str(spec.get("package", alias))
        reason = _non_registry(spec)
        if reason is not None:
            result.skipped.append(f"{name} ({reason})")
            continue
        optional = spec.get("optional") is True and kind is DependencyType.RUNTIME
        dep_type = DependencyType.OPTIONAL if optional else kind
        version = str(spec.get("version", "*"))
        deps.append(_dependency(path, name, version, dep_type, is_direct=True))
    result.dependencies = collapse(deps)
    return result


def _declared(
    path: str, document: dict[str, Any]
) -> Iterator[tuple[str, dict[str, Any], DependencyType]]:
    """Each dependency entry as (key, resolved spec, type), workspace inheritance applied."""
    workspace = _table(path, document.get("workspace", {}), "workspace")
    shared = _table(path, workspace.get("dependencies", {}), "workspace.dependencies")
    inherited: set[str] = set()
    for key, entries, kind in _dependency_tables(path, document):
        for alias, written in entries.items():
            spec = _spec(path, f"{key}.{alias}", written)
            if spec.get("workspace") is True:
                inherited.add(alias)
            yield alias, _inherit(path, alias, spec, shared), kind
    # The workspace's own table says nothing of how members use a crate, so it only
    # counts for crates that no table in this file already placed.
    for alias, written in shared.items():
        if alias not in inherited:
            spec = _spec(path, f"workspace.dependencies.{alias}", written)
            yield alias, spec, DependencyType.RUNTIME


def _dependency_tables(
    path: str, document: dict[str, Any]
) -> Iterator[tuple[str, dict[str, Any], DependencyType]]:
    """Every dependency table of the package, with its key and dependency type."""
    for table, kind in _TABLES.items():
        if table in document:
            yield table, _table(path, document[table], table), kind
    targets = _table(path, document.get("target", {}), "target")
    for target, section in targets.items():
        section = _table(path, section, f"target.{target}")
        for table, kind in _TABLES.items():
            if table in section:
                key = f"target.{target}.{table}"
                yield key, _table(path, section[table], key), kind


def _spec(path: str, key: str, written: object) -> dict[str, Any]:
    if isinstance(written, str):
        return {"version": written}
    if not isinstance(written, dict):
        raise ManifestError(path, f"{key}: expected a version string or a table")
    return written


def _inherit(path: str, alias: str, spec: dict[str, Any], shared: dict[str, Any]) -> dict[str, Any]:
    """Resolve `{ workspace = true }`; the member may still add `optional` and features."""
    if spec.get("workspace") is not True:
        return spec
    base = _spec(path, f"workspace.dependencies.{alias}", shared.get(alias, {}))
    return {**base, **{key: value for key, value in spec.items() if key != "workspace"}}


def _dependency(
    path: str, name: str, requirement: str, kind: DependencyType, *, is_direct: bool
) -> ParsedDependency:
    return ParsedDependency(
        ecosystem=Ecosystem.CARGO,
        name=name,
        requirement=requirement,
        dependency_type=kind,
        is_direct=is_direct,
        manifest_path=path,
    )


def _non_registry(spec: dict[str, Any]) -> str | None:
    for key in ("path", "git", "registry"):
        if key in spec and spec[key] != "crates-io":
            return f"{key} {spec[key]}"
    return None


def _table(path: str, value: object, key: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ManifestError(path, f"{key}: expected a table")
    return value


def parse_cargo_lock(path: str, text: str) -> ParseResult:
    document = load_toml(path, text)
    packages = document.get("package", [])
    if not isinstance(packages, list):
        raise ManifestError(path, "package: expected an array of tables")
    result = ParseResult()
    deps: list[ParsedDependency] = []
    for index, package in enumerate(packages):
        entry = _table(path, package, f"package[{index}]")
        name, version, source = entry.get("name"), entry.get("version"), entry.get("source")
        if not isinstance(name, str) or not isinstance(version, str):
            raise ManifestError(path, f"package[{index}]: needs a name and a version")
        if source is None:
            continue  # a workspace member: the project itself, not a dependency
        if not str(source).startswith(_CRATES_IO_SOURCES):
            result.skipped.append(f"{name} ({source})")
            continue
        deps.append(_dependency(path, name, version, DependencyType.RUNTIME, is_direct=False))
    result.dependencies = collapse(deps)
    return result


PARSERS: tuple[Parser, ...] = (
    Parser("Cargo.toml", Ecosystem.CARGO, ("Cargo.toml",), parse_cargo_toml),
    Parser("Cargo.lock", Ecosystem.CARGO, ("Cargo.lock",), parse_cargo_lock),
)
