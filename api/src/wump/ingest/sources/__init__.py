"""Where snapshots come from, and the runner that loads them batch by batch.

A source (local checkouts, SBOM files, a Libraries.io dump, the installed Python
distributions) reads its input and yields `Batch`es. `run` loads each batch
through one `Loader`, commits it, reports progress, and records the whole run in
`job_executions`. Inputs that cannot be read are reported with their file and
line; the run goes on, and what earlier batches stored stays stored.
"""

import asyncio
from collections import Counter
from collections.abc import Iterator
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from wump.core.cache import Cache
from wump.core.config import ScoringWeights
from wump.core.db import commit, session_scope
from wump.core.progress import Progress
from wump.ingest.initial import deferred_edge_indexes
from wump.ingest.loader import Loader, LoadStats, PackageMetadata, RepositoryRef, Snapshot
from wump.jobs import executions
from wump.models import DependencySource

log = structlog.get_logger(__name__)

# job_executions keeps this many messages of each kind; the counts are always complete.
MAX_RECORDED_MESSAGES = 200
# Distinct repositories and packages are counted exactly up to this many; past it the
# summary says "at least", so a dump of any size runs in bounded memory.
MAX_COUNTED_IDS = 1_000_000


@dataclass(slots=True)
class Batch:
    snapshots: list[Snapshot] = field(default_factory=list)
    # Metadata for repositories and packages that may already be stored (enrichment only).
    repositories: list[RepositoryRef] = field(default_factory=list)
    packages: list[PackageMetadata] = field(default_factory=list)
    # Inputs that could not be read, as "file:line: message".
    failures: list[str] = field(default_factory=list)
    # Counts of inputs deliberately left out, e.g. {"unsupported_platform": 3}.
    notes: Counter[str] = field(default_factory=Counter)
    # Input records read (files, rows, distributions) and progress units done.
    records: int = 0
    progress: int = 0
    # Set on the last batch of a source that delivers repositories in pieces.
    sweep: DependencySource | None = None


class Source(Protocol):
    job_type: str
    source: DependencySource
    unit: str

    @property
    def total(self) -> int | None: ...

    def args(self) -> dict[str, Any]: ...

    def batches(self) -> Iterator[Batch]: ...


@dataclass(slots=True)
class IngestSummary:
    records: int = 0
    packages_new: int = 0
    edges: int = 0
    edges_removed: int = 0
    failures: list[str] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)
    notes: Counter[str] = field(default_factory=Counter)
    repository_ids: set[int] = field(default_factory=set)
    package_ids: set[int] = field(default_factory=set)
    # True once a count reached MAX_COUNTED_IDS: the figures are then lower bounds.
    capped: bool = False

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def repositories(self) -> int:
        return len(self.repository_ids)

    @property
    def packages(self) -> int:
        return len(self.package_ids)

    def add(self, stats: LoadStats) -> None:
        self.packages_new += stats.packages_new
        self.edges += stats.edges
        self.edges_removed += stats.edges_removed
        self.failures += stats.failures
        self.invalid += stats.invalid
        for counted, new in (
            (self.repository_ids, stats.repository_ids),
            (self.package_ids, stats.package_ids),
        ):
            if len(counted) < MAX_COUNTED_IDS:
                counted |= new
            else:
                self.capped = True

    def metadata(self, source: DependencySource) -> dict[str, Any]:
        return {
            "source": source.value,
            "repositories": self.repositories,
            "packages": self.packages,
            "packages_new": self.packages_new,
            "edges": self.edges,
            "edges_removed": self.edges_removed,
            "counts_are_lower_bounds": self.capped,
            "failed": len(self.failures),
            "failures": self.failures[:MAX_RECORDED_MESSAGES],
            "invalid": len(self.invalid),
            "invalid_examples": self.invalid[:MAX_RECORDED_MESSAGES],
            "skipped": dict(self.notes),
        }


