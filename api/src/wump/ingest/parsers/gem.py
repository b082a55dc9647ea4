"""Gemfile, Gemfile.lock and *.gemspec.

Gemfiles and gemspecs are Ruby programs. They are read as text, never run: each
`gem` / `add_dependency` call is picked out with its literal arguments, and
`group ... do ... end` blocks are followed to learn what a gem is for. Arguments
computed at run time (constants, interpolated strings) are reported as unknown.
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from wump.ingest.identity import Ecosystem
from wump.ingest.parsers.base import (
    TYPE_STRENGTH,
    ManifestError,
    ParsedDependency,
    Parser,
    ParseResult,
    collapse,
)
from wump.models.enums import DependencyType

# A literal argument: a string or symbol, a list of them, or None when computed.
Value = str | list[str] | None

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
    | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
    | (?P<percent_string>%[qQ]?(?:<[^>]*>|\([^)]*\)|\{[^}]*\}|\[[^\]]*\]|\|[^|]*\||![^!]*!))
    | (?P<percent_list>%[wWiI](?:<[^>]*>|\([^)]*\)|\{[^}]*\}|\[[^\]]*\]))
    | (?P<label>[A-Za-z_]\w*[?!]?:(?!:)|"[^"]*":)
    | (?P<symbol>:[A-Za-z_]\w*[?!=]?|:"[^"]*")
    | (?P<rocket>=>)
    | (?P<freeze>\.freeze\b)
    | (?P<word>[A-Za-z_]\w*[?!]?)
    | (?P<comma>,)
    | (?P<open>[\[({])
    | (?P<close>[\])}])
    | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)
_CALL = re.compile(r"^(?P<head>[A-Za-z_]\w*)(?P<rest>(?:[\s(].*)?)$", re.DOTALL)
_BLOCK_OPENER = re.compile(r"\s+do(?:\s*\|[^|]*\|)?$")
# Statements that open a block closed by `end`, also as the value of an assignment.
_OPENS_END = re.compile(
    r"^(?:[\w.@$]+\s*(?:\|\||&&)?=\s*)?"
    r"(?:if|unless|case|while|until|begin|def|class|module|for)\b(?!.*\bend$)",
    re.DOTALL,
)
_SOURCE_OPTIONS = ("path", "git", "github", "gitlab", "bitbucket")
_GROUP_TYPES: dict[str, DependencyType] = {
    **dict.fromkeys(
        ("development", "dev", "doc", "docs", "lint", "linting", "rubocop", "tools", "debug"),
        DependencyType.DEVELOPMENT,
    ),
    **dict.fromkeys(("test", "tests", "spec", "specs", "cucumber", "e2e"), DependencyType.TEST),
    "assets": DependencyType.BUILD,
}
_DEPENDENCY_CALL = re.compile(
    r"^(?:[\w:]+\.)?add_(?P<kind>runtime_|development_)?dependency(?P<rest>(?:[\s(].*)?)$",
    re.DOTALL,
)
_LOCKED_SPEC = re.compile(r"^(?P<name>\S+) \((?P<version>[^-)]+)(?:-[^)]*)?\)$")


# --- reading Ruby source as text ------------------------------------------------------


def _scan(line: str) -> tuple[str, int]:
    """The line without its comment, and how many brackets it leaves open."""
    quote: str | None = None
    depth = 0
    index = 0
    while index < len(line):
        char = line[index]
        if quote is not None:
            if char == "\\":
                index += 1
            elif char == quote:
                quote = None
        elif char in "\"'":
            quote = char
        elif char == "#":
            return line[:index], depth
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        index += 1
    return line, depth


def _statements(text: str) -> Iterator[tuple[int, str]]:
    """Logical statements with their first line: comments dropped, continuations joined."""
    pending: list[str] = []
    start = depth = 0
    in_doc = False
    for number, raw in enumerate(text.split("\n"), start=1):
        if in_doc or raw.startswith("=begin"):
            in_doc = not raw.startswith("=end")
            continue
        code, delta = _scan(raw)
        code = code.strip()
        if not code and not pending:
            continue
        if not pending:
            start = number
        pending.append(code.removesuffix("\\"))
        depth += delta
        if depth > 0 or code.endswith((",", "\\")):
            continue
        yield start, " ".join(part for part in pending if part)
        pending, depth = [], 0
    if pending:
        yield start, " ".join(part for part in pending if part)


@dataclass(slots=True)
class _Arguments:
    positional: list[Value] = field(default_factory=list)
    options: dict[str, Value] = field(default_factory=dict)


def _arguments(text: str) -> _Arguments:
    """The literal arguments of a call, given the text after the method name."""
    tokens = [
        (match.lastgroup or "other", match.group())
        for match in _TOKEN.finditer(text)
        if match.lastgroup not in ("space", "freeze")
    ]
    if tokens[:1] == [("open", "(")] and tokens[-1:] == [("close", ")")]:
        tokens = tokens[1:-1]
    parsed = _Arguments()
    for argument in _split(tokens):
        kinds = [kind for kind, _ in argument]
        if kinds[0] == "label":
            parsed.options[argument[0][1].rstrip(":").strip('"')] = _value(argument[1:])
        elif "rocket" in kinds:
            arrow = kinds.index("rocket")
            key = _value(argument[:arrow])
            if isinstance(key, str):
                parsed.options[key] = _value(argument[arrow + 1 :])
        else:
            parsed.positional.append(_value(argument))
    return parsed


def _split(tokens: list[tuple[str, str]]) -> Iterator[list[tuple[str, str]]]:
    """Top-level comma-separated arguments, stopping at an `if`/`unless` modifier."""
    depth = 0
    current: list[tuple[str, str]] = []
    for kind, text in tokens:
        if depth == 0 and kind == "word" and text in ("if", "unless"):
            break
        depth += {"open": 1, "close": -1}.get(kind, 0)
        if depth == 0 and kind == "comma":
            if current:
                yield current
            current = []
        else:
            current.append((kind, text))
    if current:
        yield current


def _value(tokens: list[tuple[str, str]]) -> Value:
    if len(tokens) == 1:
        kind, text = tokens[0]
        if kind == "string":
            return None if text[0] == '"' and "#{" in text else text[1:-1]
        if kind == "symbol":
            return text[1:].strip('"')
        if kind == "percent_string":
            return text[
                text.index(text[-1] if text[-1] not in ">)}]" else "<({["[">)}]".index(text[-1])])
                + 1 : -1
            ]
        if kind == "percent_list":
            return text[3:-1].split()
    if tokens and tokens[0] == ("open", "[") and tokens[-1] == ("close", "]"):
        items = [_value(item) for item in _split(tokens[1:-1])]
        if all(isinstance(item, str) for item in items):
            return [item for item in items if isinstance(item, str)]
    return None


def _strings(values: list[Value]) -> list[str] | None:
    """Flatten literal values; None if any of them is computed."""
    flat: list[str] = []
    for value in values:
        if value is None:
            return None
        flat.extend([value] if isinstance(value, str) else value)
    return flat


def _requirement(values: list[Value]) -> str:
    constraints = _strings(values)
    return ", ".join(constraints) if constraints else "*"


# --- Gemfile --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Block:
    line: int
    groups: tuple[str, ...] = ()
    # Why the gems inside are not registry gems (`path "..." do`, `git "..." do`).
    source: str | None = None


def parse_gemfile(path: str, text: str) -> ParseResult:
    result = ParseResult()
    deps: list[ParsedDependency] = []
    stack: list[_Block] = []
    for number, statement in _statements(text):
        call = _CALL.match(statement)
        head, rest = (call.group("head"), call.group("rest")) if call else ("", statement)
        if head == "end":
            if not stack:
                raise ManifestError(path, "'end' without a block to close", line=number)
            stack.pop()
        elif _BLOCK_OPENER.search(statement):
            stack.append(_block(number, head, _BLOCK_OPENER.sub("", rest)))
        elif _OPENS_END.match(statement):
            stack.append(_Block(number))
        elif head == "gem":
            found = _gem(path, number, _arguments(rest), stack)
            if isinstance(found, str):
                result.skipped.append(found)
            else:
                deps.append(found)
    if stack:
        raise ManifestError(path, "block is never closed with 'end'", line=stack[-1].line)
    result.dependencies = collapse(deps)
    return result


def _block(number: int, head: str, rest: str) -> _Block:
    arguments = _arguments(rest)
    if head in ("group", "groups"):
        return _Block(number, groups=tuple(_strings(arguments.positional) or ()))
    if head in _SOURCE_OPTIONS:
        where = arguments.positional[0] if arguments.positional else None
        return _Block(number, source=f"{head} {where or '(computed)'}")
    return _Block(number)


def _gem(
    path: str, number: int, arguments: _Arguments, stack: list[_Block]
) -> ParsedDependency | str:
    """The dependency a `gem` line declares, or why it is skipped."""
    name = arguments.positional[0] if arguments.positional else None
    if not isinstance(name, str):
        return f"line {number}: gem with a computed name"
    source = next((block.source for block in reversed(stack) if block.source), None)
    for option in _SOURCE_OPTIONS:
        if option in arguments.options:
            source = f"{option} {arguments.options[option] or '(computed)'}"
    if source is not None:
        return f"{name} ({source})"
    groups = [group for block in stack for group in block.groups]
    for option in ("group", "groups"):
        groups.extend(_strings([arguments.options.get(option)]) or ())
    return ParsedDependency(
        ecosystem=Ecosystem.GEM,
        name=name,
        requirement=_requirement(arguments.positional[1:]),
        dependency_type=_group_type(groups),
        is_direct=True,
        manifest_path=path,
    )


def _group_type(groups: list[str]) -> DependencyType:
    """The strongest type among a gem's groups; a gem in no group is needed at runtime."""
    kinds = {_GROUP_TYPES.get(group, DependencyType.RUNTIME) for group in groups}
    return next((kind for kind in TYPE_STRENGTH if kind in kinds), DependencyType.RUNTIME)


