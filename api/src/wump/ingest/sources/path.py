"""Local checkouts: every manifest and lockfile in a working tree, as one snapshot.

The walk skips vendored and generated folders (node_modules, .venv, vendor,
dist, ...) and whatever the checkout's `.gitignore` files ignore, so only the
project's own manifests count. The repository comes from `--repo OWNER/NAME` or
from the `origin` remote in `.git/config` (read as text; git is never run).
"""

import os
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from pathspec import GitIgnoreSpec

from wump.ingest import parsers
from wump.ingest.loader import InvalidRepository, RepositoryRef, Snapshot
from wump.ingest.parsers import ManifestError, ParsedDependency, Parser
from wump.ingest.parsers import sbom as sbom_parsers
from wump.ingest.sources import Batch
from wump.models import DependencySource

SKIPPED_DIRECTORIES = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        "node_modules",
        "bower_components",
        "jspm_packages",
        "vendor",
        "third_party",
        "Pods",
        "Carthage",
        ".venv",
        "venv",
        ".tox",
        ".nox",
        ".eggs",
        "__pycache__",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        "site-packages",
        "dist",
        "build",
        "target",
        ".gradle",
        ".next",
        ".nuxt",
        ".terraform",
    }
)
# Hosts that serve GitHub repositories under another name.
_HOST_ALIASES = {"www.github.com": "github.com", "ssh.github.com": "github.com"}
_SCP_LIKE = re.compile(r"^(?:[^@/\s]+@)?(?P<host>[^:/\s]+):(?!//)(?P<path>\S+)$")
_SECTION = re.compile(r'^\s*\[\s*(?P<name>[A-Za-z0-9.-]+)(?:\s+"(?P<sub>(?:[^"\\]|\\.)*)")?\s*\]')
_ENTRY = re.compile(r"^\s*(?P<key>[A-Za-z][A-Za-z0-9-]*)\s*=\s*(?P<value>.*?)\s*$")


class CheckoutError(ValueError):
    pass


def parse_remote_url(url: str) -> RepositoryRef:
    """The repository a git remote URL points at (https, ssh and scp-like forms)."""
    url = url.strip()
    if "://" in url:
        parts = urlsplit(url)
        host, path = (parts.hostname or ""), parts.path
    elif match := _SCP_LIKE.match(url):
        host, path = match["host"], match["path"]
    else:
        host, _, path = url.partition("/")
    host = host.lower()
    host = _HOST_ALIASES.get(host, host)
    segments = [segment for segment in path.strip("/").split("/") if segment]
    if not host or "." not in host or len(segments) != 2:
        raise CheckoutError(f"{_without_credentials(url)!r} is not a repository URL (OWNER/NAME)")
    try:
        return RepositoryRef.parse("/".join(segments), host=host)
    except InvalidRepository as exc:
        raise CheckoutError(f"{_without_credentials(url)!r}: {exc}") from None


def _without_credentials(url: str) -> str:
    # Remotes may embed tokens (https://user:token@host/...); never repeat them.
    return re.sub(r"//[^/@\s]+@", "//", url)


def git_directory(checkout: Path) -> Path | None:
    """The checkout's git directory, following a `.git` file (worktrees, submodules)."""
    dot_git = checkout / ".git"
    if dot_git.is_dir():
        return dot_git
    if not dot_git.is_file():
        return None
    pointer = dot_git.read_text(encoding="utf-8", errors="replace").strip()
    if not pointer.startswith("gitdir:"):
        return None
    target = Path(pointer.removeprefix("gitdir:").strip())
    target = target if target.is_absolute() else (checkout / target)
    common = target / "commondir"
    if common.is_file():
        # A worktree keeps its remotes in the main repository's config.
        shared = Path(common.read_text(encoding="utf-8").strip())
        target = shared if shared.is_absolute() else target / shared
    return target


def origin_url(config_text: str) -> str | None:
    """`remote.origin.url` from the text of a git config file."""
    section: tuple[str, str | None] | None = None
    for line in config_text.splitlines():
        if header := _SECTION.match(line):
            section = (header["name"].lower(), header["sub"])
            continue
        entry = _ENTRY.match(line)
        if entry and entry["key"].lower() == "url" and section in _ORIGIN_SECTIONS:
            return _config_value(entry["value"])
    return None


_ORIGIN_SECTIONS = {("remote", "origin"), ("remote.origin", None)}


def _config_value(raw: str) -> str:
    if raw.startswith('"'):
        return raw[1:].partition('"')[0]
    return re.split(r"\s[#;]", raw, maxsplit=1)[0].strip()


