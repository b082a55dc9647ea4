"""`/packages`: who uses a package, rolled up into organizations and ranked for sponsorship.

Names may contain `/` and `@` (`@types/node`, `github.com/stretchr/testify`), so
the name is a `{name:path}` parameter, and the suffixed routes (`/dependents`,
`/users`, `/repositories`) are registered before the bare package route, which
would otherwise swallow the suffix into the name. The one ambiguous case, a
package whose name itself ends in `/users` (say), is reached through
`/packages/lookup?purl=...`, and the suffixed route's 404 says so.
"""

from dataclasses import replace
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from wump.core.csv_export import CsvRow, FormatDep, ResponseFormat, export, export_pages
from wump.core.deps import CacheDep, ResourcesDep, SessionDep
from wump.core.http_cache import cached_get_responses, json_response
from wump.core.pagination import MAX_LIMIT, FilterText, Page, PageDep, PageParams, query_scope
from wump.ingest.identity import Ecosystem
from wump.models import Package
from wump.packages import examples, service
from wump.packages import export as columns
from wump.packages.schemas import (
    DependentFilters,
    DependentRepositoryItem,
    DependentSort,
    DependentsPage,
    PackageDetail,
    PackageListItem,
    PackageSort,
    RepositorySort,
)

router = APIRouter(prefix="/packages", tags=["packages"])

EcosystemPath = Annotated[
    str,
    Path(
        description="The package's ecosystem, as a purl type: `pypi`, `npm`, `cargo`, `golang`, "
        "`gem`, `maven`, `nuget`, `composer` or `github`. The aliases `rubygems`, `go`, "
        "`crates` and `packagist` work too. Anything else is a 404 listing the supported ones.",
        examples=["pypi"],
        max_length=32,
    ),
]
NamePath = Annotated[
    str,
    Path(
        description="The package name; it may contain `/` and `@` (`@types/node`, "
        "`github.com/stretchr/testify`, `org.slf4j:slf4j-api`), raw or percent-encoded. "
        "It is matched the registry's way: `Flask_SQLAlchemy` finds `flask-sqlalchemy` on "
        "PyPI (PEP 503), NuGet and Composer ignore case, Cargo treats `-` and `_` alike, and "
        "Go module paths are case-sensitive. A package whose name ends in `/dependents`, "
        "`/users` or `/repositories` is reached with `/packages/lookup?purl=...`.",
        examples=["requests"],
        max_length=512,
    ),
]
FiltersDep = Annotated[DependentFilters, Query()]
DependentSortQuery = Annotated[
    DependentSort,
    Query(
        description="`score`: best sponsorship prospects first (see `score_factors`). "
        "`stars`: most stars across the dependent repositories. `repositories`: most "
        "dependent repositories. `name`: login A to Z. `recent`: most recently pushed."
    ),
]
PerOrganization = Annotated[
    int,
    Query(
        ge=0,
        le=100,
        description="How many of each organization's repositories to list, most starred "
        "first. The totals always count all of them.",
    ),
]


def _now() -> datetime:
    return datetime.now(UTC)


def _ecosystem_filter(value: str | None) -> Ecosystem | None:
    return None if value is None else service.ecosystem_or_404(value)


@router.get(
    "",
    response_model=Page[PackageListItem],
    summary="List packages",
    responses=cached_get_responses(400, 404, 422, csv_example=examples.PACKAGES_CSV),
)
async def list_packages(
    request: Request,
    session: SessionDep,
    cache: CacheDep,
    resources: ResourcesDep,
    page: PageDep,
    response_format: FormatDep,
    ecosystem: Annotated[
        str | None,
        Query(
            max_length=32,
            description="Only this ecosystem (a purl type or an alias); unknown ones are a 404.",
        ),
    ] = None,
    q: Annotated[
        FilterText | None,
        Query(max_length=200, description="Only names containing this text (case-insensitive)."),
    ] = None,
    sort: Annotated[
        PackageSort,
        Query(
            description="`dependents`: most dependent repositories first "
            "(`dependent_repositories_count`; ties: the most recently added package first). "
            "`name`: A to Z."
        ),
    ] = PackageSort.DEPENDENTS,
) -> Response:
    """The packages wump knows, each with how many repositories and organizations depend
    on it. Paginated with `cursor`; answers CSV too (`Accept: text/csv` or `format=csv`)."""
    eco = _ecosystem_filter(ecosystem)
    settings = resources.settings

    async def compute(session: AsyncSession, params: PageParams) -> Page[PackageListItem]:
        return await service.list_packages(session, ecosystem=eco, q=q, sort=sort, page=params)

    if response_format is ResponseFormat.CSV:
        return await export_pages(
            session,
            resources.sessionmaker,
            compute,
            columns.package_row,
            cursor=page.cursor,
            filename="packages",
            header=columns.PACKAGES_HEADER,
            max_rows=settings.response_cache.csv_max_rows,
        )
    fingerprint = query_scope("packages", eco, (q or "").lower(), sort, page.limit, page.cursor)
    body = await service.cached_catalog(
        cache, settings, fingerprint, lambda: compute(session, page)
    )
    return json_response(request, body, max_age=settings.response_cache.http_max_age_seconds)


