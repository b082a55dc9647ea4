"""`/organizations`: the owners behind dependent repositories, and the donor's view."""

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from wump.core.csv_export import FormatDep, ResponseFormat, export_pages
from wump.core.deps import CacheDep, ResourcesDep, SessionDep
from wump.core.http_cache import cached_get_responses, json_response
from wump.core.pagination import FilterText, Page, PageDep, PageParams, query_scope
from wump.models import OwnerKind
from wump.organizations import export as columns
from wump.organizations import service
from wump.organizations.schemas import (
    DependencySort,
    OrganizationDependency,
    OrganizationDetail,
    OrganizationListItem,
    OrganizationSort,
)
from wump.packages import service as package_service

router = APIRouter(prefix="/organizations", tags=["organizations"])

LoginPath = Annotated[
    str,
    Path(
        description="The owner's login on the code host, in any letter case.",
        examples=["stripe"],
        max_length=255,
    ),
]
HostQuery = Annotated[
    FilterText,
    Query(max_length=64, description="The code host the login belongs to."),
]

_DEPENDENCIES_CSV = (
    "ecosystem,name,purl,repositories_count,dependency_types,first_seen_at\r\n"
    "pypi,httpx,pkg:pypi/httpx,7,runtime test,2026-02-01T10:00:00+00:00\r\n"
)


@router.get(
    "",
    response_model=Page[OrganizationListItem],
    summary="List organizations",
    responses=cached_get_responses(400, 422, csv_example=columns.CSV_EXAMPLE),
)
async def list_organizations(
    request: Request,
    session: SessionDep,
    cache: CacheDep,
    resources: ResourcesDep,
    page: PageDep,
    response_format: FormatDep,
    kind: Annotated[
        OwnerKind | None, Query(description="Only organizations, or only users.")
    ] = None,
    sort: Annotated[
        OrganizationSort,
        Query(
            description="`total_stars`: most starred owners first (stars as last read from "
            "the code host). `dependencies`: owners whose repositories use the most distinct "
            "packages first. `name`: login A to Z."
        ),
    ] = OrganizationSort.TOTAL_STARS,
) -> Response:
    """The owners wump knows, with their stars, repositories and how many distinct
    packages their repositories use. Paginated with `cursor`; answers CSV too
    (`Accept: text/csv` or `format=csv`)."""
    settings = resources.settings

    async def compute(session: AsyncSession, params: PageParams) -> Page[OrganizationListItem]:
        return await service.list_organizations(session, kind=kind, sort=sort, page=params)

    if response_format is ResponseFormat.CSV:
        return await export_pages(
            session,
            resources.sessionmaker,
            compute,
            columns.organization_row,
            cursor=page.cursor,
            filename="organizations",
            header=columns.ORGANIZATIONS_HEADER,
            max_rows=settings.response_cache.csv_max_rows,
        )
    fingerprint = query_scope("organizations", kind, sort, page.limit, page.cursor)
    body = await package_service.cached_catalog(
        cache, settings, fingerprint, lambda: compute(session, page)
    )
    return json_response(request, body, max_age=settings.response_cache.http_max_age_seconds)


@router.get(
    "/{login}",
    response_model=OrganizationDetail,
    summary="An organization's profile, sponsorship signals and repositories",
    responses=cached_get_responses(404, 422),
)
async def get_organization(
    request: Request,
    session: SessionDep,
    cache: CacheDep,
    resources: ResourcesDep,
    login: LoginPath,
    host: HostQuery = "github.com",
) -> Response:
    """An owner's profile (name, company, website, public contact, location), its
    sponsorship signals (a Sponsors listing, how many others it sponsors; `null` when not
    known yet), its totals, and its 100 most starred repositories known to wump with their
    language and fork/archived flags. Logins are matched case-insensitively."""
    organization = await service.resolve(session, login, host=host)
    settings = resources.settings
    body = await service.cached(
        cache, settings, organization, "detail", lambda: service.detail(session, organization)
    )
    return json_response(request, body, max_age=settings.response_cache.http_max_age_seconds)


@router.get(
    "/{login}/dependencies",
    response_model=Page[OrganizationDependency],
    summary="The packages an organization depends on",
    responses=cached_get_responses(400, 404, 422, csv_example=_DEPENDENCIES_CSV),
)
async def list_organization_dependencies(
    request: Request,
    session: SessionDep,
    cache: CacheDep,
    resources: ResourcesDep,
    login: LoginPath,
    page: PageDep,
    response_format: FormatDep,
    host: HostQuery = "github.com",
    ecosystem: Annotated[
        str | None,
        Query(max_length=32, description="Only this ecosystem (a purl type or an alias)."),
    ] = None,
    sort: Annotated[
        DependencySort,
        Query(
            description="`repositories`: packages most of the owner's repositories use "
            "first. `name`: A to Z."
        ),
    ] = DependencySort.REPOSITORIES,
) -> Response:
    """The donor's view of the graph: every package the owner's known repositories depend
    on, with how many of its repositories use it and in which ways (runtime, development,
    ...). Useful to see which projects an organization relies on most. Paginated with
    `cursor`; answers CSV too."""
    organization = await service.resolve(session, login, host=host)
    eco = None if ecosystem is None else package_service.ecosystem_or_404(ecosystem)
    settings = resources.settings

    async def compute(session: AsyncSession, params: PageParams) -> Page[OrganizationDependency]:
        return await service.dependencies(
            session, organization, ecosystem=eco, sort=sort, page=params
        )

    if response_format is ResponseFormat.CSV:
        return await export_pages(
            session,
            resources.sessionmaker,
            compute,
            columns.dependency_row,
            cursor=page.cursor,
            filename=f"{organization.login}-dependencies",
            header=columns.DEPENDENCIES_HEADER,
            max_rows=settings.response_cache.csv_max_rows,
        )
    fingerprint = query_scope("dependencies", eco, sort, page.limit, page.cursor)
    body = await service.cached(
        cache, settings, organization, fingerprint, lambda: compute(session, page)
    )
    return json_response(request, body, max_age=settings.response_cache.http_max_age_seconds)
