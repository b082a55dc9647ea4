"""PyPI manifests and lockfiles.

Manifests: requirements files (`requirements*.txt`, `*requirements*.in`, `requirements/*.txt`),
`pyproject.toml` (PEP 621, PEP 735 dependency groups, Poetry, PDM, uv, `[build-system]`),
`setup.cfg` and `Pipfile`. A manifest's requirement is the version part as written
(`requests >= 2, < 3` gives `>= 2, < 3`), or `*` for a bare name.

Lockfiles: `Pipfile.lock`, `poetry.lock` and `uv.lock`. A lockfile's requirement is the
locked version written as a pin, `==2.31.0`.

Local paths, editable installs and git or URL requirements name no PyPI package; they are
listed in `ParseResult.skipped` as written. `setup.py` is never read: running it is the only
way to know what it asks for.

A requirements file parsed on its own lists its `-r` includes as skipped, because the
parser only sees one file's text; `parse_requirements_file` reads a file from disk and
follows them. Type by file or group name: names with "test" are test dependencies, names
with "dev", "lint", "docs" or "typing" development ones.
"""

import configparser
import re
import tomllib
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path, PurePosixPath
from typing import Any, TypeVar

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from wump.ingest.identity import Ecosystem, is_registry_requirement
from wump.ingest.parsers.base import (
    TYPE_STRENGTH,
    ManifestError,
    ParsedDependency,
    Parser,
    ParseResult,
    collapse,
)
from wump.ingest.parsers.formats import load_json, load_toml
from wump.models.enums import DependencyType

__all__ = [
    "PARSERS",
    "parse_pipfile",
    "parse_pipfile_lock",
    "parse_poetry_lock",
    "parse_pyproject",
    "parse_requirements",
    "parse_requirements_file",
    "parse_setup_cfg",
    "parse_uv_lock",
]

RUNTIME = DependencyType.RUNTIME
DEVELOPMENT = DependencyType.DEVELOPMENT
TEST = DependencyType.TEST
OPTIONAL = DependencyType.OPTIONAL

T = TypeVar("T")

_VALID_NAME = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.IGNORECASE)
_NAME_AND_EXTRAS = re.compile(r"^\s*[A-Z0-9][A-Z0-9._-]*\s*(\[[^\]]*\])?", re.IGNORECASE)
_ARCHIVE = (".whl", ".zip", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".tar")
_TEST_WORDS = frozenset({"test", "tests", "testing"})
_DEV_WORDS = frozenset({"dev", "develop", "development", "lint", "docs", "doc", "typing"})


def _dependency(
    path: str, name: str, requirement: str, kind: DependencyType, *, direct: bool
) -> ParsedDependency:
    return ParsedDependency(Ecosystem.PYPI, name, requirement, kind, direct, path)


def _finish(result: ParseResult) -> ParseResult:
    result.dependencies = collapse(result.dependencies)
    result.skipped = list(dict.fromkeys(result.skipped))
    return result


def _named_type(name: str, default: DependencyType) -> DependencyType:
    """The type a file or group name suggests ("requirements-dev", "test"), else `default`."""
    words = set(re.split(r"[^a-z0-9]+", name.lower()))
    if words & _TEST_WORDS:
        return TEST
    if words & _DEV_WORDS:
        return DEVELOPMENT
    return default


def _looks_like_path(entry: str) -> bool:
    target = entry.split(";", 1)[0].strip().lower()
    return (
        "/" in target
        or "\\" in target
        or target in (".", "..")
        or target.endswith(_ARCHIVE)
        or not is_registry_requirement(target)
    )


def _pep508(entry: str) -> tuple[str, str] | None:
    """(name, version part as written) of a PEP 508 string, or None if it names no package."""
    if _looks_like_path(entry):
        return None
    try:
        requirement = Requirement(entry)
    except InvalidRequirement:
        return None
    if requirement.url:
        return None
    written = _NAME_AND_EXTRAS.sub("", entry.split(";", 1)[0], count=1).strip()
    if written.startswith("(") and written.endswith(")"):
        written = written[1:-1].strip()
    return requirement.name, written or "*"


