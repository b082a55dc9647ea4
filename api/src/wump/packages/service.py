"""Decisions about packages: identity resolution, the dependents roll-up and its caching."""

import difflib
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import quote, unquote

from sqlalchemy import Subquery
from sqlalchemy.ext.asyncio import AsyncSession

from wump.core.cache import Cache
from wump.core.config import Settings
from wump.core.errors import BadRequest, NotFound
from wump.core.http_cache import Compute, cached_json, generation_key
from wump.core.pagination import Cursor, Page, PageParams, page_cursor, query_scope, split_page
from wump.ingest.identity import (
    Ecosystem,
    InvalidPackageName,
    PackageIdentity,
    UnknownEcosystem,
    parse_ecosystem,
)
from wump.models import DependencySource, Package
from wump.packages import repository as statements
from wump.packages.repository import PackageRepository
from wump.packages.schemas import (
    Dependent,
    DependentFilters,
    DependentRepository,
    DependentRepositoryItem,
    DependentSort,
    DependentsPage,
    OrganizationSummary,
    PackageDetail,
    PackageListItem,
    PackageSort,
    PackageSummary,
    RepositoryOwner,
    RepositorySort,
)
from wump.packages.scoring import Scorer
from wump.search.matching import escape_like, search_terms, text_match

# Reads record interest at most this often per package, so they stay reads.
INTEREST_INTERVAL = timedelta(hours=1)
_GITHUB_OWNER = re.compile(
    r"^(?:git\+)?(?:[a-z]+://)?(?:git@)?(?:www\.)?github\.com[/:]([^/\s]+)/", re.IGNORECASE
)


def supported_ecosystems() -> list[str]:
    return [ecosystem.value for ecosystem in Ecosystem]


def unknown_ecosystem(value: str) -> NotFound:
    return NotFound(
        f"Unknown ecosystem {value!r}. Supported: {', '.join(supported_ecosystems())} "
        "(aliases: rubygems, go, crates, packagist).",
        extra={"supported_ecosystems": supported_ecosystems()},
    )


def ecosystem_or_404(value: str) -> Ecosystem:
    try:
        return parse_ecosystem(value)
    except UnknownEcosystem:
        raise unknown_ecosystem(value) from None


async def resolve(session: AsyncSession, ecosystem: str, name: str) -> Package:
    """The package that `name` means in `ecosystem`, by the registry's own name rules."""
    eco = ecosystem_or_404(ecosystem)
    # Some clients encode twice; no registry allows "%" in a name, so decoding is safe.
    name = unquote(name) if "%" in name else name
    if any(ord(char) < 32 for char in name):
        raise NotFound(f"No {eco.value} package can be named {name!r}.")
    try:
        identity = PackageIdentity.of(eco, name)
    except (InvalidPackageName, ValueError) as exc:
        raise NotFound(f"No {eco.value} package can be named {name!r}: {exc}") from None
    return await _find_identity(session, identity)


async def resolve_before_suffix(
    session: AsyncSession, ecosystem: str, name: str, suffix: str
) -> Package:
    """`resolve` for `/{name}/{suffix}` routes, which win over a package named `.../{suffix}`.

    When `name` is unknown but `name/suffix` is a package, the 404 says how to reach it.
    """
    try:
        return await resolve(session, ecosystem, name)
    except NotFound as not_found:
        try:
            whole = await resolve(session, ecosystem, f"{name}/{suffix}")
        except NotFound:
            raise not_found from None
        lookup = f"/api/v1/packages/lookup?purl={quote(whole.purl, safe='')}"
        raise NotFound(
            f"No package {name!r} is known to wump, but {whole.name!r} is: its details are "
            f"at {lookup}.",
            extra={"suggestions": [whole.normalized_name], "package_url": lookup},
        ) from None


async def resolve_purl(session: AsyncSession, purl: str) -> Package:
    try:
        identity = PackageIdentity.from_purl(purl)
    except UnknownEcosystem as exc:
        raise unknown_ecosystem(exc.value) from None
    except (InvalidPackageName, ValueError) as exc:
        raise BadRequest(f"Not a valid package URL: {exc}") from None
    return await _find_identity(session, identity)


async def _find_identity(session: AsyncSession, identity: PackageIdentity) -> Package:
    repository = PackageRepository(session)
    package = await repository.find(identity.ecosystem, identity.normalized_name)
    if package is not None:
        return package
    suggestions = await _close_matches(repository, identity)
    hint = f" Did you mean: {', '.join(suggestions)}?" if suggestions else ""
    raise NotFound(
        f"No package {identity.purl} is known to wump.{hint}",
        extra={"suggestions": suggestions},
    )


