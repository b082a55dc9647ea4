"""pom.xml.

A POM is read on its own: `${...}` placeholders resolve from its `<properties>` and
its own coordinates, and `<dependencyManagement>` fills in versions (and scopes) that
a dependency leaves out. Whatever a parent POM would supply stays as written.
"""

import re
from collections.abc import Iterator
from xml.etree.ElementTree import Element

from wump.ingest.identity import Ecosystem
from wump.ingest.parsers.base import (
    ManifestError,
    ParsedDependency,
    Parser,
    ParseResult,
    collapse,
)
from wump.ingest.parsers.formats import load_xml
from wump.models.enums import DependencyType

_PLACEHOLDER = re.compile(r"\$\{([^}]+)\}")
# Enough for properties defined in terms of other properties; stops cycles.
_MAX_SUBSTITUTION_ROUNDS = 8
_SCOPES: dict[str, DependencyType] = {
    "compile": DependencyType.RUNTIME,
    "runtime": DependencyType.RUNTIME,
    "test": DependencyType.TEST,
    "provided": DependencyType.BUILD,
}


def parse_pom(path: str, text: str) -> ParseResult:
    root = load_xml(path, text)
    if root is None:
        return ParseResult()
    if root.tag != "project":
        raise ManifestError(path, f"not a Maven POM: the root element is <{root.tag}>")
    properties = _properties(root)
    managed = {
        _coordinates(path, entry, properties): entry
        for entry in root.iterfind("dependencyManagement/dependencies/dependency")
    }
    result = ParseResult()
    deps: list[ParsedDependency] = []
    for entry in _declared(root):
        name = _coordinates(path, entry, properties)
        found = _dependency(path, name, entry, managed.get(name), properties)
        if isinstance(found, str):
            result.skipped.append(found)
        elif found is not None:
            deps.append(found)
    result.dependencies = collapse(deps)
    return result


def _declared(root: Element) -> Iterator[Element]:
    yield from root.iterfind("dependencies/dependency")
    yield from root.iterfind("profiles/profile/dependencies/dependency")


def _properties(root: Element) -> dict[str, str]:
    """The placeholders this POM can resolve by itself."""
    properties = {child.tag: (child.text or "").strip() for child in root.iterfind("properties/*")}
    for key in ("groupId", "artifactId", "version"):
        parent = _text(root, f"parent/{key}")
        # A module inherits its parent's group and version, but never its artifactId.
        own = _text(root, key) or (parent if key != "artifactId" else None)
        for prefix, value in (("project", own), ("pom", own), ("project.parent", parent)):
            if value is not None:
                properties[f"{prefix}.{key}"] = value
    return properties


def _text(element: Element, path: str) -> str | None:
    found = element.find(path)
    text = (found.text or "").strip() if found is not None else ""
    return text or None


def _substitute(value: str, properties: dict[str, str]) -> str:
    for _ in range(_MAX_SUBSTITUTION_ROUNDS):
        resolved = _PLACEHOLDER.sub(lambda m: properties.get(m.group(1), m.group(0)), value)
        if resolved == value:
            break
        value = resolved
    return value


def _coordinates(path: str, entry: Element, properties: dict[str, str]) -> str:
    group, artifact = _text(entry, "groupId"), _text(entry, "artifactId")
    if group is None or artifact is None:
        raise ManifestError(path, "a <dependency> needs a <groupId> and an <artifactId>")
    return f"{_substitute(group, properties)}:{_substitute(artifact, properties)}"


def _dependency(
    path: str,
    name: str,
    entry: Element,
    managed: Element | None,
    properties: dict[str, str],
) -> ParsedDependency | str | None:
    """The dependency, why it is skipped, or None when it is no dependency at all."""
    sources = (entry,) if managed is None else (entry, managed)
    scope = _first(sources, "scope", properties) or "compile"
    if "${" in name:
        return f"{name} (unresolved placeholder)"
    if scope == "system":
        return f"{name} (system scope)"
    if scope == "import":
        return None  # a BOM import only means something inside <dependencyManagement>
    kind = _SCOPES.get(scope, DependencyType.RUNTIME)
    if kind is DependencyType.RUNTIME and _first((entry,), "optional", properties) == "true":
        kind = DependencyType.OPTIONAL
    return ParsedDependency(
        ecosystem=Ecosystem.MAVEN,
        name=name,
        requirement=_first(sources, "version", properties) or "*",
        dependency_type=kind,
        is_direct=True,
        manifest_path=path,
    )


def _first(sources: tuple[Element, ...], key: str, properties: dict[str, str]) -> str | None:
    """The first of the elements that sets `key`, placeholders resolved."""
    value = next((text for source in sources if (text := _text(source, key))), None)
    return _substitute(value, properties) if value is not None else None


PARSERS: tuple[Parser, ...] = (Parser("pom.xml", Ecosystem.MAVEN, ("pom.xml", "*.pom"), parse_pom),)