def _add_pep508(
    result: ParseResult,
    path: str,
    entry: str,
    kind: DependencyType,
    *,
    own_name: str = "",
) -> None:
    parsed = _pep508(entry)
    if parsed is None:
        result.skipped.append(entry.strip())
    elif canonicalize_name(parsed[0]) != own_name:
        # `own_name` filters a project's extras that refer to the project itself.
        result.dependencies.append(_dependency(path, *parsed, kind, direct=True))


# Requirements files ---------------------------------------------------------------------

_OPTION = re.compile(
    r"^(?P<flag>--requirement|--constraint|--editable|-[rce])(?:\s*=\s*|\s*)(?P<value>.*)$"
)
_COMMENT = re.compile(r"(^|\s+)#.*$")

# Called with the path of an `-r` include, as written.
IncludeHandler = Callable[[str], None]


def _logical_lines(text: str) -> Iterator[str]:
    """Lines with `\\` continuations joined and comments removed, as pip reads them."""
    pending = ""
    for raw in text.split("\n"):
        if raw.endswith("\\"):
            pending += raw[:-1]
            continue
        line = _COMMENT.sub("", pending + raw).strip()
        pending = ""
        if line:
            yield line
    if pending.strip():
        yield _COMMENT.sub("", pending).strip()


def _requirement_part(line: str) -> str:
    """The requirement in front of per-line options such as `--hash=sha256:...`."""
    words = line.split(" ")
    end = next((i for i, word in enumerate(words) if word.startswith("-")), len(words))
    return " ".join(words[:end]).strip()


def _read_requirements(
    path: str,
    text: str,
    kind: DependencyType,
    result: ParseResult,
    include: IncludeHandler | None,
) -> None:
    for line in _logical_lines(text):
        if not line.startswith("-"):
            _add_pep508(result, path, _requirement_part(line), kind)
            continue
        option = _OPTION.match(line)
        if option is None:
            continue  # --index-url, --pre, --find-links ...: they choose where, not what.
        flag, value = option["flag"], option["value"].strip()
        if flag in ("-e", "--editable"):
            result.skipped.append(line)
        elif flag in ("-r", "--requirement") and value:
            if include is None:
                result.skipped.append(f"-r {value}")
            else:
                include(value.split()[0])
        # -c / --constraint files only pin versions of packages required elsewhere.


def parse_requirements(path: str, text: str) -> ParseResult:
    result = ParseResult()
    kind = _named_type(PurePosixPath(path.replace("\\", "/")).stem, RUNTIME)
    _read_requirements(path, text, kind, result, include=None)
    return _finish(result)


def _read_limited(file: Path, shown: str) -> str:
    # Imported here: the parsers package imports this module while it initialises.
    from wump.ingest.parsers import MAX_FILE_BYTES, decode

    size = file.stat().st_size
    if size > MAX_FILE_BYTES:
        raise ManifestError(shown, f"{size} bytes is over the {MAX_FILE_BYTES}-byte limit")
    return decode(shown, file.read_bytes())


def parse_requirements_file(
    path: Path, *, display_path: str | None = None, root: Path | None = None
) -> ParseResult:
    """Parse a requirements file from disk, following its `-r` includes.

    Includes resolve relative to the file that names them, and only files inside `root`
    (by default the file's own directory; pass the checkout) are read. Included packages
    carry `display_path` and the type their own file's name suggests, so the runtime
    packages a `requirements-dev.txt` pulls in with `-r requirements.txt` stay runtime.
    """
    shown = display_path or str(path)
    boundary = (root or path.parent).resolve()
    result = ParseResult()
    seen: set[Path] = set()

    def visit(file: Path, kind: DependencyType) -> None:
        seen.add(file)

        def include(target: str) -> None:
            candidate = (file.parent / target).resolve()
            if candidate in seen:
                return
            if not candidate.is_relative_to(boundary) or not candidate.is_file():
                result.skipped.append(f"-r {target}")
                return
            visit(candidate, _named_type(candidate.stem, RUNTIME))

        _read_requirements(shown, _read_limited(file, shown), kind, result, include)

    visit(path.resolve(), _named_type(path.stem, RUNTIME))
    return _finish(result)


# TOML helpers ---------------------------------------------------------------------------