async def _close_matches(repository: PackageRepository, identity: PackageIdentity) -> list[str]:
    wanted = identity.normalized_name
    tail = wanted.rsplit("/", 1)[-1].rsplit(":", 1)[-1]
    patterns = [escape_like(wanted[:3]) + "%", "%" + escape_like(tail[:20]) + "%"]
    candidates = await repository.names_like(identity.ecosystem, patterns)
    return difflib.get_close_matches(wanted, candidates, n=5, cutoff=0.6)


async def record_interest(session: AsyncSession, package: Package, *, now: datetime) -> None:
    """Remember that someone asked about the package (for scheduled refreshes)."""
    last = package.last_requested_at
    if last is None or now - last >= INTEREST_INTERVAL:
        await PackageRepository(session).touch_requested(package, now)


def package_owner_logins(package: Package) -> set[str]:
    """The package's own owner on GitHub, as far as its identity and URLs tell."""
    owners: set[str] = set()
    match = _GITHUB_OWNER.match(package.repository_url or "")
    if match:
        owners.add(match.group(1).lower())
    segments = package.name.split("/")
    if package.ecosystem == Ecosystem.GITHUB.value and len(segments) > 1:
        owners.add(segments[0].lower())
    if package.ecosystem == Ecosystem.GOLANG.value and segments[0] == "github.com":
        owners.update(segments[1:2])
    return {owner.lower() for owner in owners}


def excluded_logins(package: Package, filters: DependentFilters) -> set[str]:
    excluded = {login.lower() for login in filters.exclude_owner}
    if not filters.include_package_owner:
        excluded |= package_owner_logins(package)
    return excluded


def summary(package: Package | Mapping[Any, Any]) -> PackageSummary:
    """The package's public fields, from the ORM object or a row with the same labels."""
    row: Mapping[Any, Any] = (
        package
        if isinstance(package, Mapping)
        else {field: getattr(package, field) for field in PackageSummary.model_fields}
    )
    return PackageSummary(
        ecosystem=row["ecosystem"],
        name=row["name"],
        normalized_name=row["normalized_name"],
        purl=row["purl"],
        description=row["description"],
        repository_url=row["repository_url"],
        homepage_url=row["homepage_url"],
        latest_version=row["latest_version"],
        funding_urls=_urls(row["funding_urls"]),
    )


def _urls(value: object) -> list[str]:
    """Funding links are stored as providers report them: URLs or {"url": ...} objects."""
    if not isinstance(value, list):
        return []
    urls = [item.get("url") if isinstance(item, dict) else item for item in value]
    return [url for url in urls if isinstance(url, str)]


def today() -> date:
    return datetime.now(UTC).date()


@dataclass(frozen=True, slots=True)
class DependentsQuery:
    filters: DependentFilters
    sort: DependentSort
    repositories_per_organization: int
    page: PageParams

    def scope(self, package_id: int) -> str:
        """What a cursor is bound to: everything that shapes the order."""
        return query_scope("dependents", package_id, self.filters.normalized(), self.sort)

    def fingerprint(self) -> str:
        """What the cached body depends on, besides the package's generation.

        Today's date is part of it because the recency factor is relative to it.
        """
        return query_scope(
            "dependents",
            self.filters.normalized(),
            self.sort,
            self.repositories_per_organization,
            self.page.limit,
            self.page.cursor,
            today(),
        )


def _as_of(cursor: Cursor | None) -> date:
    if cursor is None or "as_of" not in cursor.context:
        return today()
    try:
        return date.fromisoformat(cursor.context["as_of"])
    except ValueError:
        raise BadRequest("The cursor is malformed. Use a `next_cursor` as is.") from None


