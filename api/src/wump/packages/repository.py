"""Statements for the package graph. Hot reads are Core selects returning plain rows.

Two sources answer "who depends on this package":

- the **rollup** (`dependent_owners`, one precomputed row per package and owner,
  and the counters on `packages`) serves the ranked view: the default filters,
  narrowed at most by owner (`kind`, `exclude_owner`, the package's own owner).
  Its pages are backward scans of `(package_id, <sort key>, owner_id)` indexes.
- the **edges** (`dependencies` joined to `repositories` and `organizations`)
  serve every other filter, grouped per owner at read time.

Both produce rows with the same labels, so the service and the routers do not
know which one answered. Edges carry copies of their repository's owner and
stars (`dependencies.owner_id`, `dependencies.stars`), which these statements
read so that a package's edges sort and group on their own indexes.
"""

from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    RowMapping,
    Select,
    Subquery,
    bindparam,
    case,
    cast,
    func,
    literal,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from wump.core.pagination import Cursor, KeyKind, Keyset, SortKey, paged
from wump.core.repository import Repository as BaseRepository
from wump.ingest.identity import Ecosystem
from wump.models import (
    Dependency,
    DependentOwner,
    Organization,
    Package,
    Repository,
)
from wump.models.base import UTCDateTime
from wump.packages.schemas import DependentFilters, DependentSort, PackageSort, RepositorySort
from wump.packages.scoring import ScoreInputs, Scorer
from wump.rollups.service import NOT_RANKED_TYPES
from wump.search.matching import like_any

# Sorts "never pushed" last among descending dates without NULL handling per database.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

PACKAGE_COLUMNS = (
    Package.id,
    Package.ecosystem,
    Package.name,
    Package.normalized_name,
    Package.purl,
    Package.description,
    Package.repository_url,
    Package.homepage_url,
    Package.latest_version,
    Package.funding_urls,
)
# Maintained with the rollup, so a list shows them without counting edges.
PACKAGE_COUNTERS = (
    Package.dependent_repositories_count,
    Package.dependent_organizations_count,
)
ORGANIZATION_COLUMNS = (
    Organization.login,
    Organization.login_key,
    Organization.name,
    Organization.kind,
    Organization.github_url,
    Organization.website_url,
    Organization.sponsorship_url,
    Organization.is_verified,
    Organization.company,
    Organization.has_sponsors_listing,
    Organization.sponsors_others_count,
)
EDGE_COLUMNS = (
    Dependency.repository_id,
    Dependency.owner_id,
    Repository.full_name,
    Repository.full_name_key,
    Repository.html_url,
    Dependency.stars,
    Repository.primary_language,
    Repository.pushed_at,
    Repository.is_fork,
    Repository.is_archived,
    Dependency.dependency_type,
    Dependency.requirement,
    Dependency.is_direct,
    Dependency.manifest_path,
    Dependency.source,
    Dependency.sources,
    Dependency.first_seen_at,
)


def epoch() -> ColumnElement[datetime]:
    return literal(EPOCH, UTCDateTime())


def repository_conditions(filters: DependentFilters) -> list[ColumnElement[bool]]:
    """The filters that judge each edge; need `repositories` joined."""
    conditions: list[ColumnElement[bool]] = []
    if filters.min_stars:
        conditions.append(Dependency.stars >= filters.min_stars)
    if filters.language:
        conditions.append(func.lower(Repository.primary_language) == filters.language.lower())
    if filters.pushed_after is not None:
        conditions.append(Repository.pushed_at > filters.pushed_after)
    if not filters.include_forks:
        conditions.append(Repository.is_fork.is_(False))
    if not filters.include_archived:
        conditions.append(Repository.is_archived.is_(False))
    types = filters.dependency_types()
    if types is not None:
        conditions.append(Dependency.dependency_type.in_(sorted(types)))
    if filters.direct_only:
        conditions.append(Dependency.is_direct.is_(True))
    return conditions


