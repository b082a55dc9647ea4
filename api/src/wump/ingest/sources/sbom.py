"""SBOM files (SPDX 2.x, CycloneDX), e.g. exported from GitHub's dependency graph.

The repository comes from the document itself when it says (GitHub names its
exports after the repository), else from `--repo OWNER/NAME`. Several documents
of one repository are loaded as one snapshot.
"""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wump.ingest import parsers
from wump.ingest.loader import InvalidRepository, RepositoryRef, Snapshot
from wump.ingest.parsers import ManifestError, ParsedDependency, ParseResult
from wump.ingest.parsers import sbom as sbom_parsers
from wump.ingest.sources import Batch
from wump.ingest.sources.path import CheckoutError, parse_remote_url
from wump.models import DependencySource

# Snapshots per batch; each commits on its own.
BATCH_SIZE = 100


def read_sbom(path: Path) -> ParseResult:
    """Parse one SBOM file, whatever its name, within the input size limit."""
    if not sbom_parsers.PARSERS:
        raise ManifestError(str(path), "no SBOM parser is available")
    size = path.stat().st_size
    if size > parsers.MAX_FILE_BYTES:
        raise ManifestError(
            str(path), f"{size} bytes is over the {parsers.MAX_FILE_BYTES}-byte limit"
        )
    text = parsers.decode(str(path), path.read_bytes())
    return parsers.parse_text(str(path), text, parser=sbom_parsers.PARSERS[0])


def document_repository(name: str) -> RepositoryRef:
    """`owner/name`, `github.com/owner/name` or a URL, as a repository."""
    try:
        if "://" in name or name.count("/") > 1 or "@" in name:
            return parse_remote_url(name)
        return RepositoryRef.parse(name)
    except (CheckoutError, InvalidRepository) as exc:
        raise ValueError(
            f"the document names repository {name!r}, which is not valid: {exc}"
        ) from None


@dataclass(slots=True)
class _Group:
    repository: RepositoryRef
    dependencies: list[ParsedDependency] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    complete: bool = True


class SbomSource:
    """SPDX/CycloneDX files (source `sbom`)."""

    job_type = "ingest.sbom"
    source = DependencySource.SBOM
    unit = "files"

    def __init__(self, files: Sequence[Path], *, repository: str | None = None) -> None:
        self.files = list(files)
        self.repository = RepositoryRef.parse(repository) if repository else None

    @property
    def total(self) -> int:
        return len(self.files)

    def args(self) -> dict[str, Any]:
        repository = self.repository.full_name if self.repository else None
        return {"files": [str(path) for path in self.files], "repository": repository}

    def batches(self) -> Iterator[Batch]:
        groups: dict[tuple[str, str], _Group] = {}
        failures: list[str] = []
        for path in self.files:
            self._read(path, groups, failures)
        snapshots = [
            Snapshot(
                group.repository,
                DependencySource.SBOM,
                group.dependencies,
                replace=group.complete,
                label=", ".join(group.files),
            )
            for group in groups.values()
        ]
        for start in range(0, max(len(snapshots), 1), BATCH_SIZE):
            first = start == 0
            yield Batch(
                snapshots=snapshots[start : start + BATCH_SIZE],
                failures=failures if first else [],
                records=len(self.files) if first else 0,
                progress=len(self.files) if first else 0,
            )

    def _read(self, path: Path, groups: dict[tuple[str, str], _Group], failures: list[str]) -> None:
        try:
            result = read_sbom(path)
            repository = self._repository(path, result)
        except ManifestError as exc:
            failures.append(str(exc))
            return
        except OSError as exc:
            failures.append(f"{path}: {exc.strerror or exc}")
            return
        except ValueError as exc:
            failures.append(f"{path}: {exc}")
            return
        group = groups.setdefault(repository.key, _Group(repository))
        group.dependencies += result.dependencies
        group.files.append(str(path))

    def _repository(self, path: Path, result: ParseResult) -> RepositoryRef:
        if result.repository:
            return document_repository(result.repository)
        if self.repository is not None:
            return self.repository
        raise ValueError("the document names no repository; pass --repo OWNER/NAME")
