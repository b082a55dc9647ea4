"""What every parser returns, and how it reports bad input.

A parser is a pure function of a file's path and text. It never executes code
from the input and never touches the database. One parser module per ecosystem
registers its parsers in `wump.ingest.parsers.PARSERS`.
"""

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from fnmatch import fnmatch
from pathlib import PurePosixPath

from wump.ingest.identity import Ecosystem, normalize_name
from wump.models.enums import DependencyType


@dataclass(frozen=True, slots=True)
class ParsedDependency:
    ecosystem: Ecosystem
    name: str
    # Exactly as written in the file; "*" when unpinned.
    requirement: str
    dependency_type: DependencyType
    is_direct: bool
    manifest_path: str


@dataclass(slots=True)
class ParseResult:
    dependencies: list[ParsedDependency] = field(default_factory=list)
    # Entries deliberately left out (local paths, git/URL requirements), for users to see.
    skipped: list[str] = field(default_factory=list)
    # For SBOMs: the repository the document describes ("owner/name"), when it says.
    repository: str | None = None


class ManifestError(ValueError):
    """The file cannot be parsed. Names the file and, when known, the line or key."""

    def __init__(self, path: str, message: str, *, line: int | None = None) -> None:
        where = f"{path}:{line}" if line is not None else path
        super().__init__(f"{where}: {message}")
        self.path = path
        self.line = line
        self.message = message


ParseFunction = Callable[[str, str], ParseResult]


@dataclass(frozen=True, slots=True)
class Parser:
    """A parser and the file names it understands (fnmatch patterns on the base name)."""

    name: str
    ecosystem: Ecosystem
    patterns: tuple[str, ...]
    parse: ParseFunction
    # Patterns matched against the whole relative path, e.g. ".github/workflows/*.yml".
    path_patterns: tuple[str, ...] = ()

    def matches(self, path: str) -> bool:
        posix = PurePosixPath(path.replace("\\", "/"))
        if any(fnmatch(posix.name.lower(), p.lower()) for p in self.patterns):
            return True
        return any(fnmatch(str(posix).lower(), f"*{p.lower()}") for p in self.path_patterns)


# Strongest first: a package needed at runtime anywhere in a file is a runtime dependency.
TYPE_STRENGTH: tuple[DependencyType, ...] = (
    DependencyType.RUNTIME,
    DependencyType.BUILD,
    DependencyType.OPTIONAL,
    DependencyType.PEER,
    DependencyType.TEST,
    DependencyType.DEVELOPMENT,
)
_RANK = {kind: rank for rank, kind in enumerate(TYPE_STRENGTH)}


def collapse(deps: list[ParsedDependency]) -> list[ParsedDependency]:
    """One entry per package and file, in first-seen order.

    Names are compared in the registry's canonical form. The entry with the strongest
    type wins (its requirement comes along), and the package is direct if any entry was.
    """
    kept: dict[tuple[Ecosystem, str, str], ParsedDependency] = {}
    for dep in deps:
        key = (dep.ecosystem, normalize_name(dep.ecosystem, dep.name), dep.manifest_path)
        current = kept.get(key)
        if current is None:
            kept[key] = dep
            continue
        winner = dep if _RANK[dep.dependency_type] < _RANK[current.dependency_type] else current
        kept[key] = replace(winner, is_direct=current.is_direct or dep.is_direct)
    return list(kept.values())
