"""Bulk loading of repository snapshots into the dependency graph.

A snapshot is what one source saw in one repository: the repository (and its
owner), and the dependencies it declares. `Loader.load` takes a batch of
snapshots and upserts owners, repositories, packages and edges set-based, so a
million edges cost a few statements per batch rather than a million round trips.

Guarantees:

- Idempotent: loading the same snapshots again changes nothing but the edges'
  `last_seen_at` (and `updated_at` only on rows whose values really changed).
- Snapshot semantics: a snapshot replaces what its source said about that
  repository before. An edge the new scan no longer contains loses the source's
  bit in `Dependency.sources`; an edge left with no source is deleted; what other
  sources reported is kept. The stored details (requirement, type, manifest) come
  from the most precise source that still reports the edge (`DETAIL_PRECEDENCE`):
  a listing from a provider never overwrites what a manifest or SBOM said.
- Atomic per snapshot: a batch runs in a SAVEPOINT; if it fails, each snapshot is
  retried in its own SAVEPOINT, so one bad repository never leaves half of itself
  behind, nor takes the others with it.
- The loader only flushes. Its caller commits (`wump.core.db.commit`); after the
  commit, the cache generations of every touched package and owner are bumped.

The only dialect-specific code is `BulkWriter`: rows reach the database with
`COPY` on PostgreSQL and `executemany` on SQLite. Every merge after that is the
same portable `INSERT ... SELECT ... ON CONFLICT` / `UPDATE ... FROM` on both.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

import asyncpg  # type: ignore[import-untyped]
import structlog
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ColumnElement,
    Integer,
    String,
    Table,
    Text,
    and_,
    case,
    delete,
    exists,
    func,
    literal,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from wump.core.bulk import BulkWriter, Row, id_chunks, stage_table
from wump.core.cache import Cache
from wump.core.config import ScoringWeights
from wump.core.db import after_commit
from wump.ingest.identity import Ecosystem, PackageIdentity
from wump.ingest.parsers.base import TYPE_STRENGTH, ParsedDependency
from wump.models import (
    Dependency,
    DependencySource,
    DependencyType,
    Organization,
    OwnerKind,
    Package,
    Repository,
)
from wump.models.base import UTCDateTime, utcnow
from wump.rollups.service import Pair, Rollups

log = structlog.get_logger(__name__)

# Column sizes of the schema; longer input is cut (free text) or refused (names).
MAX_REQUIREMENT = 512
MAX_MANIFEST_PATH = 1024
MAX_PACKAGE_NAME = 512
MAX_PURL = 1024
MAX_LOGIN = 255
MAX_REPOSITORY_NAME = 255
# A deferred run remembers this many touched (package, owner) pairs; beyond that, it
# recomputes the touched packages whole. Pairs are refreshed this many at a time, and
# preferred while each costs less than this many of their packages' edges.
_PENDING_PAIRS = 1_000_000
_PENDING_CHUNK = 200_000
_PAIR_COST = 8
# Identities are cached across batches; popular packages repeat in every batch.
_IDENTITY_CACHE_SIZE = 500_000
# So are the ids of committed packages, which never change: a batch stages and looks
# up only the packages no earlier batch stored.
_PACKAGE_ID_CACHE_SIZE = 1_000_000
_SEGMENT = re.compile(r"^[A-Za-z0-9_.-]+$")
# By the type's value: edges carry plain strings, whose hashes are cached, where an
# enum member's hash is a Python call.
_TYPE_RANK = {kind.value: rank for rank, kind in enumerate(TYPE_STRENGTH)}


# Which source's details an edge keeps when several report it: manifests and SBOMs
# know the requirement, type and file; provider listings only know that it exists.
DETAIL_PRECEDENCE: dict[DependencySource, int] = {
    DependencySource.MANIFEST: 7,
    DependencySource.SBOM: 6,
    DependencySource.ENVIRONMENT: 5,
    DependencySource.LIBRARIESIO_DUMP: 4,
    DependencySource.DEPSDEV: 3,
    DependencySource.LIBRARIESIO: 2,
    DependencySource.ECOSYSTEMS: 1,
    DependencySource.GITHUB: 0,
}
_DETAIL_COLUMNS = ("requirement", "dependency_type", "is_direct", "manifest_path", "source")


def _takes_details(incoming: ColumnElement[Any]) -> ColumnElement[bool]:
    """True when an incoming report should replace the stored edge's details.

    It does when its source is at least as precise as the stored one, or when the
    stored source no longer reports the edge (its bit is gone from the mask).
    """
    rank = {source.value: rank for source, rank in DETAIL_PRECEDENCE.items()}
    bits = {source.value: source.bit for source in DependencySource}
    stored_bit = case(bits, value=Dependency.source, else_=0)
    return or_(
        case(rank, value=incoming, else_=0) >= case(rank, value=Dependency.source, else_=0),
        Dependency.sources.op("&")(stored_bit) == 0,
    )


def _outranks(stored: str, incoming: DependencySource) -> bool:
    return DETAIL_PRECEDENCE[DependencySource(stored)] > DETAIL_PRECEDENCE[incoming]


class InvalidRepository(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class RepositoryRef:
    """A repository as a source names it, with whatever metadata the source knows.

    Metadata left as None is "unknown": it never overwrites a stored value.
    """

    owner: str
    name: str
    host: str = "github.com"
    owner_kind: OwnerKind | None = None
    stars: int | None = None
    forks: int | None = None
    is_fork: bool | None = None
    is_archived: bool | None = None
    language: str | None = None
    pushed_at: datetime | None = None
    default_branch: str | None = None
    html_url: str | None = None
    description: str | None = None
    # The case-folded keys, computed once: a batch reads them several times a snapshot.
    key: tuple[str, str] = field(init=False, repr=False, compare=False)
    owner_key: tuple[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        host = self.host.lower()
        object.__setattr__(self, "key", (host, f"{self.owner}/{self.name}".lower()))
        object.__setattr__(self, "owner_key", (host, self.owner.lower()))

    @classmethod
    def parse(cls, full_name: str, **fields: Any) -> "RepositoryRef":
        """`owner/name` (a trailing `.git` is dropped) into a checked reference."""
        owner, _, name = full_name.strip().strip("/").partition("/")
        ref = cls(owner=owner, name=name.removesuffix(".git"), **fields)
        ref.check()
        return ref

    def check(self) -> None:
        for label, value, limit in (
            ("owner", self.owner, MAX_LOGIN),
            ("repository name", self.name, MAX_REPOSITORY_NAME),
        ):
            if not value or len(value) > limit or not _SEGMENT.match(value) or value in {".", ".."}:
                raise InvalidRepository(f"{value!r} is not a valid {label} (expected OWNER/NAME)")

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What `source` saw in one repository.

    With `replace` (the default) the snapshot is complete: edges of this source
    that it lacks are dropped. Without it, the dependencies are only added, for
    sources that deliver a repository in pieces or read part of it with errors.
    """

    repository: RepositoryRef
    source: DependencySource
    dependencies: Sequence[ParsedDependency] = ()
    replace: bool = True
    # Where the snapshot came from (a checkout, a file), for messages.
    label: str = ""