def checkout_repository(checkout: Path) -> RepositoryRef:
    """The repository of a checkout, from its `origin` remote."""
    directory = git_directory(checkout)
    if directory is None:
        raise CheckoutError(f"{checkout}: not a git checkout (no .git); pass --repo OWNER/NAME")
    config = directory / "config"
    text = config.read_text(encoding="utf-8", errors="replace") if config.is_file() else ""
    url = origin_url(text)
    if url is None:
        raise CheckoutError(f"{checkout}: no 'origin' remote in {config}; pass --repo OWNER/NAME")
    return parse_remote_url(url)


@dataclass(slots=True)
class _Ignores:
    """The `.gitignore` files met on the way down, each with the folder it sits in."""

    specs: list[tuple[PurePosixPath, GitIgnoreSpec]] = field(default_factory=list)

    def add(self, folder: PurePosixPath, gitignore: Path) -> None:
        lines = gitignore.read_text(encoding="utf-8", errors="replace").splitlines()
        self.specs.append((folder, GitIgnoreSpec.from_lines(lines)))

    def ignored(self, relative: PurePosixPath, *, is_dir: bool) -> bool:
        for folder, spec in self.specs:
            if folder != PurePosixPath(".") and folder not in relative.parents:
                continue
            inner = relative.relative_to(folder) if folder != PurePosixPath(".") else relative
            if spec.match_file(f"{inner}/" if is_dir else str(inner)):
                return True
        return False


def find_manifests(checkout: Path) -> Iterator[tuple[Path, str, Parser]]:
    """Manifests in a checkout: (file, path relative to the checkout, parser)."""
    ignores = _Ignores()
    for current, directories, files in os.walk(checkout):
        here = Path(current)
        folder = PurePosixPath(here.relative_to(checkout).as_posix())
        if ".gitignore" in files:
            ignores.add(folder, here / ".gitignore")
        directories[:] = sorted(
            name
            for name in directories
            if name not in SKIPPED_DIRECTORIES
            and not (here / name).is_symlink()
            and not ignores.ignored(folder / name, is_dir=True)
        )
        for name in sorted(files):
            relative = folder / name
            parser = parsers.detect(str(relative))
            if parser is None or parser in sbom_parsers.PARSERS:
                continue
            if (here / name).is_symlink() or ignores.ignored(relative, is_dir=False):
                continue
            yield here / name, str(relative), parser


def scan_checkout(
    checkout: Path, repository: RepositoryRef
) -> tuple[Snapshot, list[str], Counter[str]]:
    """One snapshot of every manifest in the checkout, and the files that failed."""
    dependencies: list[ParsedDependency] = []
    failures: list[str] = []
    notes: Counter[str] = Counter()
    for path, relative, _ in find_manifests(checkout):
        try:
            result = parsers.parse_file(path, display_path=relative)
        except ManifestError as exc:
            line = f":{exc.line}" if exc.line is not None else ""
            failures.append(f"{checkout / relative}{line}: {exc.message}")
            continue
        except OSError as exc:
            failures.append(f"{path}: {exc.strerror or exc}")
            continue
        notes["manifests"] += 1
        notes["entries_skipped"] += len(result.skipped)
        dependencies += result.dependencies
    snapshot = Snapshot(
        repository,
        DependencySource.MANIFEST,
        dependencies,
        # A file that failed may have listed edges that are still true: keep them.
        replace=not failures,
        label=str(checkout),
    )
    return snapshot, failures, notes


class PathSource:
    """Local checkouts, one snapshot each (source `manifest`)."""

    job_type = "ingest.path"
    source = DependencySource.MANIFEST
    unit = "checkouts"

    def __init__(self, checkouts: Sequence[Path], *, repository: str | None = None) -> None:
        if repository is not None and len(checkouts) > 1:
            raise ValueError("--repo names one repository; pass a single checkout with it")
        self.checkouts = list(checkouts)
        self.repository = RepositoryRef.parse(repository) if repository else None

    @property
    def total(self) -> int:
        return len(self.checkouts)

    def args(self) -> dict[str, Any]:
        repository = self.repository.full_name if self.repository else None
        return {"checkouts": [str(path) for path in self.checkouts], "repository": repository}

    def batches(self) -> Iterator[Batch]:
        for checkout in self.checkouts:
            yield self._scan(checkout)

    def _scan(self, checkout: Path) -> Batch:
        if not checkout.is_dir():
            return Batch(failures=[f"{checkout}: not a directory"], records=1, progress=1)
        try:
            repository = self.repository or checkout_repository(checkout)
        except (CheckoutError, OSError) as exc:
            return Batch(failures=[str(exc)], records=1, progress=1)
        snapshot, failures, notes = scan_checkout(checkout, repository)
        return Batch(snapshots=[snapshot], failures=failures, notes=notes, records=1, progress=1)
