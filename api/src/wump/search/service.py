"""Search over packages and organizations, paginated like every other list."""

from sqlalchemy.ext.asyncio import AsyncSession

from wump.core.pagination import Page, PageParams, page_cursor, query_scope, split_page
from wump.ingest.identity import Ecosystem
from wump.organizations import service as organization_service
from wump.organizations.repository import OrganizationRepository
from wump.organizations.schemas import OrganizationListItem
from wump.packages import service as package_service
from wump.packages.repository import PackageRepository
from wump.packages.schemas import PackageListItem
from wump.search import repository as statements


async def packages(
    session: AsyncSession, q: str, *, ecosystem: Ecosystem | None, page: PageParams
) -> Page[PackageListItem]:
    repository = PackageRepository(session)
    matches = statements.package_matches(q, ecosystem)
    keyset = statements.package_keyset(matches)
    scope = query_scope("search-packages", q.lower(), ecosystem)
    cursor = page_cursor(page, scope=scope, kinds=keyset.kinds)
    total = await repository.count(matches)
    rows = await repository.page(matches, keyset, cursor, page.limit)
    items, next_cursor = split_page(rows, limit=page.limit, keyset=keyset, scope=scope)
    return Page[PackageListItem](
        items=package_service.list_items(items),
        total=total,
        limit=page.limit,
        next_cursor=next_cursor,
    )


async def organizations(
    session: AsyncSession, q: str, *, page: PageParams
) -> Page[OrganizationListItem]:
    repository = OrganizationRepository(session)
    matches = statements.organization_matches(q)
    keyset = statements.organization_keyset(matches)
    scope = query_scope("search-organizations", q.lower())
    cursor = page_cursor(page, scope=scope, kinds=keyset.kinds)
    total = await repository.count(matches)
    rows = await repository.page(matches, keyset, cursor, page.limit)
    items, next_cursor = split_page(rows, limit=page.limit, keyset=keyset, scope=scope)
    return Page[OrganizationListItem](
        items=await organization_service.list_items(repository, items),
        total=total,
        limit=page.limit,
        next_cursor=next_cursor,
    )
