"""npm manifests and lockfiles.

Manifest: `package.json`. Its requirement is the range as written (`^4.17.21`); an `npm:`
alias names the real package (`"lodash4": "npm:lodash@^4"` is `lodash`, `^4`). `file:`,
`link:`, `workspace:`, git, GitHub shorthand and URL specs name no registry package and are
listed in `ParseResult.skipped` as `name@spec`.

Lockfiles: `package-lock.json` and `npm-shrinkwrap.json` (lockfileVersion 1, 2 and 3),
`yarn.lock` (v1 and berry) and `pnpm-lock.yaml` (v5, v6 and v9). A lockfile's requirement
is the locked version as npm writes it, `2.31.0`, without a prefix.

Which lockfile entries are direct: package-lock v2/v3 and pnpm say what the root package
and workspace members ask for; yarn berry does too, but merges devDependencies into
dependencies, so its direct packages are all runtime; package-lock v1 and yarn v1 do not
say, so none of their entries is direct.

An empty (zero-byte) file is valid and has no dependencies; so is `{}` as a package.json.
A lockfile with content must name a lockfile version this module knows.
"""

import re
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from wump.ingest.identity import Ecosystem, is_registry_requirement
from wump.ingest.parsers.base import (
    TYPE_STRENGTH,
    ManifestError,
    ParsedDependency,
    Parser,
    ParseResult,
    collapse,
)
from wump.ingest.parsers.formats import load_json, load_yaml_documents
from wump.models.enums import DependencyType

__all__ = [
    "PARSERS",
    "parse_package_json",
    "parse_package_lock",
    "parse_pnpm_lock",
    "parse_yarn_lock",
]

RUNTIME = DependencyType.RUNTIME
DEVELOPMENT = DependencyType.DEVELOPMENT
OPTIONAL = DependencyType.OPTIONAL
PEER = DependencyType.PEER

# package.json fields, strongest first so that a package listed twice keeps the stronger.
MANIFEST_FIELDS: tuple[tuple[str, DependencyType], ...] = (
    ("dependencies", RUNTIME),
    ("optionalDependencies", OPTIONAL),
    ("peerDependencies", PEER),
    ("devDependencies", DEVELOPMENT),
)

_VALID_NAME = re.compile(r"^(@[^\s/@]+/)?[^\s/@][^\s/]*$")


def _dependency(
    path: str, name: str, requirement: str, kind: DependencyType, *, direct: bool
) -> ParsedDependency:
    return ParsedDependency(Ecosystem.NPM, name, requirement, kind, direct, path)


def _finish(result: ParseResult) -> ParseResult:
    result.dependencies = collapse(result.dependencies)
    result.skipped = list(dict.fromkeys(result.skipped))
    return result


def _stronger(a: DependencyType, b: DependencyType | None) -> DependencyType:
    if b is None:
        return a
    return a if TYPE_STRENGTH.index(a) <= TYPE_STRENGTH.index(b) else b


def _registry_spec(name: str, spec: str) -> tuple[str, str] | None:
    """(package name, range) when `spec` resolves from the registry; None otherwise.

    Ranges and dist-tags never contain ":" or "/", so any spec that does is a protocol
    (`file:`, `github:`, `git+https:`) or a GitHub `owner/repo` shorthand, except `npm:`
    aliases and pnpm's `catalog:`, whose version lives in pnpm-workspace.yaml.
    """
    spec = spec.strip()
    if spec.startswith("npm:"):
        target = spec[4:]
        at = target.find("@", 1)
        if at < 0:
            return (target, "*") if _VALID_NAME.match(target) else None
        real = target[:at]
        return (real, target[at + 1 :].strip() or "*") if _VALID_NAME.match(real) else None
    if spec.startswith("catalog:"):
        return (name, spec) if _VALID_NAME.match(name) else None
    if not is_registry_requirement(spec) or ":" in spec or "/" in spec:
        return None
    return (name, spec or "*") if _VALID_NAME.match(name) else None


