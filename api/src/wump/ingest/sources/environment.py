"""The installed Python distributions: real dependency data on any machine, offline.

Each distribution whose metadata points at its GitHub repository (a Project-URL
such as Source, Repository or Homepage, or Home-page) becomes a snapshot of that
repository; its Requires-Dist entries become the edges. A requirement that only
applies with an extra (`extra == "http2"`) is optional. Distributions without a
GitHub URL are skipped and counted. Several distributions built from one
repository (typer and typer-slim, say) make one snapshot.
"""

import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from importlib.metadata import Distribution, distributions
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from wump.ingest.identity import Ecosystem
from wump.ingest.loader import InvalidRepository, RepositoryRef, Snapshot
from wump.ingest.parsers import ParsedDependency
from wump.ingest.parsers.base import collapse
from wump.ingest.sources import Batch
from wump.models import DependencySource, DependencyType

_GITHUB_URL = re.compile(
    r"^(?:https?|git\+https?|git)://(?:www\.)?github\.com/"
    r"(?P<owner>[A-Za-z0-9-]+)/(?P<repo>[A-Za-z0-9._-]+?)(?:\.git)?(?:[/#?].*)?$",
    re.IGNORECASE,
)
# GitHub paths that look like OWNER/NAME but are not repositories.
_RESERVED_OWNERS = frozenset(
    {"sponsors", "orgs", "users", "apps", "marketplace", "topics", "features", "settings", "about"}
)
# Project-URL labels that name the source repository, most telling first.
_PREFERRED_LABELS = ("source", "sourcecode", "repository", "code", "github", "homepage", "home")
_EXTRA = re.compile(r"\bextra\b")


def github_repository(url: str) -> RepositoryRef | None:
    match = _GITHUB_URL.match(url.strip())
    if match is None or match["owner"].lower() in _RESERVED_OWNERS:
        return None
    try:
        return RepositoryRef.parse(f"{match['owner']}/{match['repo']}")
    except InvalidRepository:
        return None


def source_repository(distribution: Distribution) -> RepositoryRef | None:
    """The GitHub repository a distribution's metadata names, if any."""
    metadata = distribution.metadata
    labelled: list[tuple[str, str]] = []
    for entry in metadata.get_all("Project-URL") or []:
        label, _, url = entry.partition(",")
        labelled.append((re.sub(r"[^a-z]", "", label.lower()), url.strip()))
    labelled += [("home", url) for url in metadata.get_all("Home-page") or []]
    rank = {label: index for index, label in enumerate(_PREFERRED_LABELS)}
    ordered = sorted(labelled, key=lambda item: rank.get(item[0], len(rank)))
    return next(filter(None, (github_repository(url) for _, url in ordered)), None)


def requirement_dependency(requirement: Requirement, manifest_path: str) -> ParsedDependency:
    # Everything after the name (extras, version, markers) is kept as written.
    text = str(requirement)[len(requirement.name) :].strip()
    optional = requirement.marker is not None and _EXTRA.search(str(requirement.marker))
    return ParsedDependency(
        ecosystem=Ecosystem.PYPI,
        name=requirement.name,
        requirement=text or "*",
        dependency_type=DependencyType.OPTIONAL if optional else DependencyType.RUNTIME,
        is_direct=True,
        manifest_path=manifest_path,
    )


@dataclass(slots=True)
class _Repository:
    ref: RepositoryRef
    distributions: list[str] = field(default_factory=list)
    dependencies: list[ParsedDependency] = field(default_factory=list)
    complete: bool = True


class EnvironmentSource:
    """The distributions installed in this Python environment (source `environment`)."""

    job_type = "ingest.environment"
    source = DependencySource.ENVIRONMENT
    unit = "distributions"

    def __init__(self, installed: Iterable[Distribution] | None = None) -> None:
        self.installed = _unique(distributions() if installed is None else installed)

    @property
    def total(self) -> int:
        return len(self.installed)

    def args(self) -> dict[str, Any]:
        return {"distributions": len(self.installed)}

    def batches(self) -> Iterator[Batch]:
        repositories: dict[tuple[str, str], _Repository] = {}
        failures: list[str] = []
        notes: Counter[str] = Counter()
        for distribution in self.installed:
            ref = source_repository(distribution)
            if ref is None:
                notes["distributions_without_github_url"] += 1
                continue
            entry = repositories.setdefault(ref.key, _Repository(ref))
            entry.distributions.append(distribution.metadata["Name"])
            entry.complete &= self._read(distribution, entry, failures)
        snapshots = [
            Snapshot(
                entry.ref,
                DependencySource.ENVIRONMENT,
                collapse(entry.dependencies),
                replace=entry.complete,
                label=f"{entry.ref.full_name} ({', '.join(entry.distributions)})",
            )
            for entry in repositories.values()
        ]
        count = len(self.installed)
        yield Batch(snapshots, failures=failures, notes=notes, records=count, progress=count)

    def _read(self, distribution: Distribution, entry: _Repository, failures: list[str]) -> bool:
        name = distribution.metadata["Name"]
        own = canonicalize_name(name)
        manifest = f"{name.replace('-', '_')}-{distribution.version}.dist-info/METADATA"
        complete = True
        for line in distribution.requires or []:
            try:
                requirement = Requirement(line)
            except InvalidRequirement as exc:
                failures.append(f"{manifest}: Requires-Dist {line!r}: {exc}")
                complete = False
                continue
            # `pkg[extra]` requiring its own other extras is not a dependency.
            if canonicalize_name(requirement.name) != own:
                entry.dependencies.append(requirement_dependency(requirement, manifest))
        return complete


def _unique(installed: Iterable[Distribution]) -> list[Distribution]:
    """One distribution per name, the first on the path, as `importlib` resolves them."""
    seen: dict[str, Distribution] = {}
    for distribution in installed:
        name = distribution.metadata["Name"]
        if name:
            seen.setdefault(canonicalize_name(name), distribution)
    return list(seen.values())
