"""composer.json and composer.lock.

Platform requirements (`php`, `ext-*`, `lib-*`, `composer-plugin-api` ...) are not
packages: every Packagist package is named `vendor/package`, platform ones never are.
"""

from typing import Any

from wump.ingest.identity import Ecosystem
from wump.ingest.parsers.base import (
    ManifestError,
    ParsedDependency,
    Parser,
    ParseResult,
    collapse,
)
from wump.ingest.parsers.formats import load_json
from wump.models.enums import DependencyType

_MANIFEST_SECTIONS = {"require": DependencyType.RUNTIME, "require-dev": DependencyType.DEVELOPMENT}
_LOCK_SECTIONS = {"packages": DependencyType.RUNTIME, "packages-dev": DependencyType.DEVELOPMENT}


def parse_composer_json(path: str, text: str) -> ParseResult:
    document = load_json(path, text)
    deps: list[ParsedDependency] = []
    for section, kind in _MANIFEST_SECTIONS.items():
        for name, constraint in _mapping(path, document, section).items():
            if "/" not in name:
                continue
            if not isinstance(constraint, str):
                raise ManifestError(path, f"{section}.{name}: expected a version constraint")
            deps.append(_dependency(path, name, constraint or "*", kind, is_direct=True))
    return ParseResult(dependencies=collapse(deps))


def _mapping(path: str, document: dict[str, Any], section: str) -> dict[str, Any]:
    # PHP writes an empty object as `[]`, so any empty value is an empty section.
    value = document.get(section) or {}
    if not isinstance(value, dict):
        raise ManifestError(path, f"{section}: expected an object")
    return value


def parse_composer_lock(path: str, text: str) -> ParseResult:
    document = load_json(path, text)
    result = ParseResult()
    deps: list[ParsedDependency] = []
    for section, kind in _LOCK_SECTIONS.items():
        packages = document.get(section) or []
        if not isinstance(packages, list):
            raise ManifestError(path, f"{section}: expected a list of packages")
        for index, package in enumerate(packages):
            name, version, dist = _locked(path, f"{section}[{index}]", package)
            if dist.get("type") == "path":
                result.skipped.append(f"{name} (path {dist.get('url', '')})")
                continue
            # A lockfile does not say which packages the project asked for itself.
            deps.append(_dependency(path, name, version, kind, is_direct=False))
    result.dependencies = collapse(deps)
    return result


def _locked(path: str, key: str, package: object) -> tuple[str, str, dict[str, Any]]:
    if not isinstance(package, dict):
        raise ManifestError(path, f"{key}: expected an object")
    name, version, dist = package.get("name"), package.get("version"), package.get("dist")
    if not isinstance(name, str) or not isinstance(version, str):
        raise ManifestError(path, f"{key}: needs a name and a version")
    return name, version, dist if isinstance(dist, dict) else {}


def _dependency(
    path: str, name: str, requirement: str, kind: DependencyType, *, is_direct: bool
) -> ParsedDependency:
    return ParsedDependency(
        ecosystem=Ecosystem.COMPOSER,
        name=name,
        requirement=requirement,
        dependency_type=kind,
        is_direct=is_direct,
        manifest_path=path,
    )


PARSERS: tuple[Parser, ...] = (
    Parser("composer.json", Ecosystem.COMPOSER, ("composer.json",), parse_composer_json),
    Parser("composer.lock", Ecosystem.COMPOSER, ("composer.lock",), parse_composer_lock),
)
