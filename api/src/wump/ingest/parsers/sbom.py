"""SPDX 2.x and CycloneDX 1.2-1.6 JSON software bills of materials.

Both formats name each package with a package URL (purl), which says exactly
which registry package it is. When the document carries a dependency graph,
it also tells what the project asks for itself (direct) from what comes along
(transitive). GitHub's dependency-graph export is SPDX: `parse_sbom` takes the
decoded `sbom` object of that API response as it is.
"""

import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from packageurl import PackageURL

from wump.ingest.identity import Ecosystem, PackageIdentity, UnknownEcosystem
from wump.ingest.parsers.base import (
    TYPE_STRENGTH,
    ManifestError,
    ParsedDependency,
    Parser,
    ParseResult,
    collapse,
)
from wump.ingest.parsers.formats import load_json
from wump.models.enums import DependencyType

__all__ = ["CYCLONEDX_VERSIONS", "PARSERS", "parse", "parse_sbom"]

Json = dict[str, Any]
# (parent, child, how the parent needs the child)
Edge = tuple[str, str, DependencyType]

CYCLONEDX_VERSIONS = ("1.2", "1.3", "1.4", "1.5", "1.6")
_SPDX_VERSION = re.compile(r"SPDX-2\.\d+")
_PURL_CATEGORIES = frozenset({"PACKAGE-MANAGER", "PACKAGE_MANAGER"})
_NO_VERSION = frozenset({"", "NOASSERTION", "NONE"})

# "A DEPENDS_ON B" points from the dependent to its dependency; the "*_OF" forms point back.
_FORWARD = {
    "DEPENDS_ON": DependencyType.RUNTIME,
    "HAS_PREREQUISITE": DependencyType.PEER,
}
_BACKWARD = {
    "DEPENDENCY_OF": DependencyType.RUNTIME,
    "RUNTIME_DEPENDENCY_OF": DependencyType.RUNTIME,
    "PROVIDED_DEPENDENCY_OF": DependencyType.RUNTIME,
    "BUILD_DEPENDENCY_OF": DependencyType.BUILD,
    "OPTIONAL_DEPENDENCY_OF": DependencyType.OPTIONAL,
    "PREREQUISITE_FOR": DependencyType.PEER,
    "TEST_DEPENDENCY_OF": DependencyType.TEST,
    "DEV_DEPENDENCY_OF": DependencyType.DEVELOPMENT,
}

_GITHUB_URL = re.compile(
    r"(?:git\+)?(?:(?:https?|git|ssh)://(?:[^@/]+@)?|git@)(?:www\.)?github\.com[/:]"
    r"(?P<owner>[A-Za-z0-9-]+)/(?P<repo>[A-Za-z0-9._-]+?)(?:\.git)?(?:[/#?@].*)?",
    re.IGNORECASE,
)
_REPOSITORY = re.compile(r"[A-Za-z0-9-]+/[A-Za-z0-9._-]+")


@dataclass(frozen=True, slots=True)
class _Entry:
    """One package as the document lists it, before it is resolved to a registry package."""

    label: str
    purl: str | None
    version: str | None
    dependency_type: DependencyType
    is_direct: bool


def parse(path: str, text: str) -> ParseResult:
    """Dependencies in an SBOM file, or in a saved GitHub SBOM API response."""
    document = load_json(path, text)
    # A saved API response (`gh api .../dependency-graph/sbom > sbom.json`) wraps the document.
    inner = document.get("sbom")
    if isinstance(inner, dict) and "spdxVersion" not in document:
        document = inner
    return parse_sbom(path, document)


def parse_sbom(path: str, document: dict[str, Any]) -> ParseResult:
    """Dependencies in an SPDX 2.x or CycloneDX document, told apart by content.

    `path` is only used to name the document in results and errors.
    """
    if "spdxVersion" in document:
        return _parse_spdx(path, document)
    if document.get("bomFormat") == "CycloneDX":
        return _parse_cyclonedx(path, document)
    raise ManifestError(
        path, 'neither SPDX ("spdxVersion") nor CycloneDX ("bomFormat": "CycloneDX")'
    )


# SPDX


