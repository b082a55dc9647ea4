"""Owners of repositories: the list, a profile with its signals, and what it depends on."""

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from wump.core.cache import Cache
from wump.core.config import Settings
from wump.core.errors import NotFound
from wump.core.http_cache import Compute, cached_json, generation_key
from wump.core.pagination import Page, PageParams, page_cursor, query_scope, split_page
from wump.ingest.identity import Ecosystem
from wump.models import Organization, OwnerKind
from wump.organizations import repository as statements
from wump.organizations.repository import OrganizationRepository
from wump.organizations.schemas import (
    DependencySort,
    OrganizationDependency,
    OrganizationDetail,
    OrganizationListItem,
    OrganizationSort,
    OwnedRepository,
    SponsorshipSignals,
)
from wump.packages import service as package_service


async def resolve(session: AsyncSession, login: str, *, host: str) -> Organization:
    organization = await OrganizationRepository(session).find(host, login)
    if organization is None:
        raise NotFound(f"No owner {login!r} on {host} is known to wump.")
    return organization


async def list_organizations(
    session: AsyncSession, *, kind: OwnerKind | None, sort: OrganizationSort, page: PageParams
) -> Page[OrganizationListItem]:
    repository = OrganizationRepository(session)
    listing = statements.organization_listing(statements.kind_condition(kind), sort)
    keyset = statements.organization_keyset(listing, sort)
    scope = query_scope("organizations", kind, sort)
    cursor = page_cursor(page, scope=scope, kinds=keyset.kinds)
    total = await repository.count(listing)
    rows = await repository.page(listing, keyset, cursor, page.limit)
    items, next_cursor = split_page(rows, limit=page.limit, keyset=keyset, scope=scope)
    return Page[OrganizationListItem](
        items=await list_items(repository, items),
        total=total,
        limit=page.limit,
        next_cursor=next_cursor,
    )


async def list_items(
    repository: OrganizationRepository, rows: Sequence[Mapping[Any, Any]]
) -> list[OrganizationListItem]:
    """Owner rows with their dependency counts (fetched for these rows only)."""
    counts = await repository.dependencies_counts([row["id"] for row in rows])
    return [
        OrganizationListItem(
            **package_service.organization_summary(row).model_dump(),
            total_stars=row["total_stars"],
            total_repositories=row["total_repositories"],
            dependencies_count=counts.get(row["id"], 0),
        )
        for row in rows
    ]


async def detail(session: AsyncSession, organization: Organization) -> OrganizationDetail:
    repository = OrganizationRepository(session)
    dependencies = await repository.dependencies_counts([organization.id])
    return OrganizationDetail(
        login=organization.login,
        host=organization.host,
        kind=organization.kind,
        name=organization.name,
        description=organization.description,
        company=organization.company,
        website_url=organization.website_url,
        email=organization.email,
        location=organization.location,
        github_url=organization.github_url,
        is_verified=organization.is_verified,
        followers=organization.followers,
        public_repos=organization.public_repos,
        sponsorship=SponsorshipSignals(
            sponsorship_url=organization.sponsorship_url,
            has_sponsors_listing=organization.has_sponsors_listing,
            sponsors_others_count=organization.sponsors_others_count,
        ),
        total_stars=organization.total_stars,
        total_repositories=organization.total_repositories,
        known_repositories=await repository.known_repositories(organization.id),
        dependencies_count=dependencies.get(organization.id, 0),
        enriched_at=organization.enriched_at,
        repositories=[
            OwnedRepository.model_validate(dict(row))
            for row in await repository.top_repositories(organization.id)
        ],
    )


async def dependencies(
    session: AsyncSession,
    organization: Organization,
    *,
    ecosystem: Ecosystem | None,
    sort: DependencySort,
    page: PageParams,
) -> Page[OrganizationDependency]:
    """The packages the owner's repositories depend on: the donor's view of the graph."""
    repository = OrganizationRepository(session)
    listing = statements.dependency_listing(organization.id, ecosystem)
    keyset = statements.dependency_keyset(listing, sort)
    scope = query_scope("organization-dependencies", organization.id, ecosystem, sort)
    cursor = page_cursor(page, scope=scope, kinds=keyset.kinds)
    total = await repository.count(listing)
    rows = await repository.page(listing, keyset, cursor, page.limit)
    items, next_cursor = split_page(rows, limit=page.limit, keyset=keyset, scope=scope)
    package_ids = [row["id"] for row in items]
    types = await repository.dependency_types(organization.id, package_ids)
    first_seen = await repository.first_seen(organization.id, package_ids)
    return Page[OrganizationDependency](
        items=[
            OrganizationDependency(
                package=package_service.summary(row),
                repositories_count=row["repositories_count"],
                dependency_types=types.get(row["id"], []),
                first_seen_at=first_seen[row["id"]],
            )
            for row in items
        ],
        total=total,
        limit=page.limit,
        next_cursor=next_cursor,
    )


async def cached(
    cache: Cache,
    settings: Settings,
    organization: Organization,
    fingerprint: str,
    compute: Compute,
) -> bytes:
    """An owner-scoped body; ingestion invalidates it by bumping the owner's generation."""
    key = await generation_key(cache, "organization", organization.id, fingerprint)
    return await cached_json(cache, key, settings.response_cache.organization_ttl_seconds, compute)