def _mapping(value: Any) -> dict[str, Any]:
    """A nested table, or an empty one when the file has something else there."""
    return value if isinstance(value, dict) else {}


def _object(path: str, data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ManifestError(path, f"'{key}' must be an object")
    return value


# package.json ------------------------------------------------------------------------------


def _bundled(path: str, data: dict[str, Any]) -> list[str]:
    """Names in bundleDependencies; `true` means all of dependencies, already runtime."""
    for key in ("bundleDependencies", "bundledDependencies"):
        value = data.get(key)
        if isinstance(value, list):
            return [name for name in value if isinstance(name, str)]
        if value is not None and not isinstance(value, bool):
            raise ManifestError(path, f"'{key}' must be an array or a boolean")
    return []


def parse_package_json(path: str, text: str) -> ParseResult:
    data = load_json(path, text)
    result = ParseResult()
    for key, kind in MANIFEST_FIELDS:
        for name, spec in _object(path, data, key).items():
            _add_spec(result, path, name, spec, kind)
    runtime = _object(path, data, "dependencies")
    for name in _bundled(path, data):
        spec = runtime.get(name, "*")
        _add_spec(result, path, name, spec, RUNTIME)
    return _finish(result)


def _add_spec(result: ParseResult, path: str, name: str, spec: Any, kind: DependencyType) -> None:
    resolved = _registry_spec(name, spec) if isinstance(spec, str) else None
    if resolved is None:
        result.skipped.append(f"{name}@{spec}")
        return
    result.dependencies.append(_dependency(path, *resolved, kind, direct=True))


# package-lock.json / npm-shrinkwrap.json ---------------------------------------------------


def _flag_type(entry: dict[str, Any]) -> DependencyType:
    if entry.get("dev") or entry.get("devOptional"):
        return DEVELOPMENT
    if entry.get("optional"):
        return OPTIONAL
    if entry.get("peer"):
        return PEER
    return RUNTIME


def _local_resolution(resolved: Any) -> bool:
    """A git checkout, local tarball or directory rather than a registry tarball."""
    if not isinstance(resolved, str):
        return False
    return resolved.startswith(("git+", "git:", "git@", "github:", "file:", "link:"))


def parse_package_lock(path: str, text: str) -> ParseResult:
    data = load_json(path, text)
    if not data:
        return ParseResult()
    version = data.get("lockfileVersion")
    result = ParseResult()
    if version == 1:
        _lock_v1(path, _object(path, data, "dependencies"), result)
    elif version in (2, 3):
        _lock_packages(path, _object(path, data, "packages"), result)
    else:
        raise ManifestError(path, f"unsupported lockfileVersion {version!r}")
    return _finish(result)


def _lock_v1(path: str, tree: dict[str, Any], result: ParseResult) -> None:
    pending = deque([tree])
    while pending:
        for name, entry in pending.popleft().items():
            if not isinstance(entry, dict):
                continue
            version = entry.get("version")
            resolved = _registry_spec(name, version) if isinstance(version, str) else None
            if resolved is None or _local_resolution(entry.get("resolved")):
                result.skipped.append(f"{name}@{version}")
            else:
                dep = _dependency(path, *resolved, _flag_type(entry), direct=False)
                result.dependencies.append(dep)
            if isinstance(entry.get("dependencies"), dict):
                pending.append(entry["dependencies"])


def _install_name(key: str) -> str:
    return key.rpartition("node_modules/")[2]


def _lock_direct(packages: dict[str, Any]) -> dict[str, DependencyType]:
    """Install name -> type, for what the root package and workspace members ask for."""
    direct: dict[str, DependencyType] = {}
    for key, entry in packages.items():
        if "node_modules/" in key or not isinstance(entry, dict):
            continue
        for field, kind in MANIFEST_FIELDS:
            for name in _mapping(entry.get(field)):
                direct[name] = _stronger(kind, direct.get(name))
    return direct


def _lock_packages(path: str, packages: dict[str, Any], result: ParseResult) -> None:
    """v2/v3: keys are install paths, `node_modules/a/node_modules/@s/b`."""
    direct = _lock_direct(packages)
    for key, entry in packages.items():
        if "node_modules/" not in key or not isinstance(entry, dict) or entry.get("extraneous"):
            continue  # the root package (""), workspace members' directories, strays
        install_name = _install_name(key)
        name, version = str(entry.get("name") or install_name), entry.get("version")
        resolved = entry.get("resolved")
        if entry.get("link") and isinstance(resolved, str) and resolved in packages:
            continue  # a workspace member, linked into node_modules
        local = entry.get("link") or _local_resolution(resolved)
        if local or not version or not _VALID_NAME.match(name):
            result.skipped.append(f"{name}@{resolved or version or '?'}")
            continue
        kind = _flag_type(entry)
        # A nested copy is some package's own, not the one the project's manifest asks for.
        is_direct = install_name in direct and key.count("node_modules/") == 1
        if is_direct:
            kind = _stronger(kind, direct[install_name])
        result.dependencies.append(_dependency(path, name, str(version), kind, direct=is_direct))


# yarn.lock -------------------------------------------------------------------------------

_BERRY = re.compile(r"^__metadata:", re.MULTILINE)
_YARN_V1_ENTRY = re.compile(r'^\s{2}(\w+)\s+"?([^"]*)"?\s*$')


def parse_yarn_lock(path: str, text: str) -> ParseResult:
    if not text.strip():
        return ParseResult()
    result = _yarn_berry(path, text) if _BERRY.search(text) else _yarn_v1(path, text)
    return _finish(result)


def _split_descriptor(descriptor: str) -> tuple[str, str]:
    at = descriptor.find("@", 1)
    return (descriptor, "") if at < 0 else (descriptor[:at], descriptor[at + 1 :])


def _yarn_v1_blocks(path: str, text: str) -> Iterator[tuple[list[str], dict[str, str]]]:
    """(descriptors, fields) per entry of yarn's own v1 format."""
    descriptors: list[str] = []
    fields: dict[str, str] = {}
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line.startswith(" "):
            if not line.endswith(":"):
                raise ManifestError(path, "expected an entry header ending in ':'", line=number)
            if descriptors:
                yield descriptors, fields
            descriptors = [d.strip().strip('"') for d in line[:-1].split(",")]
            fields = {}
        elif field := _YARN_V1_ENTRY.match(line):
            fields[field[1]] = field[2]
    if descriptors:
        yield descriptors, fields


def _yarn_v1(path: str, text: str) -> ParseResult:
    result = ParseResult()
    for descriptors, fields in _yarn_v1_blocks(path, text):
        specs = (_registry_spec(*_split_descriptor(d)) for d in descriptors)
        resolved = next((spec for spec in specs if spec is not None), None)
        version = fields.get("version")
        if resolved is None or not version or _local_resolution(fields.get("resolved")):
            result.skipped.append(descriptors[0])
            continue
        result.dependencies.append(_dependency(path, resolved[0], version, RUNTIME, direct=False))
    return result


def _yarn_berry(path: str, text: str) -> ParseResult:
    documents = load_yaml_documents(path, text)
    data = documents[0] if documents and isinstance(documents[0], dict) else {}
    metadata = _object(path, data, "__metadata")
    version = metadata.get("version")
    if not isinstance(version, int) or not 3 <= version <= 8:
        raise ManifestError(path, f"unsupported __metadata.version {version!r}")
    entries = [(key, e) for key, e in data.items() if key != "__metadata" and isinstance(e, dict)]
    direct = _berry_direct(entries)
    result = ParseResult()
    for _, entry in entries:
        name, reference = _split_descriptor(str(entry.get("resolution", "")))
        if reference.startswith(("workspace:", "patch:")):
            # The project's own packages, and patched copies of packages listed on their own.
            continue
        if not reference.startswith("npm:") or not _VALID_NAME.match(name):
            result.skipped.append(str(entry.get("resolution")))
            continue
        kind = direct.get(name, RUNTIME)
        dep = _dependency(path, name, reference[4:], kind, direct=name in direct)
        result.dependencies.append(dep)
    return result


def _berry_direct(entries: list[tuple[str, dict[str, Any]]]) -> dict[str, DependencyType]:
    """Package name -> type, for what the workspaces' own entries ask for.

    Their descriptors are `npm:^4.17.21`, or `npm:real@^1.0.0` for an alias.
    """
    direct: dict[str, DependencyType] = {}
    for _, entry in entries:
        if not _split_descriptor(str(entry.get("resolution", "")))[1].startswith("workspace:"):
            continue
        for field, kind in (("dependencies", RUNTIME), ("peerDependencies", PEER)):
            for name, spec in _mapping(entry.get(field)).items():
                range_ = str(spec).removeprefix("npm:")
                real = _split_descriptor(range_)[0] if "@" in range_[1:] else name
                direct[real] = _stronger(kind, direct.get(real))
    return direct


# pnpm-lock.yaml --------------------------------------------------------------------------

_PNPM_FIELDS = (
    ("dependencies", RUNTIME),
    ("optionalDependencies", OPTIONAL),
    ("devDependencies", DEVELOPMENT),
)


def _pnpm_document(path: str, text: str) -> dict[str, Any]:
    # pnpm 10 may put a lockfile for its own config dependencies first; the project's is last.
    documents = [d for d in load_yaml_documents(path, text) if isinstance(d, dict)]
    return documents[-1] if documents else {}


def _pnpm_major(path: str, version: Any) -> int:
    major = str(version).split(".", 1)[0]
    if not major.isdigit() or int(major) not in (5, 6, 9):
        raise ManifestError(path, f"unsupported lockfileVersion {version!r}")
    return int(major)


def _strip_peers(version: str) -> str:
    """`1.0.0(react@18.2.0)` (v6+) or `1.0.0_react@18.2.0` (v5) is version `1.0.0`."""
    return version.split("(", 1)[0].split("_", 1)[0]


def _pnpm_key(key: str, major: int) -> tuple[str, str] | None:
    """(name, version) of a `packages` key; None for git, tarball and local packages.

    v5: `/name/1.0.0_peer@1`, v6: `/@scope/name@1.0.0(peer@1)`, v9: `name@1.0.0`.
    """
    if major < 9:
        if not key.startswith("/"):
            return None
        key = key[1:]
    if major < 6:
        name, _, version = key.rpartition("/")
    else:
        name, version = _split_descriptor(key)
    version = _strip_peers(version)
    if not _VALID_NAME.match(name) or not version[:1].isdigit():
        return None
    return name, version


def _pnpm_reference(name: str, value: Any, major: int) -> tuple[str, str] | None:
    """(name, version) an importer or snapshot entry points at; None for `link:` and the like.

    The value is a version, `{specifier, version}` (v6+), or for an alias the real
    package's key (`/real/1.0.0`, `/real@1.0.0`, `real@1.0.0`).
    """
    version = str(value.get("version", "")) if isinstance(value, dict) else str(value)
    if version[:1].isdigit():
        return name, _strip_peers(version)
    if major >= 9 and "@" in version[1:] and ":" not in version:
        version = f"/{version}"
    return _pnpm_key(version, min(major, 6)) if version.startswith("/") else None


def _pnpm_importers(
    path: str, document: dict[str, Any], major: int, result: ParseResult
) -> list[tuple[tuple[str, str], DependencyType]]:
    """(package, type) for everything the project and its workspace members ask for."""
    importers = _object(path, document, "importers") or {".": document}
    seeds: list[tuple[tuple[str, str], DependencyType]] = []
    for importer in importers.values():
        for field, kind in _PNPM_FIELDS:
            for name, value in _mapping(_mapping(importer).get(field)).items():
                target = _pnpm_reference(name, value, major)
                if target is None:
                    spec = value.get("version") if isinstance(value, dict) else value
                    result.skipped.append(f"{name}@{spec}")
                else:
                    seeds.append((target, kind))
    return seeds


def _propagate(
    seeds: Iterable[tuple[tuple[str, str], DependencyType]],
    edges: Callable[[tuple[str, str]], Iterable[tuple[tuple[str, str], bool]]],
) -> dict[tuple[str, str], DependencyType]:
    """The strongest type each package is reached by; optional edges weaken runtime ones."""
    optional = TYPE_STRENGTH.index(OPTIONAL)
    best: dict[tuple[str, str], int] = {}
    queue = deque((node, TYPE_STRENGTH.index(kind)) for node, kind in seeds)
    while queue:
        node, rank = queue.popleft()
        if best.get(node, len(TYPE_STRENGTH)) <= rank:
            continue
        best[node] = rank
        queue.extend((child, max(rank, optional) if opt else rank) for child, opt in edges(node))
    return {node: TYPE_STRENGTH[rank] for node, rank in best.items()}


def _pnpm_snapshot_edges(
    document: dict[str, Any],
) -> dict[tuple[str, str], list[tuple[tuple[str, str], bool]]]:
    """v9 keeps the dependency graph in `snapshots`, keyed `name@version(peers)`."""
    edges: dict[tuple[str, str], list[tuple[tuple[str, str], bool]]] = {}
    for key, snapshot in _mapping(document.get("snapshots")).items():
        node = _pnpm_key(str(key), 9)
        if node is None or not isinstance(snapshot, dict):
            continue
        children = edges.setdefault(node, [])
        for field, optional in (("dependencies", False), ("optionalDependencies", True)):
            for name, value in _mapping(snapshot.get(field)).items():
                target = _pnpm_reference(name, value, 9)
                if target is not None:
                    children.append((target, optional))
    return edges


def parse_pnpm_lock(path: str, text: str) -> ParseResult:
    """v5/v6 flag development and optional packages; v9 does not, so types follow the graph."""
    document = _pnpm_document(path, text)
    if not document:
        return ParseResult()
    major = _pnpm_major(path, document.get("lockfileVersion"))
    result = ParseResult()
    seeds = _pnpm_importers(path, document, major, result)
    direct: dict[str, DependencyType] = {}
    for (name, _), kind in seeds:
        direct[name] = _stronger(kind, direct.get(name))
    kind_of = _pnpm_graph_types(document, seeds) if major >= 9 else _pnpm_flag_types(direct)
    for key, entry in _object(path, document, "packages").items():
        target = _pnpm_key(str(key), major)
        if target is None:
            result.skipped.append(str(key))
            continue
        name, version = target
        kind = kind_of(target, entry if isinstance(entry, dict) else {})
        result.dependencies.append(_dependency(path, name, version, kind, direct=name in direct))
    return _finish(result)


_KindOf = Callable[[tuple[str, str], dict[str, Any]], DependencyType]


def _pnpm_graph_types(
    document: dict[str, Any], seeds: list[tuple[tuple[str, str], DependencyType]]
) -> _KindOf:
    edges = _pnpm_snapshot_edges(document)
    types = _propagate(seeds, lambda node: edges.get(node, ()))
    return lambda target, _: types.get(target, RUNTIME)


def _pnpm_flag_types(direct: dict[str, DependencyType]) -> _KindOf:
    """`dev: true` is only for development, `dev: false` only for production, no flag both."""

    def kind_of(target: tuple[str, str], entry: dict[str, Any]) -> DependencyType:
        flagged = OPTIONAL if entry.get("optional") is True else RUNTIME
        flagged = DEVELOPMENT if entry.get("dev") is True else flagged
        return _stronger(flagged, direct.get(target[0]))

    return kind_of


PARSERS: tuple[Parser, ...] = (
    Parser("package.json", Ecosystem.NPM, ("package.json",), parse_package_json),
    Parser(
        "package-lock.json",
        Ecosystem.NPM,
        ("package-lock.json", "npm-shrinkwrap.json"),
        parse_package_lock,
    ),
    Parser("yarn.lock", Ecosystem.NPM, ("yarn.lock",), parse_yarn_lock),
    Parser("pnpm-lock.yaml", Ecosystem.NPM, ("pnpm-lock.yaml",), parse_pnpm_lock),
)