def _mapping(value: Any) -> dict[str, Any]:
    """A nested table, or an empty one when the file has something else there."""
    return value if isinstance(value, dict) else {}


def _lookup(path: str, data: dict[str, Any], keys: tuple[str, ...], kind: type[T]) -> T | None:
    """`data[k1][k2]...`, None when absent; a value of the wrong type is a ManifestError."""
    value: Any = data
    for depth, key in enumerate(keys):
        if not isinstance(value, dict):
            raise ManifestError(path, f"'{'.'.join(keys[:depth])}' must be a table")
        value = value.get(key)
        if value is None:
            return None
    if not isinstance(value, kind):
        noun = "table" if kind is dict else "list" if kind is list else kind.__name__
        raise ManifestError(path, f"'{'.'.join(keys)}' must be a {noun}")
    return value


def _pep508_list(
    result: ParseResult,
    path: str,
    entries: list[Any],
    kind: DependencyType,
    own_name: str,
) -> None:
    for entry in entries:
        if isinstance(entry, str):
            _add_pep508(result, path, entry, kind, own_name=own_name)
        else:
            result.skipped.append(repr(entry))


def _table_spec(spec: Any) -> str | None:
    """The version constraint of a Poetry or Pipfile entry; None for git, path and URL ones."""
    if isinstance(spec, str):
        return spec.strip() or "*"
    if isinstance(spec, dict):
        if any(key in spec for key in ("git", "path", "url", "file", "hg", "svn")):
            return None
        version = spec.get("version")
        return str(version).strip() if version else "*"
    if isinstance(spec, list):
        versions = [_table_spec(item) for item in spec]
        found = list(dict.fromkeys(v for v in versions if v is not None))
        # Poetry's multiple-constraint form: one constraint per Python version or platform.
        return " || ".join(found) if found else None
    return None


def _location(spec: Any) -> str:
    """Where a git, path or URL entry points, for `skipped`."""
    table = spec[0] if isinstance(spec, list) and spec else spec
    if isinstance(table, dict):
        for key in ("git", "path", "url", "file", "hg", "svn"):
            if key in table:
                return str(table[key])
    return repr(spec)


def _add_table(
    result: ParseResult,
    path: str,
    table: dict[str, Any],
    kind: DependencyType,
    *,
    skip: frozenset[str] = frozenset(),
) -> None:
    """Poetry and Pipfile tables: `name = "^1.0"` or `name = {version = ..., optional = ...}`."""
    for name, spec in table.items():
        if name.lower() in skip:
            continue
        requirement = _table_spec(spec)
        if requirement is None:
            result.skipped.append(f"{name} @ {_location(spec)}")
            continue
        if not _VALID_NAME.match(name):
            result.skipped.append(name)
            continue
        optional = isinstance(spec, dict) and spec.get("optional") is True
        chosen = OPTIONAL if optional and kind is RUNTIME else kind
        result.dependencies.append(_dependency(path, name, requirement, chosen, direct=True))


# pyproject.toml ---------------------------------------------------------------------------


def _dependency_groups(
    result: ParseResult, path: str, groups: dict[str, Any], own_name: str
) -> None:
    """PEP 735 groups; `{include-group = "..."}` entries pull in another group's packages."""
    by_name: dict[str, Any] = {canonicalize_name(name): items for name, items in groups.items()}

    def walk(group: str, kind: DependencyType, seen: set[str]) -> None:
        seen.add(group)
        entries = by_name.get(group)
        if not isinstance(entries, list):
            result.skipped.append(f"include-group {group}")
            return
        for entry in entries:
            included = entry.get("include-group") if isinstance(entry, dict) else None
            if not isinstance(included, str):
                _pep508_list(result, path, [entry], kind, own_name)
            elif canonicalize_name(included) not in seen:
                walk(canonicalize_name(included), kind, seen)

    for name in groups:
        # Each group's includes are read once, so cycles and diamonds stay cheap.
        walk(canonicalize_name(name), _named_type(name, DEVELOPMENT), set())


