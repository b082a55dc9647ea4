"""Statements for the package graph. Hot reads are Core selects returning plain rows.

Every query starts from the edges of one package (`dependencies` joined to
`repositories` and `organizations`) narrowed by `DependentFilters`. A later
performance pass may swap these for summary tables; the service and routers
only see rows with the labels used here.
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
    case,
    cast,
    distinct,
    func,
    literal,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from wump.core.pagination import Cursor, KeyKind, Keyset, SortKey, paged
from wump.core.repository import Repository as BaseRepository
from wump.ingest.identity import Ecosystem
from wump.models import Dependency, DependencyType, Organization, Package, Repository
from wump.models.base import UTCDateTime
from wump.packages.schemas import DependentFilters, DependentSort, PackageSort, RepositorySort
from wump.packages.scoring import ScoreInputs, Scorer
from wump.search.matching import like_any

# Sorts "never pushed" last among descending dates without NULL handling per database.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NOT_RUNTIME = (DependencyType.DEVELOPMENT.value, DependencyType.TEST.value)

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
    Repository.id.label("repository_id"),
    Repository.owner_id,
    Repository.full_name,
    Repository.full_name_key,
    Repository.html_url,
    Repository.stars,
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


def edge_conditions(
    package_id: int, filters: DependentFilters, excluded_logins: Collection[str]
) -> list[ColumnElement[bool]]:
    """The WHERE of a package's dependents; needs repositories and organizations joined."""
    conditions: list[ColumnElement[bool]] = [
        Dependency.package_id == package_id,
        Organization.deleted_at.is_(None),
    ]
    if filters.min_stars:
        conditions.append(Repository.stars >= filters.min_stars)
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
    if filters.kind is not None:
        conditions.append(Organization.kind == filters.kind.value)
    if excluded_logins:
        conditions.append(Organization.login_key.not_in(sorted(excluded_logins)))
    return conditions


def edges(conditions: Sequence[ColumnElement[bool]], *columns: Any) -> Select[*tuple[Any, ...]]:
    return (
        select(*columns)
        .select_from(Dependency)
        .join(Repository, Repository.id == Dependency.repository_id)
        .join(Organization, Organization.id == Repository.owner_id)
        .where(*conditions)
    )


def per_organization(conditions: Sequence[ColumnElement[bool]]) -> Subquery:
    """One row per owner: its matching repositories, their stars, last push, runtime use."""
    runtime = case((Dependency.dependency_type.not_in(_NOT_RUNTIME), 1), else_=0)
    return (
        edges(
            conditions,
            Repository.owner_id.label("organization_id"),
            func.count().label("repositories"),
            cast(func.coalesce(func.sum(Repository.stars), 0), BigInteger).label("stars"),
            func.max(Repository.pushed_at).label("last_pushed_at"),
            cast(func.max(runtime), Integer).label("runtime"),
        )
        .group_by(Repository.owner_id)
        .subquery("per_organization")
    )


def ranked_organizations(aggregates: Subquery, scorer: Scorer) -> Subquery:
    a = aggregates.c
    inputs = ScoreInputs(
        repositories=a.repositories,
        stars=a.stars,
        last_pushed_at=a.last_pushed_at,
        runtime=a.runtime,
        kind=Organization.kind,
        is_verified=Organization.is_verified,
        company=Organization.company,
        website_url=Organization.website_url,
        has_sponsors_listing=Organization.has_sponsors_listing,
        sponsors_others_count=Organization.sponsors_others_count,
    )
    return (
        select(
            a.organization_id,
            a.repositories,
            a.stars,
            a.last_pushed_at,
            a.runtime,
            func.coalesce(a.last_pushed_at, epoch()).label("recent_key"),
            scorer.expression(inputs).label("score"),
            *ORGANIZATION_COLUMNS,
        )
        .join(Organization, Organization.id == a.organization_id)
        .subquery("ranked")
    )


