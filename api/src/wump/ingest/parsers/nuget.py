"""MSBuild project files, packages.config and packages.lock.json.

A project file's `<PackageReference>` may leave its version to central package
management; the version is found when `<PackageVersion>` is in the same file (as in a
Directory.Packages.props), and is `*` otherwise. MSBuild metadata may be written as an
attribute or as a child element, in any letter case.
"""

import re
from xml.etree.ElementTree import Element

from wump.ingest.identity import Ecosystem
from wump.ingest.parsers.base import (
    ManifestError,
    ParsedDependency,
    Parser,
    ParseResult,
    collapse,
)
from wump.ingest.parsers.formats import load_json, load_xml
from wump.models.enums import DependencyType

_PROPERTY = re.compile(r"\$\(([A-Za-z_][\w.-]*)\)")
# Referenced by every project, and never flowing to their consumers.
_GLOBAL_REFERENCE = "GlobalPackageReference"


def parse_msbuild_project(path: str, text: str) -> ParseResult:
    root = load_xml(path, text)
    if root is None:
        return ParseResult()
    if root.tag != "Project":
        raise ManifestError(path, f"not an MSBuild project: the root element is <{root.tag}>")
    properties = {
        child.tag.lower(): (child.text or "").strip()
        for group in root.iter("PropertyGroup")
        for child in group
    }
    central = {
        name.lower(): version
        for item in root.iter("PackageVersion")
        for name in _includes(item)
        if (version := _metadata(item, "Version"))
    }
    deps: list[ParsedDependency] = []
    for item in [*root.iter("PackageReference"), *root.iter(_GLOBAL_REFERENCE)]:
        # `Update` and `Remove` items change references made elsewhere; only `Include` adds.
        for name in _includes(item):
            version = (
                _metadata(item, "VersionOverride")
                or _metadata(item, "Version")
                or central.get(name.lower())
                or "*"
            )
            private = (_metadata(item, "PrivateAssets") or "").lower() == "all"
            development = private or item.tag == _GLOBAL_REFERENCE
            requirement = _expand(version, properties)
            deps.append(_dependency(path, name, requirement, development=development))
    return ParseResult(dependencies=collapse(deps))


def _includes(item: Element) -> list[str]:
    return [name.strip() for name in (item.get("Include") or "").split(";") if name.strip()]


def _metadata(item: Element, key: str) -> str | None:
    wanted = key.lower()
    for attribute, value in item.attrib.items():
        if attribute.lower() == wanted and value.strip():
            return value.strip()
    for child in item:
        if child.tag.lower() == wanted and (child.text or "").strip():
            return (child.text or "").strip()
    return None


def _expand(value: str, properties: dict[str, str]) -> str:
    """Resolve `$(Property)` from this file; unknown properties stay as written."""
    return _PROPERTY.sub(lambda m: properties.get(m.group(1).lower(), m.group(0)), value)


def parse_packages_config(path: str, text: str) -> ParseResult:
    root = load_xml(path, text)
    if root is None:
        return ParseResult()
    if root.tag != "packages":
        raise ManifestError(path, f"not a packages.config: the root element is <{root.tag}>")
    deps: list[ParsedDependency] = []
    for package in root.iter("package"):
        name = (package.get("id") or "").strip()
        if not name:
            raise ManifestError(path, "a <package> needs an id")
        development = package.get("developmentDependency", "").lower() == "true"
        version = package.get("version") or "*"
        # It lists transitive packages too, but it is the file the project maintains.
        deps.append(_dependency(path, name, version, development=development))
    return ParseResult(dependencies=collapse(deps))


def parse_packages_lock(path: str, text: str) -> ParseResult:
    frameworks = load_json(path, text).get("dependencies") or {}
    if not isinstance(frameworks, dict):
        raise ManifestError(path, "dependencies: expected an object of target frameworks")
    deps: list[ParsedDependency] = []
    for framework, packages in frameworks.items():
        if not isinstance(packages, dict):
            raise ManifestError(path, f"dependencies.{framework}: expected an object")
        for name, info in packages.items():
            if not isinstance(info, dict):
                raise ManifestError(path, f"dependencies.{framework}.{name}: expected an object")
            kind = info.get("type")
            if kind == "Project":
                continue  # another project of the same solution
            version = str(info.get("resolved") or "*")
            deps.append(_dependency(path, name, version, is_direct=kind == "Direct"))
    return ParseResult(dependencies=collapse(deps))


def _dependency(
    path: str, name: str, requirement: str, *, development: bool = False, is_direct: bool = True
) -> ParsedDependency:
    return ParsedDependency(
        ecosystem=Ecosystem.NUGET,
        name=name,
        requirement=requirement,
        dependency_type=DependencyType.DEVELOPMENT if development else DependencyType.RUNTIME,
        is_direct=is_direct,
        manifest_path=path,
    )


PARSERS: tuple[Parser, ...] = (
    Parser(
        "MSBuild project",
        Ecosystem.NUGET,
        ("*.csproj", "*.fsproj", "*.vbproj", "Directory.Packages.props", "Directory.Build.props"),
        parse_msbuild_project,
    ),
    Parser("packages.config", Ecosystem.NUGET, ("packages.config",), parse_packages_config),
    Parser("packages.lock.json", Ecosystem.NUGET, ("packages.lock.json",), parse_packages_lock),
)