def owner_conditions(
    filters: DependentFilters, excluded_logins: Collection[str]
) -> list[ColumnElement[bool]]:
    """The filters that judge the owner; need `organizations` joined."""
    conditions: list[ColumnElement[bool]] = [Organization.deleted_at.is_(None)]
    if filters.kind is not None:
        conditions.append(Organization.kind == filters.kind.value)
    if excluded_logins:
        conditions.append(Organization.login_key.not_in(sorted(excluded_logins)))
    return conditions


def edge_conditions(
    package_id: int, filters: DependentFilters, excluded_logins: Collection[str]
) -> list[ColumnElement[bool]]:
    """The WHERE of a package's dependents; needs repositories and organizations joined."""
    return [
        Dependency.package_id == package_id,
        *repository_conditions(filters),
        *owner_conditions(filters, excluded_logins),
    ]


def edges(conditions: Sequence[ColumnElement[bool]], *columns: Any) -> Select[*tuple[Any, ...]]:
    return (
        select(*columns)
        .select_from(Dependency)
        .join(Repository, Repository.id == Dependency.repository_id)
        .join(Organization, Organization.id == Dependency.owner_id)
        .where(*conditions)
    )


def per_organization(conditions: Sequence[ColumnElement[bool]]) -> Subquery:
    """One row per owner: its matching repositories, their stars, last push, runtime use."""
    runtime = case((Dependency.dependency_type.not_in(NOT_RANKED_TYPES), 1), else_=0)
    return (
        edges(
            conditions,
            Dependency.owner_id.label("organization_id"),
            func.count().label("repositories"),
            cast(func.coalesce(func.sum(Dependency.stars), 0), BigInteger).label("stars"),
            func.max(Repository.pushed_at).label("last_pushed_at"),
            cast(func.max(runtime), Integer).label("runtime"),
        )
        .group_by(Dependency.owner_id)
        .subquery("per_organization")
    )


def ranked_organizations(per_owner: Subquery, scorer: Scorer) -> Subquery:
    recent = scorer.recent(per_owner.c.last_pushed_at).label("recent")
    aggregates = select(per_owner, recent).subquery("with_recent")
    a = aggregates.c
    inputs = ScoreInputs.joined_to_owner(
        repositories=a.repositories, stars=a.stars, recent=a.recent, runtime=a.runtime
    )
    return (
        select(
            a.organization_id,
            a.repositories,
            a.stars,
            a.last_pushed_at,
            a.runtime,
            a.recent,
            func.coalesce(a.last_pushed_at, epoch()).label("recent_key"),
            scorer.expression(inputs).label("score"),
            *ORGANIZATION_COLUMNS,
        )
        .join(Organization, Organization.id == a.organization_id)
        .subquery("ranked")
    )


def rollup_conditions(
    package_id: int, filters: DependentFilters, excluded_logins: Collection[str]
) -> list[ColumnElement[bool]]:
    """The ranked view's owners of a package; needs `organizations` joined."""
    return [
        DependentOwner.package_id == package_id,
        DependentOwner.repositories > 0,
        *owner_conditions(filters, excluded_logins),
    ]


def rollup_organizations(conditions: Sequence[ColumnElement[bool]]) -> Subquery:
    """`ranked_organizations`' labels, read from the precomputed rows.

    The ranked view holds only runtime-like dependency types, so `runtime` is 1.
    """
    d = DependentOwner
    return (
        select(
            d.owner_id.label("organization_id"),
            d.repositories,
            d.stars,
            d.last_pushed_at,
            literal(1, Integer).label("runtime"),
            d.recent,
            func.coalesce(d.last_pushed_at, epoch()).label("recent_key"),
            d.score,
            *ORGANIZATION_COLUMNS,
        )
        .select_from(d)
        .join(Organization, Organization.id == d.owner_id)
        .where(*conditions)
        .subquery("ranked")
    )


