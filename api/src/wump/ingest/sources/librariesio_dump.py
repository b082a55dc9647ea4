"""The Libraries.io Open Data dump (CSV), streamed in bounded memory.

Three files of a release are read, each named `<table>-<version>-<date>.csv`
(optionally gzipped):

- `repository_dependencies-*.csv`: one row per dependency declared in a
  repository's manifest (`Host Type`, `Repository Name with Owner`, `Manifest
  Platform`, `Manifest Filepath`, `Manifest kind`, `Optional`, `Dependency Project
  Name`, `Dependency Requirements`, `Dependency Kind`, ...). These become edges.
- `repositories-*.csv`: stars, forks, language, ... of the repositories above.
- `projects-*.csv`: description, homepage, repository URL and latest release of
  the packages above.

Rows are read in batches of `BATCH_ROWS`, so a dump of any size runs in the same
memory. The dump lists a repository's rows wherever they fall, so its edges are
added batch by batch and, once all rows are in, each repository's edges that
the dump no longer lists lose the `librariesio_dump` source (a sweep).
A malformed row is reported with its file and line, and the run goes on.
"""

import csv
import gzip
import io
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, cast

from wump.ingest.identity import Ecosystem
from wump.ingest.loader import InvalidRepository, PackageMetadata, RepositoryRef, Snapshot
from wump.ingest.parsers import ParsedDependency
from wump.ingest.sources import Batch
from wump.models import DependencySource, DependencyType

BATCH_ROWS = 50_000
# Descriptions in the dump can be long; the csv module's default cap is 128 KiB.
MAX_FIELD_CHARS = 1 << 20