# --- Gemfile.lock ---------------------------------------------------------------------


def parse_gemfile_lock(path: str, text: str) -> ParseResult:
    result = ParseResult()
    locked: list[tuple[str, str]] = []
    direct: set[str] = set()
    section = remote = ""
    for number, line in enumerate(text.split("\n"), start=1):
        stripped = line.strip()
        indent = len(line) - len(line.lstrip(" "))
        if not stripped:
            continue
        if indent == 0:
            section, remote = stripped, ""
        elif indent == 2 and stripped.startswith("remote:"):
            remote = stripped.removeprefix("remote:").strip()
        elif indent == 2 and section == "DEPENDENCIES":
            direct.add(re.split(r"[\s!]", stripped, maxsplit=1)[0])
        elif indent == 4 and section in ("GEM", "GIT", "PATH", "PLUGIN SOURCE"):
            spec = _LOCKED_SPEC.match(stripped)
            if spec is None:
                raise ManifestError(path, f"not a 'name (version)' spec: {stripped}", line=number)
            if section == "GEM":
                locked.append((spec.group("name"), spec.group("version")))
            else:
                result.skipped.append(f"{spec.group('name')} ({section.lower()} {remote})")
    result.dependencies = collapse(
        [_locked(path, name, version, name in direct) for name, version in locked]
    )
    return result