# Each sort's leading key: (column label in the ranked rows, descending, type).
_DEPENDENT_SORTS: dict[DependentSort, tuple[str, bool, KeyKind]] = {
    DependentSort.SCORE: ("score", True, float),
    DependentSort.STARS: ("stars", True, int),
    DependentSort.REPOSITORIES: ("repositories", True, int),
    DependentSort.NAME: ("login_key", False, str),
    DependentSort.RECENT: ("recent_key", True, datetime),
}


def dependents_sort_kinds(sort: DependentSort) -> list[KeyKind]:
    """The cursor's key types for `sort`, known before any statement is built."""
    return [_DEPENDENT_SORTS[sort][2], int]


def dependents_keyset(ranked: Subquery, sort: DependentSort) -> Keyset:
    """The sort key, then the owner id descending: ties go the way the indexes are read."""
    name, descending, kind = _DEPENDENT_SORTS[sort]
    return Keyset(
        (
            SortKey(name, ranked.c[name], descending=descending, kind=kind),
            SortKey("organization_id", ranked.c.organization_id, descending=True, kind=int),
        )
    )


def dependent_repositories(conditions: Sequence[ColumnElement[bool]]) -> Subquery:
    """The flat list's rows: each matching repository with its edge and owner."""
    return edges(
        conditions,
        *EDGE_COLUMNS,
        Organization.login.label("owner_login"),
        Organization.kind.label("owner_kind"),
        func.coalesce(Repository.pushed_at, epoch()).label("recent_key"),
    ).subquery("dependent_repositories")


def repositories_keyset(rows: Subquery, sort: RepositorySort) -> Keyset:
    """The sort key, then the repository id descending (`stars` reads its index backward)."""
    c = rows.c
    first = {
        RepositorySort.STARS: SortKey("stars", c.stars, descending=True, kind=int),
        RepositorySort.RECENT: SortKey("recent_key", c.recent_key, descending=True, kind=datetime),
        RepositorySort.NAME: SortKey("full_name_key", c.full_name_key, descending=False, kind=str),
    }[sort]
    return Keyset((first, SortKey("repository_id", c.repository_id, descending=True, kind=int)))


def _hosts() -> Select[str]:
    """The distinct code hosts of owners, one index probe each (a loose index scan)."""
    first = select(func.min(Organization.host).label("host")).cte("hosts", recursive=True)
    later = aliased(Organization)
    following = select(func.min(later.host)).where(later.host > first.c.host).scalar_subquery()
    hosts = first.union_all(select(following).where(first.c.host.is_not(None)))
    return select(hosts.c.host).where(hosts.c.host.is_not(None))


def _leading_bound(keyset: Keyset, cursor: Cursor) -> ColumnElement[bool]:
    """`keyset.after` implies this; alone it is a range an index scan can start from."""
    first = keyset.keys[0]
    value = cursor.keys[0]
    return first.column <= value if first.descending else first.column >= value


class PackageRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._base = BaseRepository(session, Package)

    async def find(self, ecosystem: Ecosystem, normalized_name: str) -> Package | None:
        return await self._base.one_or_none(
            select(Package).where(
                Package.ecosystem == ecosystem.value, Package.normalized_name == normalized_name
            )
        )

    async def names_like(self, ecosystem: Ecosystem, patterns: Sequence[str]) -> list[str]:
        """Candidate names for "did you mean": a bounded sample matching any pattern."""
        statement = (
            select(Package.normalized_name)
            .where(
                Package.ecosystem == ecosystem.value, like_any(Package.normalized_name, patterns)
            )
            .order_by(Package.normalized_name)
            .limit(500)
        )
        return list((await self.session.execute(statement)).scalars())

    async def touch_requested(self, package: Package, now: datetime) -> None:
        await self.session.execute(
            update(Package).where(Package.id == package.id).values(last_requested_at=now)
        )
        package.last_requested_at = now

    async def rows(self, statement: Select[*tuple[Any, ...]]) -> Sequence[RowMapping]:
        return (await self.session.execute(statement)).mappings().all()

    async def page(
        self, source: Subquery, keyset: Keyset, cursor: Cursor | None, limit: int
    ) -> Sequence[RowMapping]:
        statement = select(source)
        if cursor is not None:
            statement = statement.where(_leading_bound(keyset, cursor))
        return await self.rows(paged(statement, keyset, cursor, limit))

    async def dependents_totals(self, aggregates: Subquery) -> tuple[int, int]:
        """(organizations, repositories) of the grouped rows: counts the edges."""
        statement = select(
            func.count(), cast(func.coalesce(func.sum(aggregates.c.repositories), 0), BigInteger)
        )
        organizations, repositories = (await self.session.execute(statement)).one()
        return int(organizations), int(repositories)

    async def rollup_totals(self, conditions: Sequence[ColumnElement[bool]]) -> tuple[int, int]:
        """(organizations, repositories) of the rollup rows: one row per owner, no edges."""
        statement = (
            select(
                func.count(),
                cast(func.coalesce(func.sum(DependentOwner.repositories), 0), BigInteger),
            )
            .select_from(DependentOwner)
            .join(Organization, Organization.id == DependentOwner.owner_id)
            .where(*conditions)
        )
        organizations, repositories = (await self.session.execute(statement)).one()
        return int(organizations), int(repositories)

    async def ranked_counters(self, package_id: int) -> tuple[int, int]:
        """(organizations, repositories) of the ranked view, as maintained on the package.

        Read here rather than from a loaded `Package`, which may predate the last write.
        """
        statement = select(
            Package.ranked_organizations_count, Package.ranked_repositories_count
        ).where(Package.id == package_id)
        organizations, repositories = (await self.session.execute(statement)).one()
        return int(organizations), int(repositories)

    async def excluded_share(self, package_id: int, logins: Collection[str]) -> tuple[int, int]:
        """(organizations, repositories) that `logins` hold in the package's ranked view.

        Logins are matched on every code host, like the page's exclusion; each
        (host, login) is a probe of the unique index, each owner's row a primary-key read.
        """
        if not logins:
            return 0, 0
        return await self.rollup_totals(
            [
                DependentOwner.package_id == package_id,
                DependentOwner.repositories > 0,
                Organization.deleted_at.is_(None),
                Organization.host.in_(_hosts()),
                Organization.login_key.in_(sorted(logins)),
            ]
        )

    async def count(self, source: Subquery) -> int:
        return int(
            (await self.session.execute(select(func.count()).select_from(source))).scalar_one()
        )

    async def top_repositories(
        self,
        package_id: int,
        conditions: Sequence[ColumnElement[bool]],
        owner_ids: Sequence[int],
        per_owner: int,
    ) -> Sequence[RowMapping]:
        """The `per_owner` most starred matching edges of each owner, by owner.

        `conditions` judge edges only (`repository_conditions`): the owners are chosen.
        """
        if not owner_ids or per_owner == 0:
            return []
        if self._base.dialect == "postgresql":
            return await self.rows(
                _top_per_owner_lateral(package_id, conditions, owner_ids, per_owner)
            )
        return await self.rows(_top_per_owner_window(package_id, conditions, owner_ids, per_owner))

    async def usage(self, package_id: int) -> RowMapping:
        """When the package's edges were first and last seen (reads every edge)."""
        statement = _live_owner_edges(
            package_id,
            func.min(Dependency.first_seen_at).label("first_seen_at"),
            func.max(Dependency.last_seen_at).label("last_seen_at"),
        )
        return (await self.rows(statement))[0]

    async def usage_by_type(self, package_id: int) -> dict[str, int]:
        """Edges per dependency type (reads every edge)."""
        statement = _live_owner_edges(
            package_id, Dependency.dependency_type, func.count().label("repositories")
        ).group_by(Dependency.dependency_type)
        return {row.dependency_type: int(row.repositories) for row in await self.rows(statement)}