@router.get(
    "/lookup",
    response_model=PackageDetail,
    summary="Resolve a package URL (purl)",
    responses=cached_get_responses(400, 404, 422),
)
async def lookup_package(
    request: Request,
    session: SessionDep,
    cache: CacheDep,
    resources: ResourcesDep,
    purl: Annotated[
        FilterText,
        Query(
            min_length=5,
            max_length=1024,
            description="A package URL; a version, qualifiers or subpath are ignored.",
            examples=["pkg:npm/%40types/node"],
        ),
    ],
) -> Response:
    """The package a [purl](https://github.com/package-url/purl-spec) names, with the same
    body as `GET /packages/{ecosystem}/{name}`. The name is matched the registry's way, so
    `pkg:pypi/Flask_SQLAlchemy` finds `flask-sqlalchemy`. An unknown package is a 404 that
    suggests close matches; a string that is not a purl is a 400."""
    package = await service.resolve_purl(session, purl)
    return await _detail_response(request, session, cache, resources, package)


@router.get(
    "/{ecosystem}/{name:path}/dependents",
    response_model=DependentsPage,
    summary="Organizations that depend on a package, ranked for sponsorship",
    responses=cached_get_responses(
        400, 404, 422, csv_example=examples.DEPENDENTS_CSV, example=examples.DEPENDENTS
    ),
)
async def list_dependents(
    request: Request,
    session: SessionDep,
    cache: CacheDep,
    resources: ResourcesDep,
    ecosystem: EcosystemPath,
    name: NamePath,
    filters: FiltersDep,
    page: PageDep,
    response_format: FormatDep,
    sort: DependentSortQuery = DependentSort.SCORE,
    repositories_per_organization: PerOrganization = 5,
) -> Response:
    """The organizations whose repositories depend on the package, best sponsorship
    prospects first, each with the repositories that are the evidence.

    **Ranking.** `score` (0 to 100) adds up the factors in `score_factors`: how many
    repositories depend on the package and their stars (both log-scaled), whether the
    owner is an organization, is verified, lists a company or website, pushed within
    90 days, uses the package at runtime rather than only in development or tests, and
    already sponsors others. The weights are configurable per deployment.

    **Filters** narrow the repositories that count; the totals and the score are
    computed over what remains. By default forks, archived repositories, `development`
    and `test` dependencies, and the package's own owner are left out.

    **Pages.** `limit` organizations per page; pass `next_cursor` back as `cursor`.
    `total_organizations` and `total_repositories` are exact for the filters. Ties in
    the sort key go to the most recently added owner first.

    **Speed.** With the default repository filters (only `kind`, `exclude_owner` and
    `include_package_owner` changed), pages are read from per-owner totals kept up to
    date at ingestion, so any page of any package is fast with `sort=score`, `stars` or
    `repositories` (`name` and `recent` sort the package's owners first). Other filters
    (`min_stars`, `language`, `pushed_after`, forks, archived, `dependency_type`,
    `direct_only`) are computed from the repositories at request time, which takes
    longer for packages with many dependents.

    **Export.** `Accept: text/csv` (or `format=csv`) streams every matching organization
    as one CSV row, ready for a spreadsheet or CRM. Cells are neutralized against
    formula injection.

    **Caching.** Responses carry an `ETag`; send it back in `If-None-Match` to get a
    `304 Not Modified`."""
    suffix = request.url.path.rsplit("/", 1)[-1]
    package = await service.resolve_before_suffix(session, ecosystem, name, suffix)
    await service.record_interest(session, package, now=_now())
    query = service.DependentsQuery(filters, sort, repositories_per_organization, page)
    return await _dependents_response(
        request, session, cache, resources, package, query, response_format
    )


@router.get(
    "/{ecosystem}/{name:path}/users",
    response_model=DependentsPage,
    summary="Who uses a package (alias of /dependents)",
    responses=cached_get_responses(400, 404, 422, csv_example=examples.DEPENDENTS_CSV),
)
async def list_users(
    request: Request,
    session: SessionDep,
    cache: CacheDep,
    resources: ResourcesDep,
    ecosystem: EcosystemPath,
    name: NamePath,
    filters: FiltersDep,
    page: PageDep,
    response_format: FormatDep,
    sort: DependentSortQuery = DependentSort.SCORE,
    repositories_per_organization: PerOrganization = 5,
) -> Response:
    """The same query and body as `GET /packages/{ecosystem}/{name}/dependents`, under the
    name the project's README uses: "who's using my package?"."""
    return await list_dependents(
        request,
        session,
        cache,
        resources,
        ecosystem,
        name,
        filters,
        page,
        response_format,
        sort,
        repositories_per_organization,
    )


