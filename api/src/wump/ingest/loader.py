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
  sources reported is kept. The details of the newest report are stored.
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
from collections.abc import Iterable, Sequence
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
    MetaData,
    String,
    Table,
    Text,
    and_,
    delete,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.schema import CreateTable

from wump.core.cache import Cache
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

log = structlog.get_logger(__name__)

# Column sizes of the schema; longer input is cut (free text) or refused (names).
MAX_REQUIREMENT = 512
MAX_MANIFEST_PATH = 1024
MAX_PACKAGE_NAME = 512
MAX_PURL = 1024
MAX_LOGIN = 255
MAX_REPOSITORY_NAME = 255
# Both databases cap bound parameters near 32k per statement.
_MAX_IDS_PER_STATEMENT = 10_000
# Identities are cached across batches; popular packages repeat in every batch.
_IDENTITY_CACHE_SIZE = 500_000
_SEGMENT = re.compile(r"^[A-Za-z0-9_.-]+$")
_TYPE_RANK = {kind: rank for rank, kind in enumerate(TYPE_STRENGTH)}


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

    @property
    def key(self) -> tuple[str, str]:
        return (self.host.lower(), self.full_name.lower())

    @property
    def owner_key(self) -> tuple[str, str]:
        return (self.host.lower(), self.owner.lower())


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

    def add(self, other: "LoadStats") -> None:
        self.snapshots += other.snapshots
        self.repositories_new += other.repositories_new
        self.packages_new += other.packages_new
        self.edges += other.edges
        self.edges_removed += other.edges_removed
        self.invalid += other.invalid
        self.failures += other.failures


@dataclass(slots=True)
class _Edge:
    identity: PackageIdentity
    requirement: str
    dependency_type: DependencyType
    is_direct: bool
    manifest_path: str


@dataclass(slots=True)
class _Prepared:
    snapshot: Snapshot
    edges: dict[tuple[str, str], _Edge]

    @property
    def label(self) -> str:
        return self.snapshot.label or self.snapshot.repository.full_name


@dataclass(slots=True)
class _Written:
    stats: LoadStats = field(default_factory=LoadStats)
    package_ids: set[int] = field(default_factory=set)
    organization_ids: set[int] = field(default_factory=set)


# Staging tables: session-private, created on first use, emptied before each use.
_staging = MetaData()
_STAGE_OWNERS = Table(
    "wump_stage_owners",
    _staging,
    Column("host", String),
    Column("login", String),
    Column("login_key", String),
    Column("kind", String),
    Column("github_url", String),
    prefixes=["TEMPORARY"],
)
_STAGE_REPOSITORIES = Table(
    "wump_stage_repositories",
    _staging,
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
    prefixes=["TEMPORARY"],
)
_STAGE_PACKAGES = Table(
    "wump_stage_packages",
    _staging,
    Column("ecosystem", String),
    Column("name", String),
    Column("normalized_name", String),
    Column("purl", String),
    Column("description", Text),
    Column("homepage_url", String),
    Column("repository_url", String),
    Column("latest_version", String),
    prefixes=["TEMPORARY"],
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
)
_STAGE_EDGES = Table(
    "wump_stage_edges",
    _staging,
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
    prefixes=["TEMPORARY"],
)
_DEPENDENCIES = cast(Table, Dependency.__table__)