def _parse_spdx(path: str, document: Json) -> ParseResult:
    version = document.get("spdxVersion")
    if not isinstance(version, str) or not _SPDX_VERSION.fullmatch(version.strip()):
        raise ManifestError(path, f"spdxVersion {version!r} is not supported (SPDX-2.x only)")
    packages = _objects(path, document, "packages")
    relationships = _spdx_relationships(path, document)
    roots = _spdx_roots(path, document, relationships)
    edges = _spdx_edges(relationships)
    entries = _spdx_entries(path, packages, roots, edges)
    result = _result(path, entries)
    result.repository = _spdx_repository(path, document, packages, roots)
    return result


def _spdx_relationships(path: str, document: Json) -> list[tuple[str, str, str]]:
    """(spdxElementId, relationshipType, relatedSpdxElement) for every relationship."""
    found = []
    for index, item in enumerate(_objects(path, document, "relationships")):
        where = f"relationships[{index}]"
        source = _required(path, item, "spdxElementId", where)
        kind = _required(path, item, "relationshipType", where).upper()
        found.append((source, kind, _required(path, item, "relatedSpdxElement", where)))
    return found


def _spdx_roots(path: str, document: Json, relationships: list[tuple[str, str, str]]) -> set[str]:
    """What the document describes: the project itself, not one of its dependencies."""
    me = _string(path, document, "SPDXID", "") or "SPDXRef-DOCUMENT"
    roots = set(_strings(path, document, "documentDescribes", ""))
    for source, kind, target in relationships:
        if kind == "DESCRIBES" and source == me:
            roots.add(target)
        elif kind == "DESCRIBED_BY" and target == me:
            roots.add(source)
    return roots


def _spdx_edges(relationships: list[tuple[str, str, str]]) -> list[Edge]:
    edges = []
    for source, kind, target in relationships:
        if kind in _FORWARD:
            edges.append((source, target, _FORWARD[kind]))
        elif kind in _BACKWARD:
            edges.append((target, source, _BACKWARD[kind]))
    return edges


def _spdx_entries(
    path: str, packages: list[Json], roots: set[str], edges: list[Edge]
) -> Iterator[_Entry]:
    reached = _reach(roots, edges)
    # Without a single edge out of the project, the document doesn't say what is direct.
    direct = {child for parent, child, _ in edges if parent in roots}
    for index, package in enumerate(packages):
        where = f"packages[{index}]"
        ref = _string(path, package, "SPDXID", where)
        if ref in roots:
            continue
        yield _Entry(
            label=_string(path, package, "name", where) or ref or where,
            purl=_spdx_purl(path, package, where),
            version=_string(path, package, "versionInfo", where),
            dependency_type=reached.get(ref or "", DependencyType.RUNTIME),
            is_direct=not direct or ref in direct,
        )


def _reach(roots: set[str], edges: list[Edge]) -> dict[str, DependencyType]:
    """The strongest way each package is needed; a path is only as strong as its weakest edge.

    A runtime dependency of a dev dependency is needed for development only.
    """
    children: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for parent, child, kind in edges:
        children[parent].append((child, TYPE_STRENGTH.index(kind)))
    reached: dict[str, DependencyType] = {}
    # One walk per type the edges use, strongest first; a walk may use edges as strong or more.
    for rank in sorted({TYPE_STRENGTH.index(kind) for _, _, kind in edges}):
        kind = TYPE_STRENGTH[rank]
        seen = set(roots)
        pending = list(roots)
        while pending:
            for child, edge_rank in children.get(pending.pop(), ()):
                if edge_rank <= rank and child not in seen:
                    seen.add(child)
                    pending.append(child)
                    reached.setdefault(child, kind)
    return reached


def _spdx_purl(path: str, package: Json, where: str) -> str | None:
    for index, ref in enumerate(_objects(path, package, "externalRefs", where)):
        here = f"{where}.externalRefs[{index}]"
        category = _string(path, ref, "referenceCategory", here)
        kind = _string(path, ref, "referenceType", here)
        if kind == "purl" and (category is None or category.upper() in _PURL_CATEGORIES):
            return _string(path, ref, "referenceLocator", here)
    return None