def _poetry(result: ParseResult, path: str, data: dict[str, Any]) -> None:
    poetry = ("tool", "poetry")
    main = _lookup(path, data, (*poetry, "dependencies"), dict) or {}
    _add_table(result, path, main, RUNTIME, skip=frozenset({"python"}))
    legacy_dev = _lookup(path, data, (*poetry, "dev-dependencies"), dict) or {}
    _add_table(result, path, legacy_dev, DEVELOPMENT, skip=frozenset({"python"}))
    for group in _lookup(path, data, (*poetry, "group"), dict) or {}:
        table = _lookup(path, data, (*poetry, "group", group, "dependencies"), dict) or {}
        kind = RUNTIME if group == "main" else _named_type(group, DEVELOPMENT)
        _add_table(result, path, table, kind, skip=frozenset({"python"}))


def parse_pyproject(path: str, text: str) -> ParseResult:
    data = load_toml(path, text)
    result = ParseResult()
    own_name = canonicalize_name(str(_lookup(path, data, ("project", "name"), str) or ""))

    def pep508(keys: tuple[str, ...], kind: DependencyType) -> None:
        _pep508_list(result, path, _lookup(path, data, keys, list) or [], kind, own_name)

    def pep508_groups(keys: tuple[str, ...], kind: Callable[[str], DependencyType]) -> None:
        for group in _lookup(path, data, keys, dict) or {}:
            pep508((*keys, group), kind(group))

    pep508(("build-system", "requires"), DependencyType.BUILD)
    pep508(("project", "dependencies"), RUNTIME)
    pep508_groups(("project", "optional-dependencies"), lambda _: OPTIONAL)
    groups = _lookup(path, data, ("dependency-groups",), dict) or {}
    _dependency_groups(result, path, groups, own_name)
    _poetry(result, path, data)
    pep508_groups(("tool", "pdm", "dev-dependencies"), lambda g: _named_type(g, DEVELOPMENT))
    pep508(("tool", "uv", "dev-dependencies"), DEVELOPMENT)
    return _finish(result)


# setup.cfg --------------------------------------------------------------------------------


def _setup_cfg_list(value: str) -> list[str]:
    """setuptools' list-semi: one entry per line, or `;`-separated on a single line."""
    parts = value.split("\n") if "\n" in value else value.split(";")
    entries = (_COMMENT.sub("", part).strip() for part in parts)
    return [entry for entry in entries if entry]


def parse_setup_cfg(path: str, text: str) -> ParseResult:
    config = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        config.read_string(text, source=path)
    except configparser.Error as exc:
        errors = getattr(exc, "errors", None)
        line = getattr(exc, "lineno", None) or (errors[0][0] if errors else None)
        raise ManifestError(path, f"invalid setup.cfg: {exc.message}", line=line) from None
    result = ParseResult()
    keys = {
        "install_requires": RUNTIME,
        "setup_requires": DependencyType.BUILD,
        "tests_require": TEST,
    }
    if config.has_section("options"):
        for key, kind in keys.items():
            _setup_cfg_entries(result, path, config.get("options", key, fallback=""), kind)
    if config.has_section("options.extras_require"):
        for _, value in config.items("options.extras_require"):
            _setup_cfg_entries(result, path, value, OPTIONAL)
    return _finish(result)


def _setup_cfg_entries(result: ParseResult, path: str, value: str, kind: DependencyType) -> None:
    if value.strip().startswith("file:"):
        result.skipped.append(value.strip())
        return
    for entry in _setup_cfg_list(value):
        _add_pep508(result, path, entry, kind)


# Pipfile and Pipfile.lock -------------------------------------------------------------------


def parse_pipfile(path: str, text: str) -> ParseResult:
    data = load_toml(path, text)
    result = ParseResult()
    _add_table(result, path, _lookup(path, data, ("packages",), dict) or {}, RUNTIME)
    _add_table(result, path, _lookup(path, data, ("dev-packages",), dict) or {}, DEVELOPMENT)
    return _finish(result)


def parse_pipfile_lock(path: str, text: str) -> ParseResult:
    """Pipfile.lock does not record which packages the Pipfile names, so none is direct."""
    data = load_json(path, text)
    result = ParseResult()
    for section, kind in (("default", RUNTIME), ("develop", DEVELOPMENT)):
        for name, entry in (_lookup(path, data, (section,), dict) or {}).items():
            version = entry.get("version") if isinstance(entry, dict) else None
            if isinstance(version, str) and version and _VALID_NAME.match(name):
                result.dependencies.append(_dependency(path, name, version, kind, direct=False))
            else:
                result.skipped.append(f"{name} @ {_location(entry)}")
    return _finish(result)


