"""Manifest, lockfile and SBOM parsers, one module per ecosystem.

`detect(path)` picks the parser for a file name; `parse_file(path)` reads the
file safely (size limit, BOM, any line ending) and parses it.
"""

from pathlib import Path

from wump.ingest.parsers import (
    cargo,
    composer,
    gem,
    github_actions,
    golang,
    maven,
    npm,
    nuget,
    pypi,
    sbom,
)
from wump.ingest.parsers.base import ManifestError, ParsedDependency, Parser, ParseResult

__all__ = [
    "MAX_FILE_BYTES",
    "PARSERS",
    "ManifestError",
    "ParseResult",
    "ParsedDependency",
    "Parser",
    "decode",
    "detect",
    "parse_file",
    "parse_text",
]

PARSERS: tuple[Parser, ...] = (
    *pypi.PARSERS,
    *npm.PARSERS,
    *cargo.PARSERS,
    *golang.PARSERS,
    *gem.PARSERS,
    *composer.PARSERS,
    *maven.PARSERS,
    *nuget.PARSERS,
    *github_actions.PARSERS,
    *sbom.PARSERS,
)

# Lockfiles of very large monorepos reach tens of MB; anything far beyond is refused.
MAX_FILE_BYTES = 64 * 1024 * 1024


def detect(path: str) -> Parser | None:
    return next((parser for parser in PARSERS if parser.matches(path)), None)


def decode(path: str, raw: bytes) -> str:
    """UTF-8 text with any BOM removed and line endings made `\\n`."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ManifestError(path, f"not UTF-8 text (byte {exc.start})") from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def parse_text(path: str, text: str, parser: Parser | None = None) -> ParseResult:
    chosen = parser or detect(path)
    if chosen is None:
        raise ManifestError(path, "no parser knows this file name")
    return chosen.parse(path, text)


def parse_file(path: Path, *, display_path: str | None = None) -> ParseResult:
    """Parse one file. `display_path` (e.g. relative to a checkout) is what results name."""
    shown = display_path or str(path)
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise ManifestError(shown, f"{size} bytes is over the {MAX_FILE_BYTES}-byte limit")
    return parse_text(shown, decode(shown, path.read_bytes()))