# Libraries.io platform names (any case) -> purl types. Others are skipped and counted.
PLATFORMS: dict[str, Ecosystem] = {
    "pypi": Ecosystem.PYPI,
    "npm": Ecosystem.NPM,
    "cargo": Ecosystem.CARGO,
    "go": Ecosystem.GOLANG,
    "rubygems": Ecosystem.GEM,
    "maven": Ecosystem.MAVEN,
    "nuget": Ecosystem.NUGET,
    "packagist": Ecosystem.COMPOSER,
}
HOSTS = {"github": "github.com", "gitlab": "gitlab.com", "bitbucket": "bitbucket.org"}
KINDS: dict[str, DependencyType] = {
    "runtime": DependencyType.RUNTIME,
    "normal": DependencyType.RUNTIME,
    "compile": DependencyType.RUNTIME,
    "dependencies": DependencyType.RUNTIME,
    "provided": DependencyType.RUNTIME,
    "development": DependencyType.DEVELOPMENT,
    "dev": DependencyType.DEVELOPMENT,
    "devdependencies": DependencyType.DEVELOPMENT,
    "test": DependencyType.TEST,
    "build": DependencyType.BUILD,
    "optional": DependencyType.OPTIONAL,
    "optionaldependencies": DependencyType.OPTIONAL,
    "peer": DependencyType.PEER,
    "peerdependencies": DependencyType.PEER,
}
_TRUE = {"true", "t", "1", "yes"}
_TIMESTAMP_FORMATS = ("%Y-%m-%d %H:%M:%S %Z", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S%z")


class RowError(ValueError):
    pass


def _open(path: Path) -> tuple[IO[bytes], IO[str]]:
    raw = path.open("rb")
    binary = cast(IO[bytes], gzip.GzipFile(fileobj=raw)) if path.suffix == ".gz" else raw
    return raw, io.TextIOWrapper(binary, encoding="utf-8", errors="replace", newline="")


def read_rows(
    path: Path, failures: list[str], *, required: tuple[str, ...]
) -> Iterator[tuple[int, dict[str, str], int]]:
    """(line, row, bytes read so far) for each well-formed row; bad rows go to `failures`."""
    csv.field_size_limit(max(csv.field_size_limit(), MAX_FIELD_CHARS))
    raw, text = _open(path)
    with raw, text:
        reader = csv.reader(text)
        header = [name.strip().lower() for name in next(reader, [])]
        missing = [name for name in required if name not in header]
        if missing:
            failures.append(f"{path}:1: missing column(s) {', '.join(missing)}")
            return
        while True:
            line = reader.line_num + 1
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                failures.append(f"{path}:{line}: malformed CSV row ({exc})")
                continue
            if not fields:
                continue
            if len(fields) != len(header):
                failures.append(
                    f"{path}:{line}: row has {len(fields)} fields, the header {len(header)}"
                    " (truncated or malformed row)"
                )
                continue
            yield line, dict(zip(header, fields, strict=True)), raw.tell()


def _flag(value: str | None) -> bool | None:
    if not value:
        return None
    return value.strip().lower() in _TRUE


def _number(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


def _timestamp(value: str | None) -> datetime | None:
    for pattern in _TIMESTAMP_FORMATS:
        try:
            parsed = datetime.strptime((value or "").strip(), pattern)
        except ValueError:
            continue
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def _host(row: dict[str, str]) -> str | None:
    # Older releases call the host column "Platform"; newer ones "Host Type".
    value = row.get("host type") or row.get("platform") or "GitHub"
    return HOSTS.get(value.strip().lower())


def dependency_from_row(row: dict[str, str]) -> tuple[RepositoryRef, ParsedDependency] | str:
    """An edge from one `repository_dependencies` row, or why it is skipped (a note key)."""
    host = _host(row)
    if host is None:
        return "unsupported_host"
    ecosystem = PLATFORMS.get(row["manifest platform"].strip().lower())
    if ecosystem is None:
        return "unsupported_platform"
    name = row["dependency project name"].strip()
    if not name:
        raise RowError("Dependency Project Name is empty")
    try:
        repository = RepositoryRef.parse(row["repository name with owner"], host=host)
    except InvalidRepository as exc:
        raise RowError(str(exc)) from None
    kind = KINDS.get(row.get("dependency kind", "").strip().lower(), DependencyType.RUNTIME)
    if kind is DependencyType.RUNTIME and _flag(row.get("optional")):
        kind = DependencyType.OPTIONAL
    dependency = ParsedDependency(
        ecosystem=ecosystem,
        name=name,
        requirement=row.get("dependency requirements", "").strip() or "*",
        dependency_type=kind,
        is_direct=row.get("manifest kind", "manifest").strip().lower() != "lockfile",
        manifest_path=row.get("manifest filepath", "").strip(),
    )
    return repository, dependency


def repository_from_row(row: dict[str, str]) -> RepositoryRef | None:
    host = _host(row)
    if host is None:
        return None
    try:
        return RepositoryRef.parse(
            row["name with owner"],
            host=host,
            description=row.get("description") or None,
            is_fork=_flag(row.get("fork")),
            stars=_number(row.get("stars count")),
            forks=_number(row.get("forks count")),
            language=row.get("language") or None,
            pushed_at=_timestamp(row.get("last pushed timestamp")),
            default_branch=row.get("default branch") or None,
        )
    except InvalidRepository:
        return None


def package_from_row(row: dict[str, str]) -> PackageMetadata | None:
    ecosystem = PLATFORMS.get(row["platform"].strip().lower())
    if ecosystem is None or not row["name"].strip():
        return None
    return PackageMetadata(
        ecosystem=ecosystem,
        name=row["name"].strip(),
        description=row.get("description") or None,
        homepage_url=row.get("homepage url") or None,
        repository_url=row.get("repository url") or None,
        latest_version=row.get("latest release number") or None,
    )


class LibrariesioDumpSource:
    """A Libraries.io Open Data release unpacked in a folder (source `librariesio_dump`)."""

    job_type = "ingest.librariesio_dump"
    source = DependencySource.LIBRARIESIO_DUMP
    unit = "bytes"

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.dependencies = self._files("repository_dependencies")
        self.repositories = self._files("repositories")
        self.projects = self._files("projects")
        if not directory.is_dir():
            raise ValueError(f"{directory}: not a directory")
        if not self.dependencies:
            raise ValueError(f"{directory}: no repository_dependencies-*.csv file")

    def _files(self, table: str) -> list[Path]:
        if not self.directory.is_dir():
            return []
        return sorted(
            path
            for pattern in (f"{table}-*.csv", f"{table}-*.csv.gz")
            for path in self.directory.glob(pattern)
        )

    @property
    def total(self) -> int:
        files = self.dependencies + self.repositories + self.projects
        return sum(path.stat().st_size for path in files)

    def args(self) -> dict[str, Any]:
        return {"directory": str(self.directory)}

    def batches(self) -> Iterator[Batch]:
        for path in self.dependencies:
            yield from self._dependency_batches(path)
        yield Batch(sweep=DependencySource.LIBRARIESIO_DUMP)
        for path in self.repositories:
            yield from self._enrichment_batches(path, "repositories")
        for path in self.projects:
            yield from self._enrichment_batches(path, "projects")

    def _dependency_batches(self, path: Path) -> Iterator[Batch]:
        failures: list[str] = []
        batch = _DependencyBatch()
        required = ("repository name with owner", "manifest platform", "dependency project name")
        for line, row, position in read_rows(path, failures, required=required):
            batch.add(path, line, row, failures)
            if batch.rows >= BATCH_ROWS:
                yield batch.build(failures, end=position)
                batch = _DependencyBatch(start=position)
        yield batch.build(failures, end=path.stat().st_size)

    def _enrichment_batches(self, path: Path, table: str) -> Iterator[Batch]:
        failures: list[str] = []
        required = ("name with owner",) if table == "repositories" else ("platform", "name")
        batch, last = Batch(), 0
        for _, row, position in read_rows(path, failures, required=required):
            batch.records += 1
            if table == "repositories" and (ref := repository_from_row(row)):
                batch.repositories.append(ref)
            elif table == "projects" and (meta := package_from_row(row)):
                batch.packages.append(meta)
            if batch.records >= BATCH_ROWS:
                batch.progress, last = position - last, position
                batch.failures = failures[:]
                failures.clear()
                yield batch
                batch = Batch()
        batch.progress = path.stat().st_size - last
        batch.failures = failures[:]
        yield batch


@dataclass(slots=True)
class _DependencyBatch:
    """Rows of one batch, grouped by repository."""

    start: int = 0
    rows: int = 0
    groups: dict[tuple[str, str], tuple[RepositoryRef, list[ParsedDependency]]] = field(
        default_factory=dict
    )
    notes: Counter[str] = field(default_factory=Counter)

    def add(self, path: Path, line: int, row: dict[str, str], failures: list[str]) -> None:
        self.rows += 1
        try:
            parsed = dependency_from_row(row)
        except RowError as exc:
            failures.append(f"{path}:{line}: {exc}")
            return
        if isinstance(parsed, str):
            self.notes[parsed] += 1
            return
        repository, dependency = parsed
        self.groups.setdefault(repository.key, (repository, []))[1].append(dependency)

    def build(self, failures: list[str], *, end: int) -> Batch:
        """The batch so far; takes over (and empties) the failures reported meanwhile."""
        snapshots = [
            Snapshot(repository, DependencySource.LIBRARIESIO_DUMP, dependencies, replace=False)
            for repository, dependencies in self.groups.values()
        ]
        taken = failures[:]
        failures.clear()
        return Batch(
            snapshots=snapshots,
            failures=taken,
            notes=self.notes,
            records=self.rows,
            progress=max(end - self.start, 0),
        )
