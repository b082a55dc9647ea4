"""go.mod and go.sum.

go.mod is read the way the go command reads it: `require` gives the modules (with
`// indirect` marking those no package of the main module imports), `replace` swaps a
module for another or for a local directory, and `tool` marks modules needed only for
development tools. `exclude`, `retract` and the rest name no dependency.
"""

import re
from dataclasses import dataclass, field, replace

from wump.ingest.identity import Ecosystem
from wump.ingest.parsers.base import (
    ManifestError,
    ParsedDependency,
    Parser,
    ParseResult,
    collapse,
)
from wump.models.enums import DependencyType

_SEMVER = re.compile(r"^v(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$")


@dataclass(frozen=True, slots=True)
class _Line:
    number: int
    args: list[str]
    comment: str


@dataclass(frozen=True, slots=True)
class _Replace:
    old: str
    old_version: str | None
    new: str
    new_version: str | None


@dataclass(slots=True)
class _GoMod:
    requires: list[_Line] = field(default_factory=list)
    replaces: list[_Line] = field(default_factory=list)
    tools: list[_Line] = field(default_factory=list)


def parse_go_mod(path: str, text: str) -> ParseResult:
    mod = _read(path, text)
    replaces = [_replace_rule(path, line) for line in mod.replaces]
    tool_modules = _tool_modules(mod)
    result = ParseResult()
    deps: list[ParsedDependency] = []
    for line in mod.requires:
        if len(line.args) != 2:
            raise ManifestError(path, "usage: require module/path v1.2.3", line=line.number)
        module, version = line.args
        is_tool = module in tool_modules
        dep = ParsedDependency(
            ecosystem=Ecosystem.GOLANG,
            name=module,
            requirement=version,
            dependency_type=DependencyType.DEVELOPMENT if is_tool else DependencyType.RUNTIME,
            is_direct=is_tool or not _is_indirect(line.comment),
            manifest_path=path,
        )
        replaced = _apply_replace(dep, replaces)
        if isinstance(replaced, str):
            result.skipped.append(replaced)
        else:
            deps.append(replaced)
    result.dependencies = collapse(deps)
    return result


def _read(path: str, text: str) -> _GoMod:
    """Group the directives of a go.mod, unfolding `verb ( ... )` blocks."""
    mod = _GoMod()
    targets = {"require": mod.requires, "replace": mod.replaces, "tool": mod.tools}
    block: tuple[str, int] | None = None
    for number, raw in enumerate(text.split("\n"), start=1):
        code, _, comment = raw.partition("//")
        words = [_unquote(word) for word in code.split()]
        if not words:
            continue
        if words == [")"]:
            if block is None:
                raise ManifestError(path, "')' closes no block", line=number)
            block = None
        elif block is not None:
            if block[0] in targets:
                targets[block[0]].append(_Line(number, words, comment))
        elif words[1:] == ["("]:
            block = (words[0], number)
        elif words[0] in targets:
            targets[words[0]].append(_Line(number, words[1:], comment))
    if block is not None:
        raise ManifestError(path, f"'{block[0]} (' is never closed", line=block[1])
    return mod


def _unquote(word: str) -> str:
    if len(word) >= 2 and word[0] == word[-1] and word[0] in '"`':
        return word[1:-1]
    return word


def _is_indirect(comment: str) -> bool:
    text = comment.strip()
    return text == "indirect" or text.startswith("indirect;")


def _replace_rule(path: str, line: _Line) -> _Replace:
    arrow = line.args.index("=>") if "=>" in line.args else 0
    old, new = line.args[:arrow], line.args[arrow + 1 :]
    if not (1 <= len(old) <= 2 and 1 <= len(new) <= 2):
        raise ManifestError(path, "usage: replace old [v] => new [v]", line=line.number)
    return _Replace(old[0], _second(old), new[0], _second(new))


def _second(words: list[str]) -> str | None:
    return words[1] if len(words) > 1 else None


def _apply_replace(dep: ParsedDependency, rules: list[_Replace]) -> ParsedDependency | str:
    """The dependency after its `replace`, or why it was skipped.

    A rule for the exact version wins over one for every version of the module.
    """
    matching = [r for r in rules if r.old == dep.name and r.old_version in (None, dep.requirement)]
    if not matching:
        return dep
    rule = max(matching, key=lambda r: r.old_version is not None)
    if rule.new_version is None:
        # Without a version the right-hand side is a directory, not a module.
        return f"{dep.name} (replaced by local directory {rule.new})"
    return replace(dep, name=rule.new, requirement=rule.new_version)


def _tool_modules(mod: _GoMod) -> set[str]:
    """Required modules that provide a `tool` package (the longest matching path)."""
    required = [line.args[0] for line in mod.requires if line.args]
    found: set[str] = set()
    for tool in mod.tools:
        for package in tool.args:
            owners = [m for m in required if package == m or package.startswith(f"{m}/")]
            if owners:
                found.add(max(owners, key=len))
    return found


def parse_go_sum(path: str, text: str) -> ParseResult:
    """Modules whose code the build downloaded; `/go.mod`-only lines were merely consulted."""
    chosen: dict[str, str] = {}
    for number, raw in enumerate(text.split("\n"), start=1):
        words = raw.split()
        if not words:
            continue
        if len(words) != 3:
            raise ManifestError(path, "expected 'module version hash'", line=number)
        module, version, _ = words
        if version.endswith("/go.mod"):
            continue
        current = chosen.get(module)
        # Minimal version selection builds with the highest version listed.
        if current is None or _version_key(version) > _version_key(current):
            chosen[module] = version
    deps = [
        ParsedDependency(
            ecosystem=Ecosystem.GOLANG,
            name=module,
            requirement=version,
            dependency_type=DependencyType.RUNTIME,
            is_direct=False,
            manifest_path=path,
        )
        for module, version in chosen.items()
    ]
    return ParseResult(dependencies=deps)


def _version_key(version: str) -> tuple[int, int, int, int, tuple[tuple[int, int, str], ...]]:
    """Semantic-version precedence; a pre-release (and a pseudo-version) sorts first."""
    found = _SEMVER.match(version.removesuffix("+incompatible"))
    if found is None:
        return (-1, -1, -1, 0, ())
    major, minor, patch, pre = found.groups()
    identifiers = tuple(
        (0, int(part), "") if part.isdigit() else (1, 0, part) for part in (pre or "").split(".")
    )
    return (int(major), int(minor), int(patch), 0 if pre else 1, identifiers if pre else ())


PARSERS: tuple[Parser, ...] = (
    Parser("go.mod", Ecosystem.GOLANG, ("go.mod",), parse_go_mod),
    Parser("go.sum", Ecosystem.GOLANG, ("go.sum",), parse_go_sum),
)