def _spdx_repository(
    path: str, document: Json, packages: list[Json], roots: set[str]
) -> str | None:
    for index, package in enumerate(packages):
        if package.get("SPDXID") not in roots:
            continue
        where = f"packages[{index}]"
        found = _purl_repository(_spdx_purl(path, package, where)) or _url_repository(
            _string(path, package, "downloadLocation", where)
        )
        if found:
            return found
    # GitHub names its exports after the repository: "com.github.owner/name".
    name = _string(path, document, "name", "") or ""
    if name.lower().startswith("com.github."):
        return _checked_repository(name[len("com.github.") :])
    return None


# CycloneDX


def _parse_cyclonedx(path: str, document: Json) -> ParseResult:
    version = document.get("specVersion")
    if version not in CYCLONEDX_VERSIONS:
        raise ManifestError(
            path,
            f"specVersion {version!r} is not supported (CycloneDX {', '.join(CYCLONEDX_VERSIONS)})",
        )
    root = _object(path, _object(path, document, "metadata", ""), "component", "metadata")
    own = _own_refs(path, root)
    root_purl = _string(path, root, "purl", "metadata.component")
    direct = _cyclonedx_direct(path, document, own)
    result = _result(path, _cyclonedx_entries(path, document, own, root_purl, direct))
    result.repository = _purl_repository(root_purl) or _vcs_repository(path, root)
    return result


def _own_refs(path: str, root: Json) -> set[str]:
    """The project's bom-ref and those of its own parts (e.g. the modules of a build)."""
    top = "metadata.component"
    refs = set()
    for where, component in [(top, root), *_components(path, root, top)]:
        ref = _string(path, component, "bom-ref", where)
        if ref:
            refs.add(ref)
    return refs


def _cyclonedx_direct(path: str, document: Json, own: set[str]) -> set[str] | None:
    """What the project depends on itself; None when the document doesn't say."""
    direct: set[str] = set()
    for index, item in enumerate(_objects(path, document, "dependencies")):
        where = f"dependencies[{index}]"
        needs = _strings(path, item, "dependsOn", where)
        if _string(path, item, "ref", where) in own:
            direct.update(needs)
    return (direct - own) or None


def _cyclonedx_entries(
    path: str, document: Json, own: set[str], root_purl: str | None, direct: set[str] | None
) -> Iterator[_Entry | str]:
    for where, component in _components(path, document, ""):
        ref = _string(path, component, "bom-ref", where)
        purl = _string(path, component, "purl", where)
        if ref in own or (purl and purl == root_purl):
            continue
        label = _component_label(path, component, where)
        scope = _string(path, component, "scope", where)
        if scope == "excluded":
            yield f"{label}: excluded scope, not used by the project"
            continue
        yield _Entry(
            label=label,
            purl=purl,
            version=_string(path, component, "version", where),
            dependency_type=_component_type(path, component, where),
            is_direct=direct is None or ref in direct,
        )


def _components(path: str, owner: Json, where: str) -> list[tuple[str, Json]]:
    """Every component, nested ones included, with where it sits in the document."""
    found = []
    pending = [(where, owner)]
    while pending:
        parent, current = pending.pop()
        for index, component in enumerate(_objects(path, current, "components", parent)):
            here = f"{_key(parent, 'components')}[{index}]"
            found.append((here, component))
            pending.append((here, component))
    return found


def _component_label(path: str, component: Json, where: str) -> str:
    name = _string(path, component, "name", where) or where
    group = _string(path, component, "group", where)
    version = _string(path, component, "version", where)
    label = f"{group}/{name}" if group else name
    return f"{label}@{version}" if version else label


def _component_type(path: str, component: Json, where: str) -> DependencyType:
    # npm's own SBOMs scope dev dependencies "optional" and flag them with this property.
    for item in _objects(path, component, "properties", where):
        if item.get("name") == "cdx:npm:package:development" and item.get("value") == "true":
            return DependencyType.DEVELOPMENT
    scope = _string(path, component, "scope", where)
    return DependencyType.OPTIONAL if scope == "optional" else DependencyType.RUNTIME


def _vcs_repository(path: str, component: Json) -> str | None:
    where = "metadata.component"
    for index, ref in enumerate(_objects(path, component, "externalReferences", where)):
        here = f"{where}.externalReferences[{index}]"
        if _string(path, ref, "type", here) == "vcs":
            found = _url_repository(_string(path, ref, "url", here))
            if found:
                return found
    return None