# poetry.lock ------------------------------------------------------------------------------

_LOCAL_SOURCES = frozenset({"git", "directory", "file", "url"})


def _check_version(path: str, key: str, version: object, majors: Iterable[int]) -> None:
    major = str(version).split(".", 1)[0]
    if not major.isdigit() or int(major) not in majors:
        raise ManifestError(path, f"unsupported {key} {version!r}")


def _poetry_lock_type(package: dict[str, Any]) -> DependencyType:
    groups = package.get("groups")
    category = package.get("category")
    if isinstance(groups, list) and groups and "main" not in groups:
        kind = min((_named_type(str(g), DEVELOPMENT) for g in groups), key=TYPE_STRENGTH.index)
    elif category == "dev":
        kind = DEVELOPMENT
    else:
        kind = RUNTIME
    # `optional = true`: installed only for one of the project's extras.
    return OPTIONAL if kind is RUNTIME and package.get("optional") is True else kind


def _without_file_hashes(text: str) -> str:
    """poetry.lock without its `files` lists, most of a lockfile and slow to decode for nothing.

    Poetry writes each list as `files = [`, one file a line, then `]`; lock version 1 keeps
    them in a `[metadata.files]` table instead.
    """
    kept: list[str] = []
    skipping: str | None = None
    for line in text.split("\n"):
        if skipping == "list":
            skipping = None if line == "]" else skipping
            continue
        if skipping == "table" and not line.startswith("["):
            continue
        skipping = {"files = [": "list", "[metadata.files]": "table"}.get(line)
        if skipping is None:
            kept.append(line)
    return "\n".join(kept)


def parse_poetry_lock(path: str, text: str) -> ParseResult:
    """Lock versions 1.x (`category`) and 2.x (`groups`); poetry.lock does not mark direct ones."""
    try:
        data = tomllib.loads(_without_file_hashes(text))
    except tomllib.TOMLDecodeError:
        data = load_toml(path, text)  # reports the error at its line in the file as written
    if not data:
        return ParseResult()
    version = _lookup(path, data, ("metadata", "lock-version"), str) or "1.0"
    _check_version(path, "metadata.lock-version", version, (1, 2))
    result = ParseResult()
    for entry in _lookup(path, data, ("package",), list) or []:
        package = _mapping(entry)
        name = package["name"] if isinstance(package.get("name"), str) else ""
        locked = package.get("version")
        source = _mapping(package.get("source"))
        local = str(source.get("type")) in _LOCAL_SOURCES
        if local or not _VALID_NAME.match(name) or not isinstance(locked, str) or not locked:
            result.skipped.append(f"{name} @ {source.get('url', '?')}")
            continue
        kind = _poetry_lock_type(package)
        result.dependencies.append(_dependency(path, name, f"=={locked}", kind, direct=False))
    return _finish(result)


# uv.lock -----------------------------------------------------------------------------------

# A node is a package name and, for its optional dependencies, the extra that pulls them in.
_Node = tuple[str, str | None]


def _uv_edges(entries: Any) -> Iterator[_Node]:
    """The nodes a list of `{name = ..., extra = [...]}` entries points at."""
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict) and isinstance(entry.get("name"), str):
            name = canonicalize_name(entry["name"])
            yield name, None
            extras = entry.get("extra")
            yield from ((name, str(e)) for e in (extras if isinstance(extras, list) else ()))


def _propagate(
    seeds: Iterable[tuple[_Node, DependencyType]],
    edges: Callable[[_Node], Iterable[_Node]],
) -> dict[str, DependencyType]:
    """The strongest type by which each package is reached from the project's own entries."""
    best: dict[_Node, int] = {}
    queue = deque((node, TYPE_STRENGTH.index(kind)) for node, kind in seeds)
    while queue:
        node, rank = queue.popleft()
        if best.get(node, len(TYPE_STRENGTH)) <= rank:
            continue
        best[node] = rank
        queue.extend((child, rank) for child in edges(node))
    by_package: dict[str, int] = {}
    for (name, _), rank in best.items():
        by_package[name] = min(rank, by_package.get(name, rank))
    return {name: TYPE_STRENGTH[rank] for name, rank in by_package.items()}