@dataclass(frozen=True, slots=True)
class PackageMetadata:
    ecosystem: Ecosystem
    name: str
    description: str | None = None
    homepage_url: str | None = None
    repository_url: str | None = None
    latest_version: str | None = None


@dataclass(slots=True)
class LoadStats:
    snapshots: int = 0
    repositories_new: int = 0
    packages_new: int = 0
    edges: int = 0
    edges_removed: int = 0
    # Dependencies left out because their package name is not valid in its registry.
    invalid: list[str] = field(default_factory=list)
    # Snapshots that could not be stored; nothing of them was written.
    failures: list[str] = field(default_factory=list)
    # The repositories stored and the packages their edges point at.
    repository_ids: set[int] = field(default_factory=set)
    package_ids: set[int] = field(default_factory=set)

    def add(self, other: "LoadStats") -> None:
        self.repository_ids |= other.repository_ids
        self.package_ids |= other.package_ids
        self.snapshots += other.snapshots
        self.repositories_new += other.repositories_new
        self.packages_new += other.packages_new
        self.edges += other.edges
        self.edges_removed += other.edges_removed
        self.invalid += other.invalid
        self.failures += other.failures


PackageKey = tuple[str, str]
# requirement, type (its value), is_direct, manifest_path: one per package in a snapshot.
EdgeDetails = tuple[str, str, bool, str]
Known = tuple[PackageKey, PackageIdentity] | str


@dataclass(slots=True)
class _Prepared:
    snapshot: Snapshot
    edges: dict[PackageKey, EdgeDetails]
    packages: dict[PackageKey, PackageIdentity]

    @property
    def label(self) -> str:
        return self.snapshot.label or self.snapshot.repository.full_name


@dataclass(slots=True)
class _Written:
    stats: LoadStats = field(default_factory=LoadStats)
    package_ids: set[int] = field(default_factory=set)
    organization_ids: set[int] = field(default_factory=set)
    # The ids this write looked up or stored, by package key.
    resolved_packages: dict[PackageKey, int] = field(default_factory=dict)

    def add(self, other: "_Written") -> None:
        self.stats.add(other.stats)
        self.package_ids |= other.package_ids
        self.organization_ids |= other.organization_ids
        self.resolved_packages |= other.resolved_packages


_STAGE_OWNERS = stage_table(
    "wump_stage_owners",
    Column("host", String),
    Column("login", String),
    Column("login_key", String),
    Column("kind", String),
    Column("github_url", String),
)
_REPOSITORY_IDENTITY = ("host", "owner_id", "name", "full_name", "full_name_key")
_REPOSITORY_METADATA = (
    "html_url",
    "description",
    "stars",
    "forks",
    "is_fork",
    "is_archived",
    "primary_language",
    "pushed_at",
    "default_branch",
)
_STAGE_REPOSITORIES = stage_table(
    "wump_stage_repositories",
    Column("host", String),
    Column("owner_id", BigInteger),
    Column("name", String),
    Column("full_name", String),
    Column("full_name_key", String),
    Column("html_url", String),
    Column("description", Text),
    Column("stars", Integer),
    Column("forks", Integer),
    Column("is_fork", Boolean),
    Column("is_archived", Boolean),
    Column("primary_language", String),
    Column("pushed_at", UTCDateTime()),
    Column("default_branch", String),
)
_PACKAGE_METADATA = ("description", "homepage_url", "repository_url", "latest_version")
_NO_METADATA = (None,) * len(_PACKAGE_METADATA)
_STAGE_PACKAGES = stage_table(
    "wump_stage_packages",
    Column("ecosystem", String),
    Column("name", String),
    Column("normalized_name", String),
    Column("purl", String),
    *(Column(name, Text) for name in _PACKAGE_METADATA),
)
_EDGE_COLUMNS = (
    "repository_id",
    "package_id",
    "requirement",
    "dependency_type",
    "is_direct",
    "manifest_path",
    "source",
    "sources",
    "first_seen_at",
    "last_seen_at",
    "owner_id",
    "stars",
)
_STAGE_EDGES = stage_table(
    "wump_stage_edges",
    Column("repository_id", BigInteger),
    Column("package_id", BigInteger),
    Column("requirement", String),
    Column("dependency_type", String),
    Column("is_direct", Boolean),
    Column("manifest_path", String),
    Column("source", String),
    Column("sources", Integer),
    Column("first_seen_at", UTCDateTime()),
    Column("last_seen_at", UTCDateTime()),
    Column("owner_id", BigInteger),
    Column("stars", Integer),
)
_DEPENDENCIES = cast(Table, Dependency.__table__)
_REPOSITORIES = cast(Table, Repository.__table__)
_PACKAGES = cast(Table, Package.__table__)
_ORGANIZATIONS = cast(Table, Organization.__table__)


