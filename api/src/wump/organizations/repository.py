"""Statements for owners: the organization list, profiles and the donor's view of the graph."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, RowMapping, Select, Subquery, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from wump.core.pagination import Cursor, KeyKind, Keyset, SortKey, paged
from wump.core.repository import Repository as BaseRepository
from wump.ingest.identity import Ecosystem
from wump.models import (
    Dependency,
    DependentOwner,
    Organization,
    OwnerKind,
    Package,
    Repository,
)
from wump.organizations.schemas import DependencySort, OrganizationSort
from wump.packages.repository import PACKAGE_COLUMNS

SUMMARY_COLUMNS = (
    Organization.id,
    Organization.login,
    Organization.login_key,
    Organization.name,
    Organization.kind,
    Organization.github_url,
    Organization.website_url,
    Organization.sponsorship_url,
    Organization.is_verified,
    Organization.company,
    Organization.total_stars,
    Organization.total_repositories,
)
DETAIL_REPOSITORIES = 100


def packages_used() -> Subquery:
    """Distinct packages per owner: its rows in the rollup (reads every row, not edges)."""
    return (
        select(DependentOwner.owner_id, func.count().label("dependencies"))
        .group_by(DependentOwner.owner_id)
        .subquery("packages_used")
    )


def organization_listing(
    conditions: Sequence[ColumnElement[bool]], sort: OrganizationSort
) -> Subquery:
    statement = select(*SUMMARY_COLUMNS).where(Organization.deleted_at.is_(None), *conditions)
    if sort is OrganizationSort.DEPENDENCIES:
        used = packages_used()
        statement = statement.add_columns(
            func.coalesce(used.c.dependencies, 0).label("dependencies")
        ).outerjoin(used, used.c.owner_id == Organization.id)
    return statement.subquery("organizations")


_ORGANIZATION_SORTS: dict[OrganizationSort, tuple[str, bool, KeyKind]] = {
    OrganizationSort.TOTAL_STARS: ("total_stars", True, int),
    OrganizationSort.DEPENDENCIES: ("dependencies", True, int),
    OrganizationSort.NAME: ("login_key", False, str),
}


def organization_keyset(listing: Subquery, sort: OrganizationSort) -> Keyset:
    name, descending, kind = _ORGANIZATION_SORTS[sort]
    return Keyset(
        (SortKey(name, listing.c[name], descending, kind), SortKey("id", listing.c.id, False, int))
    )


def dependency_listing(owner_id: int, ecosystem: Ecosystem | None) -> Subquery:
    """The packages an owner's repositories depend on, with how many of them do.

    One rollup row per package (`edges` counts the owner's repositories, any type).
    """
    statement = (
        select(
            *PACKAGE_COLUMNS,
            func.lower(Package.name).label("name_key"),
            DependentOwner.edges.label("repositories_count"),
        )
        .select_from(DependentOwner)
        .join(Package, Package.id == DependentOwner.package_id)
        .where(DependentOwner.owner_id == owner_id)
    )
    if ecosystem is not None:
        statement = statement.where(Package.ecosystem == ecosystem.value)
    return statement.subquery("dependencies")


def dependency_keyset(listing: Subquery, sort: DependencySort) -> Keyset:
    c = listing.c
    tie = SortKey("id", c.id, False, int)
    if sort is DependencySort.REPOSITORIES:
        return Keyset((SortKey("repositories_count", c.repositories_count, True, int), tie))
    return Keyset(
        (
            SortKey("name_key", c.name_key, False, str),
            SortKey("ecosystem", c.ecosystem, False, str),
            tie,
        )
    )


class OrganizationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._base = BaseRepository(session, Organization)

    async def find(self, host: str, login: str) -> Organization | None:
        return await self._base.one_or_none(
            select(Organization).where(
                Organization.host == host.lower(),
                Organization.login_key == login.lower(),
                Organization.deleted_at.is_(None),
            )
        )

    async def rows(self, statement: Select[*tuple[Any, ...]]) -> Sequence[RowMapping]:
        return (await self.session.execute(statement)).mappings().all()

    async def page(
        self, source: Subquery, keyset: Keyset, cursor: Cursor | None, limit: int
    ) -> Sequence[RowMapping]:
        return await self.rows(paged(select(source), keyset, cursor, limit))

    async def count(self, source: Subquery) -> int:
        statement = select(func.count()).select_from(source)
        return int((await self.session.execute(statement)).scalar_one())

    async def dependencies_counts(self, owner_ids: Sequence[int]) -> dict[int, int]:
        """Distinct packages of each owner: its rollup rows, read by the `owner_id` index."""
        if not owner_ids:
            return {}
        statement = (
            select(DependentOwner.owner_id, func.count())
            .where(DependentOwner.owner_id.in_(owner_ids))
            .group_by(DependentOwner.owner_id)
        )
        return {owner: int(count) for owner, count in await self.session.execute(statement)}

    async def first_seen(self, owner_id: int, package_ids: Sequence[int]) -> dict[int, datetime]:
        """When the owner's first edge to each package was seen (the page's packages only)."""
        if not package_ids:
            return {}
        statement = (
            select(Dependency.package_id, func.min(Dependency.first_seen_at))
            .where(Dependency.package_id.in_(package_ids), Dependency.owner_id == owner_id)
            .group_by(Dependency.package_id)
        )
        return {row[0]: row[1] for row in await self.session.execute(statement)}

    async def known_repositories(self, owner_id: int) -> int:
        statement = select(func.count()).where(Repository.owner_id == owner_id)
        return int((await self.session.execute(statement)).scalar_one())

    async def top_repositories(self, owner_id: int) -> Sequence[RowMapping]:
        statement = (
            select(
                Repository.full_name,
                Repository.html_url,
                Repository.description,
                Repository.stars,
                Repository.primary_language,
                Repository.is_archived,
                Repository.is_fork,
                Repository.pushed_at,
            )
            .where(Repository.owner_id == owner_id)
            .order_by(Repository.stars.desc(), Repository.full_name_key, Repository.id)
            .limit(DETAIL_REPOSITORIES)
        )
        return await self.rows(statement)

    async def dependency_types(
        self, owner_id: int, package_ids: Sequence[int]
    ) -> dict[int, list[str]]:
        if not package_ids:
            return {}
        statement = (
            select(Dependency.package_id, Dependency.dependency_type)
            .where(Dependency.package_id.in_(package_ids), Dependency.owner_id == owner_id)
            .distinct()
            .order_by(Dependency.package_id, Dependency.dependency_type)
        )
        types: dict[int, list[str]] = {}
        for package_id, dependency_type in await self.session.execute(statement):
            types.setdefault(package_id, []).append(dependency_type)
        return types


def kind_condition(kind: OwnerKind | None) -> list[ColumnElement[bool]]:
    return [] if kind is None else [Organization.kind == kind.value]
