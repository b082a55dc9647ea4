"""Keeping `dependent_owners` and the package counters exact, set-based.

The dependents of a package are read from precomputed rows, one per (package,
owner), so that no request groups a package's whole fan-out. Every write that
can change such a row names the (package, owner) pairs it touched and calls
`Rollups.refresh` in the same transaction:

1. the pairs are staged;
2. the package counters' share of the old rows is read, the rows deleted and
   recomputed from the edges of just those pairs (an index range per pair);
3. each package's counters move by the difference, so a package with 400k
   dependents costs the same as one with two.

Scores depend on the weights and on the day (recent activity). The loader scores
rows as of today; `rescore_stale` (daily, in the cleanup job) takes the recent
points off rows whose last push has left the window; `rebuild` recomputes
everything after the weights change.
"""

from collections.abc import Collection, Iterable
from datetime import UTC, datetime, time
from typing import Any, cast

import structlog
from sqlalchemy import (
    BigInteger,
    Column,
    ColumnElement,
    Integer,
    Select,
    Table,
    and_,
    case,
    delete,
    exists,
    func,
    literal,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.schema import AddConstraint, CreateIndex, DropConstraint, DropIndex

from wump.core.bulk import SET_INDEX_BUILD_MEMORY, BulkWriter, id_chunks, stage_table
from wump.core.config import ScoringWeights
from wump.models import (
    Dependency,
    DependencyType,
    DependentOwner,
    Organization,
    Package,
    Repository,
)
from wump.packages.scoring import ScoreInputs, Scorer

log = structlog.get_logger(__name__)

Pair = tuple[int, int]
"""(package_id, owner_id)"""

# The ranked view leaves these out (see `DEFAULT_DEPENDENCY_TYPES`).
NOT_RANKED_TYPES = (DependencyType.DEVELOPMENT.value, DependencyType.TEST.value)

_STAGE_PAIRS = stage_table(
    "wump_stage_pairs", Column("package_id", BigInteger), Column("owner_id", BigInteger)
)
_COUNTERS = (
    "dependent_repositories_count",
    "dependent_organizations_count",
    "ranked_repositories_count",
    "ranked_organizations_count",
)
_STAGE_COUNTS = stage_table(
    "wump_stage_counts",
    Column("package_id", BigInteger),
    *(Column(name, Integer) for name in _COUNTERS),
)
_STAGE_PACKAGES = stage_table("wump_stage_package_ids", Column("package_id", BigInteger))
_ROLLUPS = cast(Table, DependentOwner.__table__)


def scored_as_of(now: datetime | None = None) -> datetime:
    """Scores count recent activity from the start of the day (UTC), as reads do."""
    return datetime.combine((now or datetime.now(UTC)).date(), time(), tzinfo=UTC)


def ranked_edge() -> ColumnElement[bool]:
    """An edge of the ranked view; needs `repositories` joined."""
    return and_(
        Repository.is_fork.is_(False),
        Repository.is_archived.is_(False),
        Dependency.dependency_type.not_in(NOT_RANKED_TYPES),
    )


class Rollups:
    """Maintains `dependent_owners` and the package counters through one session."""

    def __init__(
        self, session: AsyncSession, weights: ScoringWeights, *, now: datetime | None = None
    ) -> None:
        self.session = session
        self.bulk = BulkWriter(session)
        self.weights = weights
        self.scorer = Scorer(weights, scored_as_of(now))

    # -- statements ----------------------------------------------------------------

    def computed(self, *where: ColumnElement[bool], pairs: Table | None = None) -> Select[Any]:
        """Rollup rows computed from the edges (of the staged pairs, if given)."""
        ranked = ranked_edge()
        grouped = select(
            Dependency.package_id,
            Dependency.owner_id,
            func.count().label("edges"),
            func.coalesce(func.sum(case((ranked, 1), else_=0)), 0).label("repositories"),
            # The edge's copy of the stars: what reads sort and sum by.
            func.coalesce(func.sum(case((ranked, Dependency.stars), else_=0)), 0).label("stars"),
            func.max(case((ranked, Repository.pushed_at))).label("last_pushed_at"),
        )
        if pairs is not None:
            grouped = grouped.select_from(pairs).join(
                Dependency,
                and_(
                    Dependency.package_id == pairs.c.package_id,
                    Dependency.owner_id == pairs.c.owner_id,
                ),
            )
        per_pair = (
            grouped.join(Repository, Repository.id == Dependency.repository_id)
            .where(*where)
            .group_by(Dependency.package_id, Dependency.owner_id)
            .subquery("per_pair")
        )
        g = per_pair.c
        recent = self.scorer.recent(g.last_pushed_at)
        inputs = ScoreInputs.joined_to_owner(
            repositories=g.repositories, stars=g.stars, recent=recent, runtime=literal(1)
        )
        score = case((g.repositories > 0, self.scorer.expression(inputs)), else_=-1.0)
        return (
            select(
                g.package_id,
                g.owner_id,
                g.edges,
                g.repositories,
                g.stars,
                g.last_pushed_at,
                case((g.repositories > 0, recent), else_=False).label("recent"),
                score.label("score"),
            )
            .join(Organization, Organization.id == g.owner_id)
            .where(Organization.deleted_at.is_(None))
        )

    def _insert(self, rows: Select[Any]) -> Any:
        columns = [column.name for column in _ROLLUPS.columns]
        return _ROLLUPS.insert().from_select(columns, rows)

    # -- incremental ---------------------------------------------------------------

    async def refresh(self, pairs: Collection[Pair]) -> None:
        """Recompute the rows of these (package, owner) pairs and move the counters."""
        if not pairs:
            return
        stage = _STAGE_PAIRS
        await self.bulk.stage(stage, sorted(set(pairs)))
        # Temporary tables are never auto-analyzed; without statistics the planner
        # takes thousands of pairs for one and may scan all edges instead of probing.
        await self.bulk.refresh_statistics(stage)
        before = await self._counts(stage)
        staged = tuple_(DependentOwner.package_id, DependentOwner.owner_id).in_(
            select(stage.c.package_id, stage.c.owner_id)
        )
        await self.session.execute(
            delete(DependentOwner).where(staged).execution_options(synchronize_session=False)
        )
        inserted = await self.session.execute(self._insert(self.computed(pairs=stage)))
        await self.bulk.grown(_ROLLUPS, int(getattr(inserted, "rowcount", 0) or 0))
        after = await self._counts(stage)
        await self._move_counters(before, after)

    async def _counts(self, stage: Table) -> dict[int, tuple[int, int, int, int]]:
        """Each staged package's share of its counters, from the staged pairs' rows."""
        d = DependentOwner
        statement = (
            select(
                d.package_id,
                func.sum(d.edges),
                func.count(),
                func.sum(d.repositories),
                func.sum(case((d.repositories > 0, 1), else_=0)),
            )
            .join(
                stage,
                and_(d.package_id == stage.c.package_id, d.owner_id == stage.c.owner_id),
            )
            .group_by(d.package_id)
        )
        rows = await self.session.execute(statement)
        return {
            int(package_id): (int(edges), int(owners), int(repositories), int(ranked))
            for package_id, edges, owners, repositories, ranked in rows
        }

    async def _move_counters(
        self,
        before: dict[int, tuple[int, int, int, int]],
        after: dict[int, tuple[int, int, int, int]],
    ) -> None:
        zero = (0, 0, 0, 0)
        deltas = []
        for package_id in before.keys() | after.keys():
            old, new = before.get(package_id, zero), after.get(package_id, zero)
            delta = tuple(n - o for n, o in zip(new, old, strict=True))
            if any(delta):
                deltas.append((package_id, *delta))
        if not deltas:
            return
        stage = _STAGE_COUNTS
        await self.bulk.stage(stage, deltas)
        await self.session.execute(
            update(Package)
            .where(Package.id == stage.c.package_id)
            .values({name: getattr(Package, name) + stage.c[name] for name in _COUNTERS})
            .execution_options(synchronize_session=False)
        )

    async def pairs_of_repositories(self, repository_ids: Iterable[int]) -> set[Pair]:
        pairs: set[Pair] = set()
        for chunk in id_chunks(repository_ids):
            rows = await self.session.execute(
                select(Dependency.package_id, Dependency.owner_id).where(
                    Dependency.repository_id.in_(chunk)
                )
            )
            pairs.update((int(p), int(o)) for p, o in rows)
        return pairs

    async def refresh_owners(self, owner_ids: Iterable[int]) -> set[Pair]:
        """After an owner changed (kind, contact, sponsorship) or was deleted or restored.

        Returns the pairs refreshed.
        """
        pairs: set[Pair] = set()
        for chunk in id_chunks(owner_ids):
            stored = select(DependentOwner.package_id, DependentOwner.owner_id).where(
                DependentOwner.owner_id.in_(chunk)
            )
            edges = (
                select(Dependency.package_id, Dependency.owner_id)
                .join(Repository, Repository.id == Dependency.repository_id)
                .where(Repository.owner_id.in_(chunk))
            )
            for statement in (stored, edges):
                rows = await self.session.execute(statement)
                pairs.update((int(p), int(o)) for p, o in rows)
        await self.refresh(pairs)
        return pairs

    # -- periodic and whole-table ----------------------------------------------------

    async def rescore_stale(self) -> int:
        """Take the recent-activity points off rows whose last push left the window.

        Time only ever moves rows out of the window (a new push arrives through the
        loader, which rescores), so this is the whole daily correction.
        """
        points = self.scorer.points()["recent_activity"]
        result = await self.session.execute(
            update(DependentOwner)
            .where(
                DependentOwner.recent.is_(True),
                DependentOwner.last_pushed_at < self.scorer.recent_cutoff,
            )
            .values(recent=False, score=DependentOwner.score - points)
            .execution_options(synchronize_session=False)
        )
        changed = int(getattr(result, "rowcount", 0) or 0)
        log.info("rollups_rescored", rows=changed, cutoff=self.scorer.recent_cutoff.isoformat())
        return changed

    async def rebuild(self) -> int:
        """Recompute every row and counter from the edges (after a weights change)."""
        rows = await self._recompute(None)
        log.info("rollups_rebuilt", rows=rows)
        return rows

    async def edges_of(self, package_ids: Collection[int]) -> int:
        """How many edges these packages have, by their counters (to price a refresh)."""
        total = 0
        for chunk in id_chunks(package_ids):
            statement = select(func.coalesce(func.sum(Package.dependent_repositories_count), 0))
            total += int(await self.session.scalar(statement.where(Package.id.in_(chunk))) or 0)
        return total

    async def refresh_packages(self, package_ids: Collection[int]) -> int:
        """Recompute every row and counter of these packages in one pass over their edges.

        For bulk runs: cheaper than `refresh` once a run touches most of a package's
        owners. Returns the rows written.
        """
        stage = _STAGE_PACKAGES
        await self.bulk.stage(stage, [(id_,) for id_ in sorted(package_ids)])
        await self.bulk.refresh_statistics(stage)
        return await self._recompute(select(stage.c.package_id))

    async def _empty(self) -> bool:
        return not await self.session.scalar(select(exists().select_from(_ROLLUPS)))

    async def _drop_indexes(self) -> None:
        for index in _ROLLUPS.indexes:
            await self.session.execute(DropIndex(index))
        await self.session.execute(DropConstraint(_ROLLUPS.primary_key))

    async def _create_indexes(self) -> None:
        await self.session.execute(text(SET_INDEX_BUILD_MEMORY))
        await self.session.execute(AddConstraint(_ROLLUPS.primary_key))
        for index in sorted(_ROLLUPS.indexes, key=lambda index: str(index.name)):
            await self.session.execute(CreateIndex(index))

    async def _recompute(self, packages: Select[Any] | None) -> int:
        """Replace the rows and counters of `packages` (a select of ids), or of all."""
        d = DependentOwner

        def only(column: Any) -> list[ColumnElement[bool]]:
            return [] if packages is None else [column.in_(packages)]

        await self.session.execute(
            delete(d).where(*only(d.package_id)).execution_options(synchronize_session=False)
        )
        # Filling an empty table, its indexes are built afterwards: a sort each, not a
        # random B-tree insert per row. The DDL locks the table until the caller commits,
        # which only a rebuild or an initial load (nothing to read yet) does.
        rebuild_indexes = self.bulk.postgres and await self._empty()
        if rebuild_indexes:
            await self._drop_indexes()
        written = await self.session.execute(
            self._insert(self.computed(*only(Dependency.package_id)))
        )
        rows = int(getattr(written, "rowcount", 0) or 0)
        if rebuild_indexes:
            await self._create_indexes()
        await self.bulk.refresh_statistics(_ROLLUPS)
        await self.session.execute(
            update(Package)
            .where(*only(Package.id), getattr(Package, _COUNTERS[0]) > 0)
            .values(dict.fromkeys(_COUNTERS, 0))
            .execution_options(synchronize_session=False)
        )
        totals = (
            select(
                d.package_id,
                func.sum(d.edges).label(_COUNTERS[0]),
                func.count().label(_COUNTERS[1]),
                func.sum(d.repositories).label(_COUNTERS[2]),
                func.sum(case((d.repositories > 0, 1), else_=0)).label(_COUNTERS[3]),
            )
            .where(*only(d.package_id))
            .group_by(d.package_id)
            .subquery("totals")
        )
        await self.session.execute(
            update(Package)
            .where(Package.id == totals.c.package_id)
            .values({name: totals.c[name] for name in _COUNTERS})
            .execution_options(synchronize_session=False)
        )
        return rows