async def _dependents_response(
    request: Request,
    session: AsyncSession,
    cache: CacheDep,
    resources: ResourcesDep,
    package: Package,
    query: service.DependentsQuery,
    response_format: ResponseFormat,
) -> Response:
    settings = resources.settings
    if response_format is ResponseFormat.CSV:

        async def fetch(
            session: AsyncSession, cursor: str | None
        ) -> tuple[list[CsvRow], str | None]:
            paged = replace(query, page=PageParams(MAX_LIMIT, cursor))
            body = await service.dependents(session, package, paged, settings=settings)
            return [columns.dependent_row(item) for item in body.dependents], body.next_cursor

        return await export(
            session,
            resources.sessionmaker,
            fetch,
            cursor=query.page.cursor,
            filename=f"{package.ecosystem}-{package.normalized_name}-dependents",
            header=columns.DEPENDENTS_HEADER,
            max_rows=settings.response_cache.csv_max_rows,
        )
    body = await service.cached(
        cache,
        settings,
        package,
        query.fingerprint(),
        lambda: service.dependents(session, package, query, settings=settings),
    )
    return json_response(request, body, max_age=settings.response_cache.http_max_age_seconds)


@router.get(
    "/{ecosystem}/{name:path}/repositories",
    response_model=Page[DependentRepositoryItem],
    summary="Repositories that depend on a package",
    responses=cached_get_responses(400, 404, 422, csv_example=examples.REPOSITORIES_CSV),
)
async def list_dependent_repositories(
    request: Request,
    session: SessionDep,
    cache: CacheDep,
    resources: ResourcesDep,
    ecosystem: EcosystemPath,
    name: NamePath,
    filters: FiltersDep,
    page: PageDep,
    response_format: FormatDep,
    sort: Annotated[
        RepositorySort,
        Query(
            description="`stars`: most starred first. `recent`: most recently pushed first. "
            "`name`: full name A to Z. Ties go to the most recently added repository first."
        ),
    ] = RepositorySort.STARS,
) -> Response:
    """Every repository that depends on the package, flat rather than grouped by owner, with
    the same filters as `/dependents` (forks, archived repositories, development and test
    dependencies and the package's own owner are left out by default). Each item names
    its owner and the evidence: dependency type, requirement, manifest and sources.
    Paginated with `cursor`; answers CSV too. `sort=stars` pages are fast for any package;
    `total` is read from maintained counters under the default repository filters and
    counted at request time under the others."""
    package = await service.resolve_before_suffix(session, ecosystem, name, "repositories")
    settings = resources.settings

    async def compute(session: AsyncSession, params: PageParams) -> Page[DependentRepositoryItem]:
        return await service.dependent_repositories(session, package, filters, sort, params)

    if response_format is ResponseFormat.CSV:
        return await export_pages(
            session,
            resources.sessionmaker,
            compute,
            columns.repository_row,
            cursor=page.cursor,
            filename=f"{package.ecosystem}-{package.normalized_name}-repositories",
            header=columns.REPOSITORIES_HEADER,
            max_rows=settings.response_cache.csv_max_rows,
        )
    fingerprint = query_scope("repositories", filters.normalized(), sort, page.limit, page.cursor)
    body = await service.cached(
        cache, settings, package, fingerprint, lambda: compute(session, page)
    )
    return json_response(request, body, max_age=settings.response_cache.http_max_age_seconds)


@router.get(
    "/{ecosystem}/{name:path}",
    response_model=PackageDetail,
    summary="A package and how much it is used",
    responses=cached_get_responses(404, 422),
)
async def get_package(
    request: Request,
    session: SessionDep,
    cache: CacheDep,
    resources: ResourcesDep,
    ecosystem: EcosystemPath,
    name: NamePath,
) -> Response:
    """The package with its dependent repository and organization counts (every recorded
    edge whose owner is not deleted, without the `/dependents` filters; maintained at
    ingestion), a per-dependency-type breakdown, and when wump first and last saw it used.
    An unknown package is a 404 that suggests close matches ("did you mean")."""
    package = await service.resolve(session, ecosystem, name)
    return await _detail_response(request, session, cache, resources, package)


async def _detail_response(
    request: Request,
    session: AsyncSession,
    cache: CacheDep,
    resources: ResourcesDep,
    package: Package,
) -> Response:
    settings = resources.settings
    body = await service.cached(
        cache, settings, package, "detail", lambda: service.detail(session, package)
    )
    return json_response(request, body, max_age=settings.response_cache.http_max_age_seconds)