def _matches(target: Table, stage: Table, keys: Sequence[str]) -> ColumnElement[bool]:
    return and_(*(target.c[key] == stage.c[key] for key in keys))


def _changed(stage: Table, target: Table, names: Sequence[str]) -> ColumnElement[bool]:
    """True where a known staged value differs from the stored one (None is unknown)."""
    return or_(
        *(
            and_(stage.c[name].is_not(None), stage.c[name].is_distinct_from(target.c[name]))
            for name in names
        )
    )


def _is_fatal(exc: BaseException) -> bool:
    """Errors that no retry of a single snapshot can get past: the connection is gone."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, OSError | TimeoutError | asyncpg.InterfaceError)


def _describe(exc: BaseException) -> str:
    # DBAPIError messages repeat the whole statement; the driver's own text is enough.
    detail = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    return f"{type(detail).__name__}: {detail}".splitlines()[0][:500]


class Loader:
    """Loads snapshots through one session. Keep one per run: it caches identities."""

    def __init__(
        self,
        session: AsyncSession,
        *,
        cache: Cache | None = None,
        weights: ScoringWeights | None = None,
        defer_rollups: bool = False,
    ) -> None:
        self.session = session
        # A bulk run refreshes the rollups of what it touched once, at `finish`: the
        # pairs if they are few, else one pass over the touched packages' edges.
        self.defer_rollups = defer_rollups
        self.pending_packages: set[int] = set()
        self._pending_pairs: set[int] | None = set()
        self.cache = cache
        self.bulk = BulkWriter(session)
        # Scores in `dependent_owners` use the configured weights; the defaults are
        # for tools and tests that run without settings.
        self.rollups = Rollups(session, weights or ScoringWeights())
        self.started_at: datetime | None = None
        self._last_tick: datetime | None = None
        # Per ecosystem, then by name as written: a snapshot's names share an ecosystem,
        # so the loop hashes names only.
        self._identities: dict[Ecosystem | str, dict[str, Known]] = {}
        self._identities_cached = 0
        self._package_ids: dict[PackageKey, int] = {}

    async def load(self, snapshots: Sequence[Snapshot]) -> LoadStats:
        """Store a batch of snapshots. Only flushes; the caller commits."""
        now = self._tick()
        stats = LoadStats()
        prepared = self._prepare(snapshots, stats)
        if prepared:
            written = await self._write_isolated(prepared, now, stats)
            self._bump_after_commit(written)
            self._remember_after_commit(written.resolved_packages)
        return stats

    def _remember_after_commit(self, package_ids: dict[PackageKey, int]) -> None:
        """Cache package ids once they are committed: until then a rollback may void them."""
        if not package_ids:
            return

        async def remember() -> None:
            if len(self._package_ids) + len(package_ids) > _PACKAGE_ID_CACHE_SIZE:
                self._package_ids.clear()
            self._package_ids.update(package_ids)

        after_commit(self.session, remember)

    async def _write_isolated(
        self, prepared: list[_Prepared], now: datetime, stats: LoadStats
    ) -> _Written:
        try:
            async with self.session.begin_nested():
                written = await self._write(prepared, now)
        except Exception as exc:
            if _is_fatal(exc):
                raise
            if len(prepared) == 1:
                stats.failures.append(f"{prepared[0].label}: {_describe(exc)}")
                return _Written()
            log.warning("batch_failed_retrying_each_snapshot", error=_describe(exc))
            # Should a cached id have been the cause, the retries look every package up.
            self._package_ids.clear()
            return await self._write_one_by_one(prepared, now, stats)
        stats.add(written.stats)
        return written

    async def _write_one_by_one(
        self, prepared: list[_Prepared], now: datetime, stats: LoadStats
    ) -> _Written:
        total = _Written()
        for item in prepared:
            try:
                async with self.session.begin_nested():
                    written = await self._write([item], now)
            except Exception as exc:
                if _is_fatal(exc):
                    raise
                stats.failures.append(f"{item.label}: {_describe(exc)}")
                continue
            total.add(written)
        stats.add(total.stats)
        return total

    async def _refresh_rollups(self, pairs: set[Pair]) -> None:
        if not self.defer_rollups:
            await self.rollups.refresh(pairs)
            return
        self.pending_packages.update(package for package, _ in pairs)
        if self._pending_pairs is not None:
            # One int per pair, a third of a tuple's memory; ids past 32 bits (never
            # seen yet) just send the run to the whole-package refresh.
            if any(package >> 32 or owner >> 32 for package, owner in pairs):
                self._pending_pairs = None
                return
            self._pending_pairs.update(package << 32 | owner for package, owner in pairs)
            if len(self._pending_pairs) > _PENDING_PAIRS:
                self._pending_pairs = None

    async def finish(self, session: AsyncSession | None = None) -> int:
        """Refresh the rollups a deferred run put off; returns how many packages.

        Until then, readers see the run's edges with the previous rollups; pages cached
        meanwhile are dropped again after the caller commits. `session` replaces the
        loader's own after a failure, so that the batches committed before it count.
        """
        packages, pairs = self.pending_packages, self._pending_pairs
        self.pending_packages, self._pending_pairs = set(), set()
        if not packages:
            return 0
        rollups = self.rollups if session is None else Rollups(session, self.rollups.weights)
        edges = await rollups.edges_of(packages)
        # A pair costs an index probe or two, a package's edge a sequential read: pairs
        # win unless they cover a good part of their packages' edges.
        if pairs is not None and len(pairs) * _PAIR_COST <= edges:
            ordered = sorted(pairs)
            for start in range(0, len(ordered), _PENDING_CHUNK):
                chunk = ordered[start : start + _PENDING_CHUNK]
                await rollups.refresh({(code >> 32, code & 0xFFFFFFFF) for code in chunk})
        else:
            await rollups.refresh_packages(packages)
        self._bump_after_commit(_Written(package_ids=packages), session)
        return len(packages)

    def _tick(self) -> datetime:
        # Strictly increasing, so "seen in this batch" is an exact comparison.
        now = utcnow()
        if self._last_tick is not None and now <= self._last_tick:
            now = self._last_tick + timedelta(microseconds=1)
        self._last_tick = now
        if self.started_at is None:
            self.started_at = now
        return now

    # -- preparation: pure Python, before any SQL ---------------------------------

    def _prepare(self, snapshots: Sequence[Snapshot], stats: LoadStats) -> list[_Prepared]:
        prepared: list[_Prepared] = []
        for snapshot in snapshots:
            label = snapshot.label or snapshot.repository.full_name
            try:
                snapshot.repository.check()
            except InvalidRepository as exc:
                stats.failures.append(f"{label}: {exc}")
                continue
            packages: dict[PackageKey, PackageIdentity] = {}
            edges = self._edges(snapshot, label, stats, packages)
            prepared.append(_Prepared(snapshot, edges, packages))
        return prepared

    def _edges(
        self,
        snapshot: Snapshot,
        label: str,
        stats: LoadStats,
        packages: dict[PackageKey, PackageIdentity],
    ) -> dict[PackageKey, EdgeDetails]:
        """One edge per package: the strongest type wins, direct if any entry was."""
        edges: dict[PackageKey, EdgeDetails] = {}
        ecosystem: Ecosystem | None = None
        names: dict[str, Known] = {}
        for dependency in snapshot.dependencies:
            if dependency.ecosystem is not ecosystem:
                ecosystem = dependency.ecosystem
                names = self._names(ecosystem)
            known = names.get(dependency.name)
            if known is None:
                known = self._identify(ecosystem, dependency.name)
            kind: DependencyType | None = dependency.dependency_type
            if type(kind) is not DependencyType:
                kind = _dependency_type(kind)
            if isinstance(known, str) or kind is None:
                reason = _why(known, dependency.dependency_type)
                stats.invalid.append(f"{label}: {dependency.manifest_path}: {reason}")
                continue
            key = known[0]
            details = (
                dependency.requirement[:MAX_REQUIREMENT] or "*",
                kind._value_,
                dependency.is_direct,
                dependency.manifest_path[:MAX_MANIFEST_PATH],
            )
            current = edges.get(key)
            if current is None:
                edges[key] = details
                packages[key] = known[1]
            else:
                edges[key] = _stronger(current, details)
        return edges

    def _names(self, ecosystem: Ecosystem | str) -> dict[str, Known]:
        names = self._identities.get(ecosystem)
        if names is None:
            names = self._identities[ecosystem] = {}
        return names

    def identity(self, ecosystem: Ecosystem | str, name: str) -> PackageIdentity | str:
        """The package's identity, or why the name is not valid (cached)."""
        known = self._names(ecosystem).get(name) or self._identify(ecosystem, name)
        return known if isinstance(known, str) else known[1]

    def _identify(
        self, ecosystem: Ecosystem | str, name: str
    ) -> tuple[PackageKey, PackageIdentity] | str:
        result: tuple[PackageKey, PackageIdentity] | str
        try:
            identity = PackageIdentity.of(ecosystem, name)
        except ValueError as exc:
            result = f"{ecosystem} package {name[:200]!r}: {exc}"
        else:
            if len(identity.name) > MAX_PACKAGE_NAME or len(identity.purl) > MAX_PURL:
                result = f"{ecosystem} package name {name[:80]!r}... is too long"
            else:
                result = ((identity.ecosystem.value, identity.normalized_name), identity)
        if self._identities_cached >= _IDENTITY_CACHE_SIZE:
            self._identities.clear()
            self._identities_cached = 0
        self._names(ecosystem)[name] = result
        self._identities_cached += 1
        return result

    # -- the set-based write of one batch -----------------------------------------

    async def _write(self, prepared: list[_Prepared], now: datetime) -> _Written:
        owner_ids = await self._upsert_owners(prepared, now)
        rows = _repository_rows(prepared, owner_ids)
        repository_ids, new_repositories, recount, changed = await self._upsert_repositories(
            rows, now
        )
        package_ids, packages_new, resolved = await self._upsert_packages(prepared)
        # A new repository's edges get the stars it was stored with.
        owner_of = {repository_ids[key]: (row[1], row[7] or 0) for key, row in rows.items()}
        fresh, merged = self._edge_rows(
            prepared, repository_ids, package_ids, new_repositories, owner_of, now
        )
        await self.bulk.copy(_DEPENDENCIES, _EDGE_COLUMNS, fresh)
        await self.bulk.grown(_DEPENDENCIES, len(fresh) + len(merged))
        touched = await self._merge_edges(merged)
        removed = await self._drop_unreported(prepared, repository_ids, new_repositories, now)
        await self._recount_owners(recount, now)
        touched |= {(row[1], row[10]) for row in fresh}
        touched |= set(removed)
        touched |= await self._sync_edge_stars(changed)
        await self._refresh_rollups(touched)
        reported = {row[1] for row in fresh} | {row[1] for row in merged}
        stats = LoadStats(
            invalid=_unstored(prepared, package_ids),
            snapshots=len(prepared),
            repositories_new=len(new_repositories),
            packages_new=packages_new,
            edges=len(fresh) + len(merged),
            edges_removed=len(removed),
            repository_ids=set(repository_ids.values()),
            package_ids=reported,
        )
        packages = reported | {package for package, _ in touched}
        return _Written(stats, packages, set(owner_ids.values()), resolved)

    async def _ids(self, target: Table, stage: Table, keys: Sequence[str]) -> dict[Row, int]:
        """Ids of the stored rows that match a staged row, by their natural key."""
        result = await self.session.execute(
            select(target.c.id, *(target.c[key] for key in keys)).join(
                stage, _matches(target, stage, keys)
            )
        )
        return {tuple(row[1:]): row[0] for row in result}

    async def _insert_missing(
        self,
        target: Table,
        stage: Table,
        keys: Sequence[str],
        values: dict[str, ColumnElement[Any]],
        returning: Sequence[str] = (),
        *,
        none_stored: bool = False,
    ) -> list[Row]:
        """Insert the staged rows not stored yet; returns (id, *keys, *returning) of each.

        With `none_stored` (the lookup found none of them) the anti-join is left out:
        it reads the whole target table, which grows with every batch of a big load.
        """
        # SQLite reads `SELECT ... FROM t ON CONFLICT` as a join unless a WHERE comes first.
        absent = true() if none_stored else ~exists().where(_matches(target, stage, keys))
        rows = select(*values.values()).where(absent)
        inserted = self.bulk.insert(target).from_select(list(values), rows)
        columns = (target.c.id, *(target.c[name] for name in (*keys, *returning)))
        try:
            # A plain INSERT costs about half of one with ON CONFLICT, which only a
            # concurrent writer storing the same rows since the lookup makes necessary.
            async with self.session.begin_nested():
                result = await self.session.execute(inserted.returning(*columns))
                return [tuple(row) for row in result]
        except IntegrityError:
            result = await self.session.execute(
                inserted.on_conflict_do_nothing().returning(*columns)
            )
            return [tuple(row) for row in result]

    async def _resolve(
        self,
        target: Table,
        stage: Table,
        keys: Sequence[str],
        wanted: int,
        values: dict[str, ColumnElement[Any]],
        returning: Sequence[str] = (),
    ) -> tuple[dict[Row, int], list[Row]]:
        """Ids for every staged row, inserting those not stored yet."""
        ids = await self._ids(target, stage, keys)
        if len(ids) >= wanted:
            return ids, []
        inserted = await self._insert_missing(
            target, stage, keys, values, returning, none_stored=not ids
        )
        ids.update((tuple(row[1 : 1 + len(keys)]), row[0]) for row in inserted)
        await self.bulk.grown(target, len(inserted))
        if len(ids) < wanted:
            # Another writer stored some of them meanwhile: they exist now.
            ids = await self._ids(target, stage, keys)
        return ids, inserted

    async def _upsert_owners(
        self, prepared: list[_Prepared], now: datetime
    ) -> dict[tuple[str, str], int]:
        rows: dict[tuple[str, str], Row] = {}
        for item in prepared:
            ref = item.snapshot.repository
            host, login_key = ref.owner_key
            known = rows.get(ref.owner_key)
            kind = ref.owner_kind or (known[3] if known else None)
            github_url = f"https://github.com/{ref.owner}" if host == "github.com" else None
            rows[ref.owner_key] = (host, ref.owner, login_key, kind, github_url)
        stage = _STAGE_OWNERS
        await self.bulk.stage(stage, list(rows.values()))
        c = stage.c
        values: dict[str, ColumnElement[Any]] = {
            "host": c.host,
            "login": c.login,
            "login_key": c.login_key,
            "kind": func.coalesce(c.kind, OwnerKind.ORGANIZATION.value),
            "github_url": c.github_url,
            "created_at": literal(now, UTCDateTime()),
            "updated_at": literal(now, UTCDateTime()),
        }
        ids, _ = await self._resolve(
            _ORGANIZATIONS, stage, ("host", "login_key"), len(rows), values
        )
        if any(row[3] is not None for row in rows.values()):
            await self.session.execute(
                update(Organization)
                .where(
                    _matches(_ORGANIZATIONS, stage, ("host", "login_key")),
                    c.kind.is_not(None),
                    Organization.kind != c.kind,
                )
                .values(kind=c.kind, updated_at=now)
                .execution_options(synchronize_session=False)
            )
        return {(host, key): id_ for (host, key), id_ in ids.items()}

    async def _upsert_repositories(
        self, rows: dict[tuple[str, str], Row], now: datetime
    ) -> tuple[dict[tuple[str, str], int], set[int], set[int], set[int]]:
        """Ids of the repositories (`rows` from `_repository_rows`), those that are new,
        the owners to recount, and the stored repositories whose metadata changed."""
        stage = _STAGE_REPOSITORIES
        await self.bulk.stage(stage, list(rows.values()))
        c = stage.c
        values: dict[str, ColumnElement[Any]] = {
            **{name: c[name] for name in _REPOSITORY_IDENTITY},
            "html_url": func.coalesce(c.html_url, "https://" + c.host + "/" + c.full_name),
            "description": c.description,
            "stars": func.coalesce(c.stars, 0),
            "forks": func.coalesce(c.forks, 0),
            "is_fork": func.coalesce(c.is_fork, False),
            "is_archived": func.coalesce(c.is_archived, False),
            "primary_language": c.primary_language,
            "pushed_at": c.pushed_at,
            "default_branch": c.default_branch,
            "created_at": literal(now, UTCDateTime()),
            "updated_at": literal(now, UTCDateTime()),
        }
        keys = ("host", "full_name_key")
        ids, inserted = await self._resolve(
            _REPOSITORIES, stage, keys, len(rows), values, returning=("owner_id",)
        )
        recount = {row[3] for row in inserted}
        changed: set[int] = set()
        # Rows inserted just now already hold the batch's metadata.
        stored_before = len(inserted) < len(rows)
        if stored_before and any(any(v is not None for v in row[5:]) for row in rows.values()):
            changed, owners = await self._update_repository_metadata(now)
            recount |= owners
        repository_ids = {(host, key): id_ for (host, key), id_ in ids.items()}
        return repository_ids, {row[0] for row in inserted}, recount, changed

    async def _update_repository_metadata(self, now: datetime) -> tuple[set[int], set[int]]:
        """Apply the staged metadata that is known and differs.

        Returns the repositories changed and their owners.
        """
        stage = _STAGE_REPOSITORIES
        values: dict[str, Any] = {
            name: func.coalesce(stage.c[name], _REPOSITORIES.c[name])
            for name in _REPOSITORY_METADATA
        }
        result = await self.session.execute(
            update(Repository)
            .where(
                _matches(_REPOSITORIES, stage, ("host", "full_name_key")),
                _changed(stage, _REPOSITORIES, _REPOSITORY_METADATA),
            )
            .values(**values, updated_at=now)
            .returning(Repository.id, Repository.owner_id)
            .execution_options(synchronize_session=False)
        )
        rows = result.all()
        return {row[0] for row in rows}, {row[1] for row in rows}

    async def _sync_edge_stars(self, repository_ids: set[int]) -> set[Pair]:
        """Copy changed repositories' stars onto their edges; returns the pairs to refresh."""
        for chunk in id_chunks(repository_ids):
            await self.session.execute(
                update(Dependency)
                .where(
                    Dependency.repository_id == Repository.id,
                    Repository.id.in_(chunk),
                    Dependency.stars != Repository.stars,
                )
                .values(stars=Repository.stars)
                .execution_options(synchronize_session=False)
            )
        return await self.rollups.pairs_of_repositories(repository_ids)

    async def _upsert_packages(
        self, prepared: list[_Prepared]
    ) -> tuple[dict[PackageKey, int], int, dict[PackageKey, int]]:
        """Ids of the batch's packages, how many are new, and those looked up or stored
        now (the rest came from the committed-id cache)."""
        cached: dict[PackageKey, int] = {}
        rows: dict[PackageKey, Row] = {}
        for item in prepared:
            for key, identity in item.packages.items():
                if key in rows or key in cached:
                    continue
                known = self._package_ids.get(key)
                if known is not None:
                    cached[key] = known
                else:
                    rows[key] = (key[0], identity.name, key[1], identity.purl, *_NO_METADATA)
        if not rows:
            return cached, 0, {}
        stage = _STAGE_PACKAGES
        await self.bulk.stage(stage, list(rows.values()))
        c = stage.c
        values: dict[str, ColumnElement[Any]] = {
            "ecosystem": c.ecosystem,
            "name": c.name,
            "normalized_name": c.normalized_name,
            "purl": c.purl,
            "funding_urls": literal([], _PACKAGES.c.funding_urls.type),
        }
        keys = ("ecosystem", "normalized_name")
        ids, inserted = await self._resolve(_PACKAGES, stage, keys, len(rows), values)
        resolved = {(eco, name): id_ for (eco, name), id_ in ids.items()}
        return cached | resolved, len(inserted), resolved

    def _edge_rows(
        self,
        prepared: list[_Prepared],
        repository_ids: dict[tuple[str, str], int],
        package_ids: dict[PackageKey, int],
        new_repositories: set[int],
        owner_of: dict[int, tuple[int, int]],
        now: datetime,
    ) -> tuple[list[Row], list[Row]]:
        """Rows for the edges table: those of new repositories, and those to merge.

        When one repository has several snapshots in a batch, the source bits add
        up and the details come from the most precise source (`DETAIL_PRECEDENCE`).
        """
        fresh: list[Row] = []
        merged: dict[tuple[int, int], Row] = {}
        for item in prepared:
            repository_id = repository_ids[item.snapshot.repository.key]
            # New repositories were stored with these stars; stored ones' come from the table.
            owner_id, stars = owner_of[repository_id]
            source = item.snapshot.source
            bit, name = source.bit, source.value
            is_new = repository_id in new_repositories
            for key, (requirement, kind, direct, manifest) in item.edges.items():
                package_id = package_ids.get(key)
                if package_id is None:
                    continue
                if is_new:
                    row = (repository_id, package_id, requirement, kind, direct, manifest)
                    fresh.append((*row, name, bit, now, now, owner_id, stars))
                    continue
                previous = merged.get((repository_id, package_id))
                bits = bit if previous is None else bit | previous[7]
                if previous is not None and _outranks(previous[6], source):
                    merged[(repository_id, package_id)] = (*previous[:7], bits, *previous[8:])
                    continue
                merged[(repository_id, package_id)] = (
                    repository_id,
                    package_id,
                    requirement,
                    kind,
                    direct,
                    manifest,
                    name,
                    bits,
                    now,
                    now,
                    owner_id,
                    0,
                )
        # Only several snapshots of one new repository can repeat a pair.
        repeated = len({item.snapshot.repository.key for item in prepared}) < len(prepared)
        return _dedupe_fresh(fresh) if repeated else fresh, list(merged.values())

    async def _merge_edges(self, rows: list[Row]) -> set[Pair]:
        """Upsert edges of repositories already stored; they stay staged for `_drop_unreported`.

        Returns the (package, owner) pairs whose dependents may change: new edges and
        edges whose type may change. A re-reported, unchanged edge touches no rollup.
        """
        stage = _STAGE_EDGES
        await self.bulk.stage(stage, rows)
        if not rows:
            return set()
        await self.bulk.refresh_statistics(stage)
        d = _DEPENDENCIES
        changing = await self.session.execute(
            select(stage.c.package_id, stage.c.owner_id)
            .outerjoin(d, _matches(d, stage, ("repository_id", "package_id")))
            .where(
                or_(
                    d.c.repository_id.is_(None),
                    d.c.dependency_type.is_distinct_from(stage.c.dependency_type),
                )
            )
        )
        touched = {(row[0], row[1]) for row in changing}
        staged = [stage.c[name] for name in _EDGE_COLUMNS if name != "stars"]
        inserted = self.bulk.insert(Dependency).from_select(
            list(_EDGE_COLUMNS),
            select(*staged, _REPOSITORIES.c.stars)
            .join(_REPOSITORIES, _REPOSITORIES.c.id == stage.c.repository_id)
            .where(true()),
        )
        excluded = inserted.excluded
        await self.session.execute(
            inserted.on_conflict_do_update(
                index_elements=["repository_id", "package_id"],
                set_={
                    **{
                        column: case(
                            (_takes_details(excluded.source), excluded[column]),
                            else_=getattr(Dependency, column),
                        )
                        for column in _DETAIL_COLUMNS
                    },
                    "sources": Dependency.sources.op("|")(excluded.sources),
                    "last_seen_at": excluded.last_seen_at,
                },
            )
        )
        return touched

    async def _drop_unreported(
        self,
        prepared: list[_Prepared],
        repository_ids: dict[tuple[str, str], int],
        new_repositories: set[int],
        now: datetime,
    ) -> list[Pair]:
        """Clear each replacing source's bit from the edges its snapshot lacks.

        Every edge reported in this batch was stamped `now`, so the edges a
        snapshot lacks are those of its repository seen earlier. Returns the
        (package, owner) of every edge that lost a bit.
        """
        by_source: dict[DependencySource, set[int]] = {}
        sources_of: dict[int, set[DependencySource]] = {}
        for item in prepared:
            repository_id = repository_ids[item.snapshot.repository.key]
            sources_of.setdefault(repository_id, set()).add(item.snapshot.source)
            if item.snapshot.replace and repository_id not in new_repositories:
                by_source.setdefault(item.snapshot.source, set()).add(repository_id)
        # A repository that several sources reported in this batch: an edge stamped
        # `now` by one of them may still lack another.
        mixed = {id_ for id_, sources in sources_of.items() if len(sources) > 1}
        cleared: list[Pair] = []
        for source, ids in by_source.items():
            for chunk in id_chunks(ids):
                cleared += await self._clear(source, chunk, now)
            for chunk in id_chunks(ids & mixed):
                cleared += await self._clear_unreported_now(source, chunk)
        if cleared:
            for chunk in id_chunks(set().union(*by_source.values())):
                await self.session.execute(
                    delete(Dependency)
                    .where(Dependency.repository_id.in_(chunk), Dependency.sources == 0)
                    .execution_options(synchronize_session=False)
                )
        return cleared

    async def _clear(self, source: DependencySource, ids: list[int], now: datetime) -> list[Pair]:
        bit = source.bit
        result = await self.session.execute(
            update(Dependency)
            .where(
                Dependency.repository_id.in_(ids),
                Dependency.sources.op("&")(bit) != 0,
                Dependency.last_seen_at < now,
            )
            .values(sources=Dependency.sources.op("&")(~bit))
            .returning(Dependency.package_id, Dependency.owner_id)
            .execution_options(synchronize_session=False)
        )
        return [(row[0], row[1]) for row in result]

    async def _clear_unreported_now(self, source: DependencySource, ids: list[int]) -> list[Pair]:
        bit, stage = source.bit, _STAGE_EDGES
        result = await self.session.execute(
            update(Dependency)
            .where(
                _matches(_DEPENDENCIES, stage, ("repository_id", "package_id")),
                Dependency.repository_id.in_(ids),
                Dependency.sources.op("&")(bit) != 0,
                stage.c.sources.op("&")(bit) == 0,
            )
            .values(sources=Dependency.sources.op("&")(~bit))
            .returning(Dependency.package_id, Dependency.owner_id)
            .execution_options(synchronize_session=False)
        )
        return [(row[0], row[1]) for row in result]

    async def _recount_owners(self, owner_ids: set[int], now: datetime) -> None:
        """Recompute `total_repositories` / `total_stars` of these owners, set-based."""
        for chunk in id_chunks(owner_ids):
            totals = (
                select(
                    Repository.owner_id,
                    func.count().label("repositories"),
                    func.coalesce(func.sum(Repository.stars), 0).label("stars"),
                )
                .where(Repository.owner_id.in_(chunk))
                .group_by(Repository.owner_id)
                .subquery()
            )
            await self.session.execute(
                update(Organization)
                .where(
                    Organization.id == totals.c.owner_id,
                    or_(
                        Organization.total_repositories != totals.c.repositories,
                        Organization.total_stars != totals.c.stars,
                    ),
                )
                .values(
                    total_repositories=totals.c.repositories,
                    total_stars=totals.c.stars,
                    updated_at=now,
                )
                .execution_options(synchronize_session=False)
            )

    # -- other entry points ---------------------------------------------------------

    async def sweep(self, source: DependencySource, *, since: datetime) -> int:
        """End a run delivered in pieces (`replace=False`) as one snapshot.

        For every repository that `source` reported in this run (an edge seen at or
        after `since`), clear the source from the edges it did not report again.
        An edge another source re-reported during the run is kept until the next one.
        Returns how many edges lost the source.
        """
        bit = source.bit
        reported_now = (
            select(Dependency.repository_id)
            .where(Dependency.sources.op("&")(bit) != 0, Dependency.last_seen_at >= since)
            .distinct()
        )
        result = await self.session.execute(
            update(Dependency)
            .where(
                Dependency.sources.op("&")(bit) != 0,
                Dependency.last_seen_at < since,
                Dependency.repository_id.in_(reported_now),
            )
            .values(sources=Dependency.sources.op("&")(~bit))
            .returning(Dependency.package_id, Dependency.owner_id)
            .execution_options(synchronize_session=False)
        )
        cleared = [(row[0], row[1]) for row in result]
        if cleared:
            await self.session.execute(
                delete(Dependency)
                .where(Dependency.sources == 0)
                .execution_options(synchronize_session=False)
            )
            await self._refresh_rollups(set(cleared))
        self._bump_after_commit(_Written(package_ids={package for package, _ in cleared}))
        return len(cleared)

    async def update_repositories(self, refs: Sequence[RepositoryRef]) -> int:
        """Fill in metadata (stars, forks, ...) of repositories that already exist.

        Repositories not stored yet are ignored: this enriches, it never creates.
        Returns how many owners' repositories changed.
        """
        rows = {ref.key: _repository_row(ref, None) for ref in refs}
        if not rows:
            return 0
        now = self._tick()
        await self.bulk.stage(_STAGE_REPOSITORIES, list(rows.values()))
        changed, owners = await self._update_repository_metadata(now)
        await self._recount_owners(owners, now)
        pairs = await self._sync_edge_stars(changed)
        await self._refresh_rollups(pairs)
        self._bump_after_commit(
            _Written(package_ids={package for package, _ in pairs}, organization_ids=owners)
        )
        return len(owners)

    async def update_packages(self, metadata: Sequence[PackageMetadata]) -> int:
        """Fill in description, URLs and latest version of packages that already exist."""
        rows: dict[PackageKey, Row] = {}
        for item in metadata:
            identity = self.identity(item.ecosystem, item.name)
            if isinstance(identity, str):
                continue
            rows[(identity.ecosystem.value, identity.normalized_name)] = (
                identity.ecosystem.value,
                identity.name,
                identity.normalized_name,
                identity.purl,
                item.description,
                _cut(item.homepage_url, 1024),
                _cut(item.repository_url, 1024),
                _cut(item.latest_version, 256),
            )
        if not rows:
            return 0
        self._tick()
        stage = _STAGE_PACKAGES
        await self.bulk.stage(stage, list(rows.values()))
        result = await self.session.execute(
            update(Package)
            .where(
                _matches(_PACKAGES, stage, ("ecosystem", "normalized_name")),
                _changed(stage, _PACKAGES, _PACKAGE_METADATA),
            )
            .values(
                {
                    name: func.coalesce(stage.c[name], _PACKAGES.c[name])
                    for name in _PACKAGE_METADATA
                }
            )
            .returning(Package.id)
            .execution_options(synchronize_session=False)
        )
        ids = set(result.scalars())
        self._bump_after_commit(_Written(package_ids=ids))
        return len(ids)

    def _bump_after_commit(self, written: _Written, session: AsyncSession | None = None) -> None:
        cache = self.cache
        if cache is None or not (written.package_ids or written.organization_ids):
            return
        packages, organizations = sorted(written.package_ids), sorted(written.organization_ids)

        async def bump() -> None:
            await cache.bump("package", packages)
            await cache.bump("organization", organizations)

        after_commit(session or self.session, bump)