async def dependents(
    session: AsyncSession, package: Package, query: DependentsQuery, *, settings: Settings
) -> DependentsPage:
    """One page of the organizations that depend on `package`, ranked by `query.sort`.

    The ranked view (default filters, narrowed at most by owner) is read from the
    precomputed `dependent_owners` rows; any other filter groups the edges live.
    """
    repository = PackageRepository(session)
    scope = query.scope(package.id)
    cursor = page_cursor(
        query.page, scope=scope, kinds=statements.dependents_sort_kinds(query.sort)
    )
    as_of = _as_of(cursor)
    scorer = Scorer(settings.scoring, datetime.combine(as_of, time(), tzinfo=UTC))
    excluded = excluded_logins(package, query.filters)
    if uses_rollup(query.filters):
        ranked, (organizations, repositories) = await _rollup_source(
            repository, package, query.filters, excluded
        )
    else:
        ranked, (organizations, repositories) = await _live_source(
            repository, package, query.filters, excluded, scorer
        )
    keyset = statements.dependents_keyset(ranked, query.sort)
    rows = await repository.page(ranked, keyset, cursor, query.page.limit)
    page, next_cursor = split_page(
        rows, limit=query.page.limit, keyset=keyset, scope=scope, context={"as_of": str(as_of)}
    )
    nested = await repository.top_repositories(
        package.id,
        statements.repository_conditions(query.filters),
        [row["organization_id"] for row in page],
        query.repositories_per_organization,
    )
    return DependentsPage(
        package=summary(package),
        total_organizations=organizations,
        total_repositories=repositories,
        total=organizations,
        limit=query.page.limit,
        next_cursor=next_cursor,
        dependents=_dependents(page, _group(nested), scorer),
    )


def uses_rollup(filters: DependentFilters) -> bool:
    """Whether the precomputed rows answer: only owner-level filters are set.

    The one switch between the two paths, so tests can force the live one.
    """
    return filters.selects_ranked_view()


async def _rollup_source(
    repository: PackageRepository,
    package: Package,
    filters: DependentFilters,
    excluded: set[str],
) -> tuple[Subquery, tuple[int, int]]:
    conditions = statements.rollup_conditions(package.id, filters, excluded)
    return statements.rollup_organizations(conditions), await ranked_totals(
        repository, package, filters, excluded
    )


async def _live_source(
    repository: PackageRepository,
    package: Package,
    filters: DependentFilters,
    excluded: set[str],
    scorer: Scorer,
) -> tuple[Subquery, tuple[int, int]]:
    aggregates = statements.per_organization(
        statements.edge_conditions(package.id, filters, excluded)
    )
    return statements.ranked_organizations(aggregates, scorer), await repository.dependents_totals(
        aggregates
    )


async def ranked_totals(
    repository: PackageRepository,
    package: Package,
    filters: DependentFilters,
    excluded: set[str],
) -> tuple[int, int]:
    """(organizations, repositories) of the ranked view under owner-level filters.

    The package's counters minus the excluded owners' rows; a `kind` filter counts
    the package's rollup rows instead (one per owner, never the edges).
    """
    if filters.kind is not None:
        return await repository.rollup_totals(
            statements.rollup_conditions(package.id, filters, excluded)
        )
    organizations, repositories = await repository.ranked_counters(package.id)
    excluded_organizations, excluded_repositories = await repository.excluded_share(
        package.id, excluded
    )
    return organizations - excluded_organizations, repositories - excluded_repositories


def _group(rows: Sequence[Mapping[Any, Any]]) -> dict[int, list[DependentRepository]]:
    grouped: dict[int, list[DependentRepository]] = defaultdict(list)
    for row in rows:
        grouped[row["owner_id"]].append(dependent_repository(row))
    return grouped


def dependent_repository(row: Mapping[Any, Any]) -> DependentRepository:
    return DependentRepository(
        full_name=row["full_name"],
        html_url=row["html_url"],
        stars=row["stars"],
        primary_language=row["primary_language"],
        pushed_at=row["pushed_at"],
        is_fork=row["is_fork"],
        is_archived=row["is_archived"],
        dependency_type=row["dependency_type"],
        requirement=row["requirement"],
        is_direct=row["is_direct"],
        manifest_path=row["manifest_path"],
        source=row["source"],
        sources=DependencySource.from_mask(row["sources"] or 0),
        first_seen_at=row["first_seen_at"],
    )


def organization_summary(row: Mapping[Any, Any]) -> OrganizationSummary:
    return OrganizationSummary(
        login=row["login"],
        name=row["name"],
        kind=row["kind"],
        github_url=row["github_url"],
        website_url=row["website_url"],
        sponsorship_url=row["sponsorship_url"],
        is_verified=row["is_verified"],
        company=row["company"],
    )


def _dependents(
    rows: Sequence[Mapping[Any, Any]],
    repositories: Mapping[int, list[DependentRepository]],
    scorer: Scorer,
) -> list[Dependent]:
    return [
        Dependent(
            organization=organization_summary(row),
            score=min(100.0, max(0.0, round(float(row["score"]), 2))),
            score_factors=scorer.factors(row),
            total_repositories=row["repositories"],
            total_stars=row["stars"],
            last_pushed_at=row["last_pushed_at"],
            repositories=repositories.get(row["organization_id"], []),
        )
        for row in rows
    ]