class BulkWriter:
    """The one dialect-aware helper: how rows reach the database in bulk.

    PostgreSQL gets binary `COPY` (asyncpg `copy_records_to_table`) on the
    session's own connection, so it runs inside the session's transaction and
    savepoints. SQLite gets a plain `executemany`. Both then share the same
    portable merge statements; the ON CONFLICT clause comes from `insert()`.
    """

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.postgres = session.get_bind().dialect.name == "postgresql"

    def insert(self, target: Any) -> postgresql.Insert | sqlite.Insert:
        return postgresql.insert(target) if self.postgres else sqlite.insert(target)

    async def stage(self, table: Table, rows: Sequence[tuple[Any, ...]]) -> None:
        """Fill a session-private staging table with exactly `rows`."""
        await self.session.execute(CreateTable(table, if_not_exists=True))
        if self.postgres:
            await self.session.execute(text(f"TRUNCATE {table.name}"))
        else:
            await self.session.execute(delete(table))
        await self.copy(table, [column.name for column in table.columns], rows)
        if self.postgres:
            # Temporary tables get no autovacuum statistics; without them the
            # planner may scan the big tables instead of probing their indexes.
            await self.session.execute(text(f"ANALYZE {table.name}"))

    async def copy(
        self, table: Table, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
    ) -> None:
        if not rows:
            return
        if not self.postgres:
            await self.session.execute(
                insert(table), [dict(zip(columns, row, strict=True)) for row in rows]
            )
            return
        connection = await self.session.connection()
        raw = await connection.get_raw_connection()
        driver = cast(asyncpg.Connection, raw.driver_connection)
        try:
            await driver.copy_records_to_table(table.name, records=rows, columns=list(columns))
        except asyncpg.PostgresError as exc:
            raise LoadError(f"COPY into {table.name} failed: {exc}") from exc


class LoadError(RuntimeError):
    pass


def _chunks(ids: Iterable[int]) -> Iterable[list[int]]:
    ordered = sorted(ids)
    for start in range(0, len(ordered), _MAX_IDS_PER_STATEMENT):
        yield ordered[start : start + _MAX_IDS_PER_STATEMENT]