def _repository_rows(
    prepared: list[_Prepared], owner_ids: dict[tuple[str, str], int]
) -> dict[tuple[str, str], Row]:
    """One row per repository; what a later snapshot knows wins, unknowns keep earlier values."""
    rows: dict[tuple[str, str], Row] = {}
    for item in prepared:
        ref = item.snapshot.repository
        row = _repository_row(ref, owner_ids[ref.owner_key])
        known = rows.get(ref.key)
        if known is not None:
            row = tuple(
                new if new is not None else old for new, old in zip(row, known, strict=True)
            )
        rows[ref.key] = row
    return rows


def _repository_row(ref: RepositoryRef, owner_id: int | None) -> Row:
    host, key = ref.key
    return (
        host,
        owner_id,
        ref.name,
        ref.full_name,
        key,
        _cut(ref.html_url, 1024),
        ref.description,
        ref.stars,
        ref.forks,
        ref.is_fork,
        ref.is_archived,
        _cut(ref.language, 64),
        ref.pushed_at,
        _cut(ref.default_branch, 255),
    )


def _cut(value: str | None, limit: int) -> str | None:
    return value[:limit] if value else value


def _why(known: tuple[PackageKey, PackageIdentity] | str, kind: object) -> str:
    if isinstance(known, str):
        return known
    return f"unknown dependency type {kind!r} for {known[1].name!r}"