def _uv_is_project(package: dict[str, Any]) -> bool:
    source = package.get("source")
    return isinstance(source, dict) and ("editable" in source or "virtual" in source)


def _uv_roots(
    manifest: dict[str, Any], projects: list[dict[str, Any]]
) -> list[tuple[_Node, DependencyType]]:
    """(node, type) for every package the project and its workspace members ask for.

    `[manifest]` holds what a workspace root without a project of its own asks for.
    """
    seeds: list[tuple[_Node, DependencyType]] = []
    for owner in [*projects, {"dependencies": manifest.get("requirements")}]:
        seeds += [(node, RUNTIME) for node in _uv_edges(owner.get("dependencies"))]
        for extras in _mapping(owner.get("optional-dependencies")).values():
            seeds += [(node, OPTIONAL) for node in _uv_edges(extras)]
    for groups in [
        *(p.get("dev-dependencies") for p in projects),
        manifest.get("dependency-groups"),
    ]:
        for group, entries in _mapping(groups).items():
            kind = _named_type(group, DEVELOPMENT)
            seeds += [(node, kind) for node in _uv_edges(entries)]
    return seeds


def parse_uv_lock(path: str, text: str) -> ParseResult:
    """Direct packages are those the project's own (editable or virtual) entries list."""
    data = load_toml(path, text)
    if not data:
        return ParseResult()
    _check_version(path, "version", data.get("version"), (1,))
    packages = [p for p in _lookup(path, data, ("package",), list) or [] if isinstance(p, dict)]
    projects = [p for p in packages if _uv_is_project(p)]
    seeds = _uv_roots(_lookup(path, data, ("manifest",), dict) or {}, projects)
    edges: dict[_Node, list[_Node]] = {}
    for package in packages:
        name = canonicalize_name(str(package.get("name", "")))
        edges.setdefault((name, None), []).extend(_uv_edges(package.get("dependencies")))
        for extra, entries in _mapping(package.get("optional-dependencies")).items():
            edges.setdefault((name, extra), []).extend(_uv_edges(entries))
    types = _propagate(seeds, lambda node: edges.get(node, ()))
    direct = {name for (name, _), _ in seeds}
    result = ParseResult()
    for package in packages:
        if not _uv_is_project(package):
            _add_uv_package(result, path, package, types, direct)
    return _finish(result)


def _add_uv_package(
    result: ParseResult,
    path: str,
    package: dict[str, Any],
    types: dict[str, DependencyType],
    direct: set[str],
) -> None:
    name, version = str(package.get("name", "")), package.get("version")
    source = _mapping(package.get("source"))
    if "registry" not in source or not version or not _VALID_NAME.match(name):
        where = next(iter(source.values()), "?")
        result.skipped.append(f"{name} @ {where}")
        return
    key = canonicalize_name(name)
    kind = types.get(key, RUNTIME)
    result.dependencies.append(_dependency(path, name, f"=={version}", kind, direct=key in direct))


PARSERS: tuple[Parser, ...] = (
    Parser(
        name="requirements.txt",
        ecosystem=Ecosystem.PYPI,
        # Not a bare "*.in": MANIFEST.in is a setuptools file, not a requirements file.
        patterns=("*requirements*.txt", "*requirements*.in"),
        parse=parse_requirements,
        path_patterns=("requirements/*.txt", "requirements/*.in"),
    ),
    Parser("pyproject.toml", Ecosystem.PYPI, ("pyproject.toml",), parse_pyproject),
    Parser("setup.cfg", Ecosystem.PYPI, ("setup.cfg",), parse_setup_cfg),
    Parser("Pipfile", Ecosystem.PYPI, ("Pipfile",), parse_pipfile),
    Parser("Pipfile.lock", Ecosystem.PYPI, ("Pipfile.lock",), parse_pipfile_lock),
    Parser("poetry.lock", Ecosystem.PYPI, ("poetry.lock",), parse_poetry_lock),
    Parser("uv.lock", Ecosystem.PYPI, ("uv.lock",), parse_uv_lock),
)