def _changed(pairs: Iterable[tuple[ColumnElement[Any], ColumnElement[Any]]]) -> ColumnElement[bool]:
    """True where a known new value differs from the stored one (None means unknown)."""
    return or_(*(and_(new.is_not(None), new.is_distinct_from(old)) for new, old in pairs))


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

    def __init__(self, session: AsyncSession, *, cache: Cache | None = None) -> None:
        self.session = session
        self.cache = cache
        self.bulk = BulkWriter(session)
        self.started_at: datetime | None = None
        self._last_tick: datetime | None = None
        self._identities: dict[tuple[str, str], PackageIdentity | str] = {}

    async def load(self, snapshots: Sequence[Snapshot]) -> LoadStats:
        """Store a batch of snapshots. Only flushes; the caller commits."""
        now = self._tick()
        stats = LoadStats()
        prepared = self._prepare(snapshots, stats)
        written = await self._write_isolated(prepared, now, stats)
        self._bump_after_commit(written)
        return stats

    async def _write_isolated(
        self, prepared: list[_Prepared], now: datetime, stats: LoadStats
    ) -> _Written:
        if not prepared:
            return _Written()
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
            stats.add(written.stats)
            total.package_ids |= written.package_ids
            total.organization_ids |= written.organization_ids
        return total

    def _tick(self) -> datetime:
        # Strictly increasing, so "seen in this batch" is an exact comparison.
        now = utcnow()
        if self._last_tick is not None and now <= self._last_tick:
            now = self._last_tick + timedelta(microseconds=1)
        self._last_tick = now
        if self.started_at is None:
            self.started_at = now
        return now

    # -- preparation (pure Python, before any SQL) ---------------------------------

    def _prepare(self, snapshots: Sequence[Snapshot], stats: LoadStats) -> list[_Prepared]:
        prepared: list[_Prepared] = []
        for snapshot in snapshots:
            label = snapshot.label or snapshot.repository.full_name
            try:
                snapshot.repository.check()
            except InvalidRepository as exc:
                stats.failures.append(f"{label}: {exc}")
                continue
            edges: dict[tuple[str, str], _Edge] = {}
            for dependency in snapshot.dependencies:
                edge = self._edge(dependency, label, stats)
                if edge is not None:
                    _keep_strongest(edges, edge)
            prepared.append(_Prepared(snapshot, edges))
        return prepared

    def _edge(self, dependency: ParsedDependency, label: str, stats: LoadStats) -> _Edge | None:
        identity = self.identity(dependency.ecosystem, dependency.name)
        if isinstance(identity, str):
            stats.invalid.append(f"{label}: {dependency.manifest_path}: {identity}")
            return None
        try:
            kind = DependencyType(dependency.dependency_type)
        except ValueError:
            stats.invalid.append(
                f"{label}: {dependency.manifest_path}: unknown dependency type "
                f"{dependency.dependency_type!r} for {dependency.name!r}"
            )
            return None
        return _Edge(
            identity=identity,
            requirement=(dependency.requirement or "*")[:MAX_REQUIREMENT],
            dependency_type=kind,
            is_direct=dependency.is_direct,
            manifest_path=dependency.manifest_path[:MAX_MANIFEST_PATH],
        )

    def identity(self, ecosystem: Ecosystem | str, name: str) -> PackageIdentity | str:
        """The package's identity, or why the name is not valid (cached)."""
        key = (str(ecosystem), name)
        cached = self._identities.get(key)
        if cached is not None:
            return cached
        result: PackageIdentity | str
        try:
            result = PackageIdentity.of(ecosystem, name)
            if len(result.name) > MAX_PACKAGE_NAME or len(result.purl) > MAX_PURL:
                result = f"{ecosystem} package name {name[:80]!r}... is too long"
        except ValueError as exc:
            result = f"{ecosystem} package {name!r}: {exc}"
        if len(self._identities) >= _IDENTITY_CACHE_SIZE:
            self._identities.clear()
        self._identities[key] = result
        return result

    # -- the set-based write of one batch -----------------------------------------

    async def _write(self, prepared: list[_Prepared], now: datetime) -> _Written:
        written = _Written()
        owner_ids = await self._upsert_owners(prepared, now)
        repository_ids, new_repositories = await self._upsert_repositories(prepared, owner_ids, now)
        package_ids, packages_new = await self._upsert_packages(prepared)
        fresh, merged = self._edge_rows(
            prepared, repository_ids, package_ids, new_repositories, now
        )
        await self.bulk.copy(_DEPENDENCIES, _EDGE_COLUMNS, fresh)
        await self._merge_edges(merged)
        removed = await self._drop_unreported(prepared, repository_ids, new_repositories)
        written.organization_ids = set(owner_ids.values())
        await self._recount_owners(written.organization_ids, now)
        written.package_ids = {row[1] for row in fresh} | {row[1] for row in merged} | set(removed)
        written.stats = LoadStats(
            snapshots=len(prepared),
            repositories_new=len(new_repositories),
            packages_new=packages_new,
            edges=len(fresh) + len(merged),
            edges_removed=len(removed),
        )
        return written

    async def _upsert_owners(
        self, prepared: list[_Prepared], now: datetime
    ) -> dict[tuple[str, str], int]:
        rows: dict[tuple[str, str], tuple[Any, ...]] = {}
        for item in prepared:
            ref = item.snapshot.repository
            known = rows.get(ref.owner_key)
            kind = ref.owner_kind or (known[3] if known else None)
            host, login_key = ref.owner_key
            github_url = f"https://github.com/{ref.owner}" if host == "github.com" else None
            rows[ref.owner_key] = (host, ref.owner, login_key, kind, github_url)
        stage = _STAGE_OWNERS
        await self.bulk.stage(stage, list(rows.values()))
        inserted = self.bulk.insert(Organization).from_select(
            ["host", "login", "login_key", "kind", "github_url", "created_at", "updated_at"],
            select(
                stage.c.host,
                stage.c.login,
                stage.c.login_key,
                func.coalesce(stage.c.kind, OwnerKind.ORGANIZATION.value),
                stage.c.github_url,
                literal(now, UTCDateTime()),
                literal(now, UTCDateTime()),
            ).where(true()),
        )
        await self.session.execute(inserted.on_conflict_do_nothing())
        matches = and_(
            Organization.host == stage.c.host, Organization.login_key == stage.c.login_key
        )
        await self.session.execute(
            update(Organization)
            .where(matches, stage.c.kind.is_not(None), Organization.kind != stage.c.kind)
            .values(kind=stage.c.kind, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        result = await self.session.execute(
            select(Organization.id, Organization.host, Organization.login_key).join(stage, matches)
        )
        return {(host, key): id_ for id_, host, key in result}

    async def _upsert_repositories(
        self,
        prepared: list[_Prepared],
        owner_ids: dict[tuple[str, str], int],
        now: datetime,
    ) -> tuple[dict[tuple[str, str], int], set[int]]:
        rows: dict[tuple[str, str], tuple[Any, ...]] = {}
        for item in prepared:
            ref = item.snapshot.repository
            rows[ref.key] = _repository_row(ref, owner_ids[ref.owner_key])
        stage = _STAGE_REPOSITORIES
        await self.bulk.stage(stage, list(rows.values()))
        c = stage.c
        inserted = self.bulk.insert(Repository).from_select(
            [*_REPOSITORY_IDENTITY, *_REPOSITORY_METADATA, "created_at", "updated_at"],
            select(
                *(c[name] for name in _REPOSITORY_IDENTITY),
                c.html_url,
                c.description,
                func.coalesce(c.stars, 0),
                func.coalesce(c.forks, 0),
                func.coalesce(c.is_fork, False),
                func.coalesce(c.is_archived, False),
                c.primary_language,
                c.pushed_at,
                c.default_branch,
                literal(now, UTCDateTime()),
                literal(now, UTCDateTime()),
            ).where(true()),
        )
        result = await self.session.execute(
            inserted.on_conflict_do_nothing().returning(Repository.id)
        )
        new_ids = set(result.scalars())
        await self._update_repository_metadata(now)
        ids = await self.session.execute(
            select(Repository.id, Repository.host, Repository.full_name_key).join(
                stage, _repository_matches()
            )
        )
        return {(host, key): id_ for id_, host, key in ids}, new_ids

    async def _update_repository_metadata(self, now: datetime) -> set[int]:
        """Apply the staged metadata that is known and differs; returns the owners touched."""
        c = _STAGE_REPOSITORIES.c
        pairs = [(c[name], Repository.__table__.c[name]) for name in _REPOSITORY_METADATA]
        values: dict[str, Any] = {
            name: func.coalesce(c[name], Repository.__table__.c[name])
            for name in _REPOSITORY_METADATA
        }
        result = await self.session.execute(
            update(Repository)
            .where(_repository_matches(), _changed(pairs))
            .values(**values, updated_at=now)
            .returning(Repository.owner_id)
            .execution_options(synchronize_session=False)
        )
        return set(result.scalars())

    async def _upsert_packages(
        self, prepared: list[_Prepared]
    ) -> tuple[dict[tuple[str, str], int], int]:
        rows: dict[tuple[str, str], tuple[Any, ...]] = {}
        for item in prepared:
            for key, edge in item.edges.items():
                if key not in rows:
                    ecosystem, normalized = key
                    purl = edge.identity.purl
                    rows[key] = (
                        ecosystem,
                        edge.identity.name,
                        normalized,
                        purl,
                        None,
                        None,
                        None,
                        None,
                    )
        stage = _STAGE_PACKAGES
        await self.bulk.stage(stage, list(rows.values()))
        inserted = self.bulk.insert(Package).from_select(
            ["ecosystem", "name", "normalized_name", "purl", "funding_urls"],
            select(
                stage.c.ecosystem,
                stage.c.name,
                stage.c.normalized_name,
                stage.c.purl,
                literal([], Package.__table__.c.funding_urls.type),
            ).where(true()),
        )
        result = await self.session.execute(inserted.on_conflict_do_nothing().returning(Package.id))
        created = len(result.all())
        ids = await self.session.execute(
            select(Package.id, Package.ecosystem, Package.normalized_name).join(
                stage, _package_matches()
            )
        )
        return {(eco, name): id_ for id_, eco, name in ids}, created

    def _edge_rows(
        self,
        prepared: list[_Prepared],
        repository_ids: dict[tuple[str, str], int],
        package_ids: dict[tuple[str, str], int],
        new_repositories: set[int],
        now: datetime,
    ) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        """Rows for the edges table: those of new repositories, and those to merge.

        Within a batch, the later snapshot's details win and the source bits add up.
        """
        rows: dict[tuple[int, int], list[Any]] = {}
        for item in prepared:
            repository_id = repository_ids[item.snapshot.repository.key]
            source = item.snapshot.source
            for key, edge in item.edges.items():
                package_id = package_ids.get(key)
                if package_id is None:
                    continue
                pair = (repository_id, package_id)
                previous = rows.get(pair)
                bits = source.bit | (previous[7] if previous else 0)
                rows[pair] = [
                    repository_id,
                    package_id,
                    edge.requirement,
                    edge.dependency_type.value,
                    edge.is_direct,
                    edge.manifest_path,
                    source.value,
                    bits,
                    now,
                    now,
                ]
        return _split_fresh(rows, new_repositories)

    async def _merge_edges(self, rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        stage = _STAGE_EDGES
        await self.bulk.stage(stage, rows)
        inserted = self.bulk.insert(Dependency).from_select(
            list(_EDGE_COLUMNS), select(*(stage.c[name] for name in _EDGE_COLUMNS)).where(true())
        )
        excluded = inserted.excluded
        await self.session.execute(
            inserted.on_conflict_do_update(
                index_elements=["repository_id", "package_id"],
                set_={
                    "requirement": excluded.requirement,
                    "dependency_type": excluded.dependency_type,
                    "is_direct": excluded.is_direct,
                    "manifest_path": excluded.manifest_path,
                    "source": excluded.source,
                    "sources": Dependency.sources.op("|")(excluded.sources),
                    "last_seen_at": excluded.last_seen_at,
                },
            )
        )

    async def _drop_unreported(
        self,
        prepared: list[_Prepared],
        repository_ids: dict[tuple[str, str], int],
        new_repositories: set[int],
    ) -> list[int]:
        """Clear each replacing source's bit from the edges its snapshot lacks.

        Returns the package of every edge that lost a bit.
        """
        by_source: dict[DependencySource, set[int]] = {}
        for item in prepared:
            repository_id = repository_ids[item.snapshot.repository.key]
            if item.snapshot.replace and repository_id not in new_repositories:
                by_source.setdefault(item.snapshot.source, set()).add(repository_id)
        touched: list[int] = []
        for source, ids in by_source.items():
            for chunk in _chunks(ids):
                touched += await self._clear_source(source, chunk)
        return touched

    async def _clear_source(self, source: DependencySource, ids: list[int]) -> list[int]:
        bit = source.bit
        stage = _STAGE_EDGES
        await self.session.execute(CreateTable(stage, if_not_exists=True))
        reported = exists().where(
            stage.c.repository_id == Dependency.repository_id,
            stage.c.package_id == Dependency.package_id,
            stage.c.sources.op("&")(bit) != 0,
        )
        result = await self.session.execute(
            update(Dependency)
            .where(
                Dependency.repository_id.in_(ids),
                Dependency.sources.op("&")(bit) != 0,
                ~reported,
            )
            .values(sources=Dependency.sources.op("&")(~bit))
            .returning(Dependency.package_id)
            .execution_options(synchronize_session=False)
        )
        cleared = list(result.scalars())
        if cleared:
            await self.session.execute(
                delete(Dependency)
                .where(Dependency.repository_id.in_(ids), Dependency.sources == 0)
                .execution_options(synchronize_session=False)
            )
        return cleared

    async def _recount_owners(self, owner_ids: set[int], now: datetime) -> None:
        """Recompute `total_repositories` / `total_stars` of these owners, set-based."""
        count = select(func.count()).where(Repository.owner_id == Organization.id).scalar_subquery()
        stars = (
            select(func.coalesce(func.sum(Repository.stars), 0))
            .where(Repository.owner_id == Organization.id)
            .scalar_subquery()
        )
        for chunk in _chunks(owner_ids):
            await self.session.execute(
                update(Organization)
                .where(
                    Organization.id.in_(chunk),
                    or_(
                        Organization.total_repositories != count, Organization.total_stars != stars
                    ),
                )
                .values(total_repositories=count, total_stars=stars, updated_at=now)
                .execution_options(synchronize_session=False)
            )

    # -- other entry points ---------------------------------------------------------

    async def sweep(self, source: DependencySource, *, since: datetime) -> int:
        """End a run delivered in pieces (`replace=False`) as one snapshot.

        For every repository that `source` reported in this run (an edge seen at or
        after `since`), clear the source from the edges it did not report again.
        An edge another source re-reported during the run is kept until the next one.
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
            .returning(Dependency.package_id)
            .execution_options(synchronize_session=False)
        )
        cleared = list(result.scalars())
        package_ids = set(cleared)
        if package_ids:
            await self.session.execute(
                delete(Dependency)
                .where(Dependency.sources == 0)
                .execution_options(synchronize_session=False)
            )
        self._bump_after_commit(_Written(package_ids=package_ids))
        return len(cleared)

    async def update_repositories(self, refs: Sequence[RepositoryRef]) -> int:
        """Fill in metadata (stars, forks, ...) of repositories that already exist.

        Repositories not stored yet are ignored: this enriches, it never creates.
        """
        rows = {ref.key: _repository_row(ref, None) for ref in refs}
        if not rows:
            return 0
        now = self._tick()
        await self.bulk.stage(_STAGE_REPOSITORIES, list(rows.values()))
        owners = await self._update_repository_metadata(now)
        await self._recount_owners(owners, now)
        self._bump_after_commit(_Written(organization_ids=owners))
        return len(owners)

    async def update_packages(self, metadata: Sequence[PackageMetadata]) -> int:
        """Fill in description, URLs and latest version of packages that already exist."""
        rows: dict[tuple[str, str], tuple[Any, ...]] = {}
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
        await self.bulk.stage(_STAGE_PACKAGES, list(rows.values()))
        c = _STAGE_PACKAGES.c
        names = ("description", "homepage_url", "repository_url", "latest_version")
        columns = Package.__table__.c
        result = await self.session.execute(
            update(Package)
            .where(_package_matches(), _changed((c[name], columns[name]) for name in names))
            .values({name: func.coalesce(c[name], columns[name]) for name in names})
            .returning(Package.id)
            .execution_options(synchronize_session=False)
        )
        ids = set(result.scalars())
        self._bump_after_commit(_Written(package_ids=ids))
        return len(ids)

    def _bump_after_commit(self, written: _Written) -> None:
        cache = self.cache
        if cache is None or not (written.package_ids or written.organization_ids):
            return
        packages, organizations = set(written.package_ids), set(written.organization_ids)

        async def bump() -> None:
            await cache.bump("package", sorted(packages))
            await cache.bump("organization", sorted(organizations))

        after_commit(self.session, bump)


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


def _repository_row(ref: RepositoryRef, owner_id: int | None) -> tuple[Any, ...]:
    host, key = ref.key
    return (
        host,
        owner_id,
        ref.name,
        ref.full_name,
        key,
        _cut(ref.html_url, 1024) or (f"https://{host}/{ref.full_name}" if owner_id else None),
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


def _repository_matches() -> ColumnElement[bool]:
    c = _STAGE_REPOSITORIES.c
    return and_(Repository.host == c.host, Repository.full_name_key == c.full_name_key)


def _package_matches() -> ColumnElement[bool]:
    c = _STAGE_PACKAGES.c
    return and_(Package.ecosystem == c.ecosystem, Package.normalized_name == c.normalized_name)


def _keep_strongest(edges: dict[tuple[str, str], _Edge], edge: _Edge) -> None:
    """One edge per package in a snapshot: the strongest type wins, direct if any was."""
    key = (edge.identity.ecosystem.value, edge.identity.normalized_name)
    current = edges.get(key)
    if current is None:
        edges[key] = edge
        return
    direct = current.is_direct or edge.is_direct
    if _TYPE_RANK[edge.dependency_type] < _TYPE_RANK[current.dependency_type]:
        current = edge
    current.is_direct = direct
    edges[key] = current


def _split_fresh(
    rows: dict[tuple[int, int], list[Any]], fresh_repositories: set[int]
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    fresh: list[tuple[Any, ...]] = []
    merged: list[tuple[Any, ...]] = []
    for (repository_id, _), row in rows.items():
        (fresh if repository_id in fresh_repositories else merged).append(tuple(row))
    return fresh, merged