def _live_owner_edges(package_id: int, *columns: Any) -> Select[*tuple[Any, ...]]:
    """Every edge of the package whose owner is not deleted (no repository join needed)."""
    return (
        select(*columns)
        .select_from(Dependency)
        .join(Organization, Organization.id == Dependency.owner_id)
        .where(Dependency.package_id == package_id, Organization.deleted_at.is_(None))
    )


_NESTED_ORDER = (Dependency.stars.desc(), Dependency.repository_id.desc())


def _nested_edges(
    package_id: int, conditions: Sequence[ColumnElement[bool]], *extra: Any
) -> Select[*tuple[Any, ...]]:
    return (
        select(*EDGE_COLUMNS, *extra)
        .select_from(Dependency)
        .join(Repository, Repository.id == Dependency.repository_id)
        .where(Dependency.package_id == package_id, *conditions)
    )


def _top_per_owner_lateral(
    package_id: int,
    conditions: Sequence[ColumnElement[bool]],
    owner_ids: Sequence[int],
    per_owner: int,
) -> Select[*tuple[Any, ...]]:
    """PostgreSQL: per owner, a backward scan of `(package_id, owner_id, stars,
    repository_id)` that stops after `per_owner` matches, however many edges the owner has."""
    # unnest() of one array parameter, not VALUES: a VALUES list is literal SQL, so the
    # statement would be compiled anew for every page (milliseconds each).
    ids = bindparam("page_owner_ids", list(owner_ids), type_=postgresql.ARRAY(BigInteger))
    owners = func.unnest(ids).table_valued("owner_id").render_derived(name="page_owners")
    top = (
        _nested_edges(package_id, [*conditions, Dependency.owner_id == owners.c.owner_id])
        .order_by(*_NESTED_ORDER)
        .limit(per_owner)
        .lateral("top")
    )
    return (
        select(top)
        .select_from(owners)
        .join(top, true())
        .order_by(top.c.owner_id, top.c.stars.desc(), top.c.repository_id.desc())
    )


def _top_per_owner_window(
    package_id: int,
    conditions: Sequence[ColumnElement[bool]],
    owner_ids: Sequence[int],
    per_owner: int,
) -> Select[*tuple[Any, ...]]:
    """SQLite (no LATERAL): number each owner's matching edges and keep the first ones."""
    position = func.row_number().over(partition_by=Dependency.owner_id, order_by=_NESTED_ORDER)
    numbered = _nested_edges(
        package_id,
        [*conditions, Dependency.owner_id.in_(owner_ids)],
        position.label("position"),
    ).subquery("numbered")
    return (
        select(numbered)
        .where(numbered.c.position <= per_owner)
        .order_by(numbered.c.owner_id, numbered.c.position)
    )


def package_listing(
    ecosystem: Ecosystem | None, conditions: Sequence[ColumnElement[bool]]
) -> Subquery:
    """Packages with the columns a list shows, their dependent counters included."""
    statement = select(
        *PACKAGE_COLUMNS, *PACKAGE_COUNTERS, func.lower(Package.name).label("name_key")
    )
    if ecosystem is not None:
        statement = statement.where(Package.ecosystem == ecosystem.value)
    return statement.where(*conditions).subquery("listing")


def package_keyset(listing: Subquery, sort: PackageSort) -> Keyset:
    c = listing.c
    if sort is PackageSort.DEPENDENTS:
        # Both descending: a backward scan of `(dependent_repositories_count, id)`.
        return Keyset(
            (
                SortKey(
                    "dependent_repositories_count",
                    c.dependent_repositories_count,
                    descending=True,
                    kind=int,
                ),
                SortKey("id", c.id, descending=True, kind=int),
            )
        )
    return Keyset(
        (
            SortKey("name_key", c.name_key, descending=False, kind=str),
            SortKey("ecosystem", c.ecosystem, descending=False, kind=str),
            SortKey("id", c.id, descending=False, kind=int),
        )
    )