async def run(
    sessionmaker: async_sessionmaker[AsyncSession],
    source: Source,
    *,
    cache: Cache | None = None,
    progress: Progress | None = None,
    weights: ScoringWeights | None = None,
) -> IngestSummary:
    """Load everything `source` yields, committing batch by batch, and record the run."""
    async with session_scope(sessionmaker) as session:
        execution = await executions.start(
            session, source.job_type, args=source.args(), metadata={"source": source.source}
        )
    summary = IngestSummary()
    loader: Loader | None = None
    try:
        async with _initial_load(sessionmaker), session_scope(sessionmaker) as session:
            loader = Loader(session, cache=cache, weights=weights, defer_rollups=True)
            await _load_all(session, loader, source, summary, progress)
        # After the indexes are back: a small run refreshes its pairs through them.
        async with session_scope(sessionmaker) as session:
            await loader.finish(session)
    except BaseException as exc:
        if loader is not None:
            await _finish_rollups(sessionmaker, loader)
        await _record_failure(sessionmaker, execution.id, exc, summary, source.source)
        raise
    async with session_scope(sessionmaker) as session:
        await executions.complete(
            session,
            execution.id,
            records_processed=summary.records,
            metadata=summary.metadata(source.source),
        )
    return summary


def _initial_load(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> AbstractAsyncContextManager[bool]:
    """Edge indexes built after the load when the graph is empty (`initial.py`); only for
    a sessionmaker bound to an engine, never inside a caller's open transaction."""
    bind = sessionmaker.kw.get("bind")
    if isinstance(bind, AsyncEngine):
        return deferred_edge_indexes(bind)
    return nullcontext(False)


async def _finish_rollups(sessionmaker: async_sessionmaker[AsyncSession], loader: Loader) -> None:
    """After a failed run, still bring the rollups of its committed batches up to date."""
    try:
        async with session_scope(sessionmaker) as session:
            await loader.finish(session)
    except Exception as exc:  # the run's own error is the one to report
        log.warning("rollups_not_refreshed", error=str(exc)[:200], fix="run `wump rollups rebuild`")


async def _load_all(
    session: AsyncSession,
    loader: Loader,
    source: Source,
    summary: IngestSummary,
    progress: Progress | None,
) -> None:
    batches = source.batches()
    while True:
        # Reading and parsing files blocks; keep the event loop free meanwhile.
        batch = await asyncio.to_thread(next, batches, None)
        if batch is None:
            break
        await _apply(loader, batch, summary)
        await commit(session)
        if progress is not None:
            progress.advance(batch.progress, failures=len(summary.failures))


async def _apply(loader: Loader, batch: Batch, summary: IngestSummary) -> None:
    summary.records += batch.records
    summary.failures += batch.failures
    summary.notes.update(batch.notes)
    for failure in batch.failures:
        log.debug("ingest_input_failed", detail=failure)
    if batch.snapshots:
        stats = await loader.load(batch.snapshots)
        for failure in stats.failures:
            log.debug("ingest_snapshot_failed", detail=failure)
        summary.add(stats)
    if batch.sweep is not None and loader.started_at is not None:
        summary.edges_removed += await loader.sweep(batch.sweep, since=loader.started_at)
    if batch.repositories:
        await loader.update_repositories(batch.repositories)
    if batch.packages:
        await loader.update_packages(batch.packages)


async def _record_failure(
    sessionmaker: async_sessionmaker[AsyncSession],
    execution_id: Any,
    exc: BaseException,
    summary: IngestSummary,
    source: DependencySource,
) -> None:
    message = f"{type(exc).__name__}: {exc}"
    try:
        async with session_scope(sessionmaker) as session:
            await executions.fail(
                session,
                execution_id,
                message,
                records_processed=summary.records,
                metadata=summary.metadata(source),
            )
    except Exception:
        # The database may be what failed; the original error is the one to raise.
        log.exception("job_failure_not_recorded", execution_id=str(execution_id))