def _locked(path: str, name: str, version: str, is_direct: bool) -> ParsedDependency:
    return ParsedDependency(
        ecosystem=Ecosystem.GEM,
        name=name,
        requirement=version,
        dependency_type=DependencyType.RUNTIME,
        is_direct=is_direct,
        manifest_path=path,
    )


# --- *.gemspec ------------------------------------------------------------------------


def parse_gemspec(path: str, text: str) -> ParseResult:
    result = ParseResult()
    typed: list[ParsedDependency] = []
    plain: list[ParsedDependency] = []
    for number, statement in _statements(text):
        call = _DEPENDENCY_CALL.match(statement)
        if call is None:
            continue
        arguments = _arguments(call.group("rest"))
        name = arguments.positional[0] if arguments.positional else None
        if not isinstance(name, str):
            result.skipped.append(f"line {number}: dependency with a computed name")
            continue
        development = call.group("kind") == "development_"
        dep = ParsedDependency(
            ecosystem=Ecosystem.GEM,
            name=name,
            requirement=_requirement(arguments.positional[1:]),
            dependency_type=DependencyType.DEVELOPMENT if development else DependencyType.RUNTIME,
            is_direct=True,
            manifest_path=path,
        )
        (plain if call.group("kind") is None else typed).append(dep)
    # Generated gemspecs repeat every dependency as a plain `add_dependency` in an
    # `else` branch for old RubyGems; the typed call says what the gem really needs.
    named = {dep.name for dep in typed}
    result.dependencies = collapse([*typed, *(dep for dep in plain if dep.name not in named)])
    return result


PARSERS: tuple[Parser, ...] = (
    Parser("Gemfile", Ecosystem.GEM, ("Gemfile", "gems.rb"), parse_gemfile),
    Parser("Gemfile.lock", Ecosystem.GEM, ("Gemfile.lock", "gems.locked"), parse_gemfile_lock),
    Parser("gemspec", Ecosystem.GEM, ("*.gemspec",), parse_gemspec),
)