# Shared


def _result(path: str, entries: Iterable[_Entry | str]) -> ParseResult:
    result = ParseResult()
    deps = []
    for entry in entries:
        resolved = entry if isinstance(entry, str) else _dependency(path, entry)
        if isinstance(resolved, str):
            result.skipped.append(resolved)
        else:
            deps.append(resolved)
    result.dependencies = collapse(deps)
    return result


def _dependency(path: str, entry: _Entry) -> ParsedDependency | str:
    """The dependency an entry names, or why it names none."""
    if not entry.purl:
        return f"{entry.label}: no package URL"
    try:
        identity = _identity(entry.purl)
    except UnknownEcosystem as exc:
        return f"{entry.label}: {exc.value!r} packages are not supported"
    except ValueError as exc:
        return f"{entry.label}: {exc}"
    is_github = identity.ecosystem is Ecosystem.GITHUB
    return ParsedDependency(
        ecosystem=identity.ecosystem,
        name=identity.name,
        requirement=_version(entry.version) or _version(_purl_version(entry.purl)) or "*",
        # Actions and reusable workflows run in CI: they build the project.
        dependency_type=DependencyType.BUILD if is_github else entry.dependency_type,
        is_direct=entry.is_direct,
        manifest_path=path,
    )


def _version(version: str | None) -> str | None:
    return version if version and version.strip() not in _NO_VERSION else None


def _purl_version(purl: str) -> str | None:
    try:
        version: str | None = PackageURL.from_string(purl.strip()).version
    except ValueError:
        return None
    return version


def _identity(purl: str) -> PackageIdentity:
    identity = PackageIdentity.from_purl(purl)
    parts = identity.name.split("/")
    if identity.ecosystem is Ecosystem.GITHUB and len(parts) > 2:
        # An action in a subfolder or a reusable workflow belongs to its repository.
        return PackageIdentity.of(Ecosystem.GITHUB, "/".join(parts[:2]))
    return identity


def _purl_repository(purl: str | None) -> str | None:
    if not purl:
        return None
    try:
        parsed = PackageURL.from_string(purl.strip())
    except ValueError:
        return None
    if parsed.type != "github" or not parsed.namespace:
        return None
    return _checked_repository(f"{parsed.namespace}/{parsed.name}")


def _url_repository(url: str | None) -> str | None:
    match = _GITHUB_URL.fullmatch(url.strip()) if url else None
    return _checked_repository(f"{match['owner']}/{match['repo']}") if match else None


def _checked_repository(name: str) -> str | None:
    return name if _REPOSITORY.fullmatch(name) and not name.endswith(("/.", "/..")) else None


# Typed access that names the offending key


def _object(path: str, owner: Json, key: str, where: str) -> Json:
    value = owner.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ManifestError(path, f"{_key(where, key)} is not an object")
    return value


def _objects(path: str, owner: Json, key: str, where: str = "") -> list[Json]:
    value = owner.get(key)
    if value is None:
        return []
    label = _key(where, key)
    if not isinstance(value, list):
        raise ManifestError(path, f"{label} is not a list")
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            raise ManifestError(path, f"{label}[{index}] is not an object")
    return value


def _strings(path: str, owner: Json, key: str, where: str) -> list[str]:
    value = owner.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ManifestError(path, f"{_key(where, key)} is not a list of strings")
    return value


def _string(path: str, owner: Json, key: str, where: str) -> str | None:
    value = owner.get(key)
    if value is None or isinstance(value, str):
        return value
    raise ManifestError(path, f"{_key(where, key)} is not a string")


def _required(path: str, owner: Json, key: str, where: str) -> str:
    value = _string(path, owner, key, where)
    if value is None:
        raise ManifestError(path, f"{_key(where, key)} is missing")
    return value


def _key(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


PARSERS: tuple[Parser, ...] = (
    Parser(
        name="sbom",
        # An SBOM spans ecosystems and each dependency names its own; most come from
        # GitHub's dependency graph, so the parser is filed there.
        ecosystem=Ecosystem.GITHUB,
        patterns=(
            "*.spdx.json",
            "*.cdx.json",
            "bom.json",
            "sbom.json",
            "*.sbom.json",
            "*spdx*.json",
        ),
        parse=parse,
    ),
)
