"""`/search`: find packages and organizations by name."""

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import AfterValidator, StringConstraints
from sqlalchemy.ext.asyncio import AsyncSession

from wump.core.csv_export import FormatDep, ResponseFormat, export_pages
from wump.core.deps import CacheDep, ResourcesDep, SessionDep
from wump.core.http_cache import cached_get_responses, json_response
from wump.core.pagination import (
    Page,
    PageDep,
    PageParams,
    query_scope,
    reject_control_characters,
)
from wump.organizations import export as organization_columns
from wump.organizations.schemas import OrganizationListItem
from wump.packages import examples as package_examples
from wump.packages import export as package_columns
from wump.packages import service as package_service
from wump.packages.schemas import PackageListItem
from wump.search import service

router = APIRouter(prefix="/search", tags=["search"])

SearchText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(reject_control_characters),
]
QueryParam = Annotated[
    SearchText,
    Query(
        description="What to look for, case-insensitively. Exact matches come first, then "
        "names that start with it, then names that contain it. `-`, `_` and `.` are "
        "interchangeable, so `flask_sqlalchemy` finds `Flask-SQLAlchemy`.",
        examples=["flask"],
    ),
]


@router.get(
    "/packages",
    response_model=Page[PackageListItem],
    summary="Search packages",
    responses=cached_get_responses(400, 404, 422, csv_example=package_examples.PACKAGES_CSV),
)
async def search_packages(
    request: Request,
    session: SessionDep,
    cache: CacheDep,
    resources: ResourcesDep,
    q: QueryParam,
    page: PageDep,
    response_format: FormatDep,
    ecosystem: Annotated[
        str | None,
        Query(
            max_length=32,
            description="Only this ecosystem (a purl type or an alias); unknown ones are a 404.",
        ),
    ] = None,
) -> Response:
    """Packages whose name matches `q`, best matches first, each with its dependent
    counts. Paginated with `cursor`; answers CSV too (`Accept: text/csv` or `format=csv`)."""
    eco = None if ecosystem is None else package_service.ecosystem_or_404(ecosystem)
    settings = resources.settings

    async def compute(session: AsyncSession, params: PageParams) -> Page[PackageListItem]:
        return await service.packages(session, q, ecosystem=eco, page=params)

    if response_format is ResponseFormat.CSV:
        return await export_pages(
            session,
            resources.sessionmaker,
            compute,
            package_columns.package_row,
            cursor=page.cursor,
            filename="package-search",
            header=package_columns.PACKAGES_HEADER,
            max_rows=settings.response_cache.csv_max_rows,
        )
    fingerprint = query_scope("search-packages", q.lower(), eco, page.limit, page.cursor)
    body = await package_service.cached_catalog(
        cache, settings, fingerprint, lambda: compute(session, page)
    )
    return json_response(request, body, max_age=settings.response_cache.http_max_age_seconds)


@router.get(
    "/organizations",
    response_model=Page[OrganizationListItem],
    summary="Search organizations",
    responses=cached_get_responses(400, 422, csv_example=organization_columns.CSV_EXAMPLE),
)
async def search_organizations(
    request: Request,
    session: SessionDep,
    cache: CacheDep,
    resources: ResourcesDep,
    q: QueryParam,
    page: PageDep,
    response_format: FormatDep,
) -> Response:
    """Organizations and users whose login or name matches `q`, best matches first (and,
    among equal matches, the most starred). Paginated with `cursor`; answers CSV too."""
    settings = resources.settings

    async def compute(session: AsyncSession, params: PageParams) -> Page[OrganizationListItem]:
        return await service.organizations(session, q, page=params)

    if response_format is ResponseFormat.CSV:
        return await export_pages(
            session,
            resources.sessionmaker,
            compute,
            organization_columns.organization_row,
            cursor=page.cursor,
            filename="organization-search",
            header=organization_columns.ORGANIZATIONS_HEADER,
            max_rows=settings.response_cache.csv_max_rows,
        )
    fingerprint = query_scope("search-organizations", q.lower(), page.limit, page.cursor)
    body = await package_service.cached_catalog(
        cache, settings, fingerprint, lambda: compute(session, page)
    )
    return json_response(request, body, max_age=settings.response_cache.http_max_age_seconds)