def _unstored(prepared: list[_Prepared], package_ids: dict[PackageKey, int]) -> list[str]:
    """Packages that have no row: their purl belongs to a package stored under another name."""
    return [
        f"{item.label}: {ecosystem} package {name!r} conflicts with a stored package's purl"
        for item in prepared
        for ecosystem, name in item.edges
        if (ecosystem, name) not in package_ids
    ]


def _dependency_type(value: str | None) -> DependencyType | None:
    try:
        return DependencyType(value) if value is not None else None
    except ValueError:
        return None


def _stronger(current: EdgeDetails, new: EdgeDetails) -> EdgeDetails:
    winner = new if _TYPE_RANK[new[1]] < _TYPE_RANK[current[1]] else current
    direct = current[2] or new[2]
    return winner if winner[2] == direct else (winner[0], winner[1], direct, winner[3])


def _dedupe_fresh(rows: list[Row]) -> list[Row]:
    """Edges of new repositories, one per pair: several snapshots may name one repository."""
    pairs: dict[tuple[int, int], Row] = {}
    for row in rows:
        previous = pairs.get((row[0], row[1]))
        if previous is None:
            pairs[(row[0], row[1])] = row
        elif _outranks(previous[6], DependencySource(row[6])):
            pairs[(row[0], row[1])] = (*previous[:7], row[7] | previous[7], *previous[8:])
        else:
            pairs[(row[0], row[1])] = (*row[:7], row[7] | previous[7], *row[8:])
    return list(pairs.values()) if len(pairs) < len(rows) else rows