# Each sort's leading key: (column label in `ranked_organizations`, descending, type).
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
    name, descending, kind = _DEPENDENT_SORTS[sort]
    return Keyset(
        (
            SortKey(name, ranked.c[name], descending=descending, kind=kind),
            SortKey("organization_id", ranked.c.organization_id, descending=False, kind=int),
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
    c = rows.c
    first = {
        RepositorySort.STARS: SortKey("stars", c.stars, descending=True, kind=int),
        RepositorySort.RECENT: SortKey("recent_key", c.recent_key, descending=True, kind=datetime),
        RepositorySort.NAME: SortKey("full_name_key", c.full_name_key, descending=False, kind=str),
    }[sort]
    return Keyset((first, SortKey("repository_id", c.repository_id, descending=False, kind=int)))


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
        return await self.rows(paged(select(source), keyset, cursor, limit))

    async def dependents_totals(self, aggregates: Subquery) -> tuple[int, int]:
        statement = select(
            func.count(), cast(func.coalesce(func.sum(aggregates.c.repositories), 0), BigInteger)
        )
        organizations, repositories = (await self.session.execute(statement)).one()
        return int(organizations), int(repositories)

    async def count(self, source: Subquery) -> int:
        return int(
            (await self.session.execute(select(func.count()).select_from(source))).scalar_one()
        )

    async def top_repositories(
        self, conditions: Sequence[ColumnElement[bool]], owner_ids: Sequence[int], per_owner: int
    ) -> Sequence[RowMapping]:
        """The `per_owner` most starred matching repositories of each owner."""
        if not owner_ids or per_owner == 0:
            return []
        position = func.row_number().over(
            partition_by=Repository.owner_id,
            order_by=(Repository.stars.desc(), Repository.full_name_key, Repository.id),
        )
        numbered = edges(
            [*conditions, Repository.owner_id.in_(owner_ids)],
            *EDGE_COLUMNS,
            position.label("position"),
        ).subquery("numbered")
        statement = (
            select(numbered)
            .where(numbered.c.position <= per_owner)
            .order_by(numbered.c.owner_id, numbered.c.position)
        )
        return await self.rows(statement)

    async def usage(self, package_id: int) -> RowMapping:
        """Unfiltered totals of a package's edges."""
        statement = edges(
            [Dependency.package_id == package_id, Organization.deleted_at.is_(None)],
            func.count().label("repositories"),
            func.count(distinct(Repository.owner_id)).label("organizations"),
            func.min(Dependency.first_seen_at).label("first_seen_at"),
            func.max(Dependency.last_seen_at).label("last_seen_at"),
        )
        return (await self.rows(statement))[0]

    async def usage_by_type(self, package_id: int) -> dict[str, int]:
        statement = edges(
            [Dependency.package_id == package_id, Organization.deleted_at.is_(None)],
            Dependency.dependency_type,
            func.count().label("repositories"),
        ).group_by(Dependency.dependency_type)
        return {row.dependency_type: int(row.repositories) for row in await self.rows(statement)}

    async def counts_for(self, package_ids: Sequence[int]) -> dict[int, tuple[int, int]]:
        """(dependent repositories, dependent organizations) of each package."""
        if not package_ids:
            return {}
        statement = edges(
            [Dependency.package_id.in_(package_ids), Organization.deleted_at.is_(None)],
            Dependency.package_id,
            func.count().label("repositories"),
            func.count(distinct(Repository.owner_id)).label("organizations"),
        ).group_by(Dependency.package_id)
        return {
            row.package_id: (int(row.repositories), int(row.organizations))
            for row in await self.rows(statement)
        }


def package_listing(
    ecosystem: Ecosystem | None, conditions: Sequence[ColumnElement[bool]], sort: PackageSort
) -> Subquery:
    """Packages with the columns a list shows; with dependents counted when sorting by them."""
    statement = select(*PACKAGE_COLUMNS, func.lower(Package.name).label("name_key"))
    if ecosystem is not None:
        statement = statement.where(Package.ecosystem == ecosystem.value)
    statement = statement.where(*conditions)
    if sort is PackageSort.DEPENDENTS:
        counts = (
            select(Dependency.package_id, func.count().label("dependents"))
            .group_by(Dependency.package_id)
            .subquery("counts")
        )
        statement = statement.add_columns(
            func.coalesce(counts.c.dependents, 0).label("dependents")
        ).outerjoin(counts, counts.c.package_id == Package.id)
    return statement.subquery("listing")


def package_keyset(listing: Subquery, sort: PackageSort) -> Keyset:
    c = listing.c
    tie = SortKey("id", c.id, descending=False, kind=int)
    if sort is PackageSort.DEPENDENTS:
        return Keyset((SortKey("dependents", c.dependents, descending=True, kind=int), tie))
    return Keyset(
        (
            SortKey("name_key", c.name_key, descending=False, kind=str),
            SortKey("ecosystem", c.ecosystem, descending=False, kind=str),
            tie,
        )
    )