async def dependent_repositories(
    session: AsyncSession,
    package: Package,
    filters: DependentFilters,
    sort: RepositorySort,
    page: PageParams,
) -> Page[DependentRepositoryItem]:
    """One page of the repositories that depend on `package`, flat.

    `sort=stars` reads the `(package_id, stars, repository_id)` index backward and
    judges each edge as it goes. The total comes from the counters under the ranked
    view's filters (see `ranked_totals`), and from counting the edges otherwise.
    """
    repository = PackageRepository(session)
    scope = query_scope("repositories", package.id, filters.normalized(), sort)
    excluded = excluded_logins(package, filters)
    rows_source = statements.dependent_repositories(
        statements.edge_conditions(package.id, filters, excluded)
    )
    keyset = statements.repositories_keyset(rows_source, sort)
    cursor = page_cursor(page, scope=scope, kinds=keyset.kinds)
    if uses_rollup(filters):
        _, total = await ranked_totals(repository, package, filters, excluded)
    else:
        total = await repository.count(rows_source)
    rows = await repository.page(rows_source, keyset, cursor, page.limit)
    items, next_cursor = split_page(rows, limit=page.limit, keyset=keyset, scope=scope)
    return Page[DependentRepositoryItem](
        items=[
            DependentRepositoryItem(
                **dependent_repository(row).model_dump(),
                owner=RepositoryOwner(login=row["owner_login"], kind=row["owner_kind"]),
            )
            for row in items
        ],
        total=total,
        limit=page.limit,
        next_cursor=next_cursor,
    )


async def detail(session: AsyncSession, package: Package) -> PackageDetail:
    """The package with its counters; the per-type breakdown and dates read its edges."""
    repository = PackageRepository(session)
    usage = await repository.usage(package.id)
    return PackageDetail(
        **summary(package).model_dump(),
        dependent_repositories_count=package.dependent_repositories_count,
        dependent_organizations_count=package.dependent_organizations_count,
        dependency_types=await repository.usage_by_type(package.id),
        first_seen_at=usage["first_seen_at"],
        last_seen_at=usage["last_seen_at"],
    )


async def list_packages(
    session: AsyncSession,
    *,
    ecosystem: Ecosystem | None,
    q: str | None,
    sort: PackageSort,
    page: PageParams,
) -> Page[PackageListItem]:
    """Known packages, most depended on (or by name) first, optionally filtered by text."""
    repository = PackageRepository(session)
    conditions = []
    if q:
        matches, _ = text_match([Package.name, Package.normalized_name], search_terms(q))
        conditions.append(matches)
    listing = statements.package_listing(ecosystem, conditions)
    keyset = statements.package_keyset(listing, sort)
    scope = query_scope("packages", ecosystem, (q or "").lower(), sort)
    cursor = page_cursor(page, scope=scope, kinds=keyset.kinds)
    total = await repository.count(listing)
    rows = await repository.page(listing, keyset, cursor, page.limit)
    items, next_cursor = split_page(rows, limit=page.limit, keyset=keyset, scope=scope)
    return Page[PackageListItem](
        items=list_items(items),
        total=total,
        limit=page.limit,
        next_cursor=next_cursor,
    )


def list_items(rows: Sequence[Mapping[Any, Any]]) -> list[PackageListItem]:
    """Package rows with their counters (`PACKAGE_COUNTERS`)."""
    return [
        PackageListItem(
            **summary(row).model_dump(),
            dependent_repositories_count=row["dependent_repositories_count"],
            dependent_organizations_count=row["dependent_organizations_count"],
        )
        for row in rows
    ]


async def cached(
    cache: Cache, settings: Settings, package: Package, fingerprint: str, compute: Compute
) -> bytes:
    """A package-scoped body through the cache; ingestion invalidates it by a generation bump."""
    key = await generation_key(cache, "package", package.id, fingerprint)
    return await cached_json(cache, key, settings.response_cache.dependents_ttl_seconds, compute)


async def cached_catalog(
    cache: Cache, settings: Settings, fingerprint: str, compute: Compute
) -> bytes:
    """A catalogue-wide body (lists, search), refreshed by the global generation or TTL."""
    key = await generation_key(cache, "global", "stats", fingerprint)
    return await cached_json(cache, key, settings.response_cache.stats_ttl_seconds, compute)
