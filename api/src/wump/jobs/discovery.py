"""`discover.dependents` and `refresh.tracked`: who depends on a package, kept current.

Discovery asks the providers with the dependents capability in the fallback
order (ecosyste.ms, then Libraries.io) for the repositories that depend on a
package, loads them through the loader with that provider as the edge's source,
and queues GitHub scans of the owners it found. When the provider's listing was
complete, edges that provider reported before but no longer lists lose its
source (and are deleted when no source is left).
"""

from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

from wump.ingest.identity import PackageIdentity
from wump.ingest.loader import (
    InvalidRepository,
    LoadStats,
    PackageMetadata,
    RepositoryRef,
    Snapshot,
)
from wump.ingest.parsers.base import ParsedDependency
from wump.jobs import repository
from wump.jobs.context import JobContext, JobResult
from wump.jobs.schemas import DiscoverDependentsArgs, JobType, NoArgs
from wump.models import DependencySource, DependencyType
from wump.models.base import utcnow
from wump.providers.base import BudgetExhausted, Capability, ProviderError, ProviderNotFound
from wump.providers.depsdev import DepsDevProvider
from wump.providers.ecosystems import EcosystemsProvider
from wump.providers.librariesio import LibrariesIoProvider
from wump.providers.registry import FallbackResult, Provider
from wump.providers.schemas import EcosystemsRepository, LibrariesIoRepository, Page

Item = TypeVar("Item", EcosystemsRepository, LibrariesIoRepository)
# Snapshots per transaction: each batch commits on its own.
LOAD_BATCH = 500
# Code hosts wump can name repositories on, by the providers' host names.
HOSTS = {
    "github": "github.com",
    "gitlab": "gitlab.com",
    "bitbucket": "bitbucket.org",
    "codeberg": "codeberg.org",
}


@dataclass(slots=True)
class Listing:
    """One provider's dependent repositories of a package."""

    repositories: list[RepositoryRef] = field(default_factory=list)
    # False when paging stopped early (page or budget limit): nothing may be swept.
    complete: bool = True
    skipped: int = 0

    def __len__(self) -> int:
        return len(self.repositories)


def _host(name: str | None) -> str | None:
    return HOSTS.get((name or "github").lower())


def _from_ecosystems(item: EcosystemsRepository) -> RepositoryRef | None:
    host = _host(item.host.name if item.host else None)
    if host is None:
        return None
    return RepositoryRef.parse(
        item.full_name,
        host=host,
        stars=item.stargazers_count,
        forks=item.forks_count,
        is_fork=item.fork,
        is_archived=item.archived,
        language=item.language,
        pushed_at=item.pushed_at,
        default_branch=item.default_branch,
        html_url=item.html_url,
        description=item.description,
    )


def _from_librariesio(item: LibrariesIoRepository) -> RepositoryRef | None:
    host = _host(item.host_type)
    if host is None:
        return None
    # Libraries.io reports no archived flag: left unknown, never overwritten.
    return RepositoryRef.parse(
        item.full_name,
        host=host,
        stars=item.stargazers_count,
        forks=item.forks_count,
        is_fork=item.fork,
        language=item.language,
        pushed_at=item.pushed_at,
        default_branch=item.default_branch,
        description=item.description,
    )


def _add(listing: Listing, ref: RepositoryRef | None) -> None:
    if ref is None:
        listing.skipped += 1
    else:
        listing.repositories.append(ref)


async def _ecosystems(
    provider: EcosystemsProvider, identity: PackageIdentity, max_pages: int
) -> Listing:
    async def fetch(cursor: int | None) -> Page[EcosystemsRepository, int]:
        return await provider.dependent_repositories(
            identity.ecosystem, identity.name, after_id=cursor
        )

    return await _walk(fetch, _from_ecosystems, None, max_pages)


async def _librariesio(
    provider: LibrariesIoProvider, identity: PackageIdentity, max_pages: int
) -> Listing:
    async def fetch(page: int | None) -> Page[LibrariesIoRepository, int]:
        return await provider.dependent_repositories(
            identity.ecosystem, identity.name, page=page or 1
        )

    return await _walk(fetch, _from_librariesio, 1, max_pages)


async def _walk(
    fetch: Callable[[int | None], Awaitable[Page[Item, int]]],
    convert: Callable[[Item], RepositoryRef | None],
    cursor: int | None,
    max_pages: int,
) -> Listing:
    """Follow a provider's pages; a budget spent after the first page ends the walk short."""
    listing = Listing()
    for page_number in range(max_pages):
        try:
            page = await fetch(cursor)
        except BudgetExhausted:
            if page_number == 0:
                raise
            listing.complete = False
            return listing
        for item in page.items:
            _add(listing, _safely(convert, item))
        cursor = page.next_cursor
        if cursor is None:
            return listing
    listing.complete = False
    return listing


def _safely(convert: Callable[[Item], RepositoryRef | None], item: Item) -> RepositoryRef | None:
    try:
        return convert(item)
    except InvalidRepository:
        return None


async def dependents(
    provider: Provider, identity: PackageIdentity, *, max_pages: int
) -> Listing | None:
    """The provider's dependent repositories of the package, for `fetch_with_fallback`."""
    match provider:
        case EcosystemsProvider():
            return await _ecosystems(provider, identity, max_pages)
        case LibrariesIoProvider():
            return await _librariesio(provider, identity, max_pages)
        case _:
            return None


def _batches(items: Sequence[RepositoryRef], size: int) -> Iterator[Sequence[RepositoryRef]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


async def discover_dependents(ctx: JobContext, args: DiscoverDependentsArgs) -> JobResult:
    """Load the repositories that depend on a package, then queue scans of their owners."""
    identity = PackageIdentity.from_purl(args.purl)
    try:
        found = await ctx.providers.fetch_with_fallback(
            Capability.DEPENDENTS,
            lambda provider: dependents(provider, identity, max_pages=ctx.settings.job_max_pages),
        )
    except ProviderNotFound:
        # No provider knows the package: it has no dependents anywhere wump can see.
        found = FallbackResult(None, None)
    listing = found.value or Listing(complete=False)
    async with ctx.session() as session:
        package_id = await repository.ensure_package(session, identity)
    metadata: dict[str, object] = {
        "provider": found.provider,
        "attempts": [f"{a.provider}: {a.outcome}" for a in found.attempts],
        "unknown_to_providers": not found.attempts and found.provider is None,
        "complete": listing.complete,
        "skipped": listing.skipped,
    }
    if found.provider is not None:
        source = DependencySource(found.provider)
        metadata |= await _load(ctx, identity, package_id, listing, source)
    metadata["package_metadata"] = await _describe_package(ctx, identity)
    await _queue_owner_scans(ctx, listing.repositories)
    return JobResult(records=len(listing), metadata=metadata)


async def package_metadata(provider: Provider, identity: PackageIdentity) -> PackageMetadata | None:
    """The package's description, links and latest version, for `fetch_with_fallback`."""
    eco, name = identity.ecosystem, identity.name
    match provider:
        case EcosystemsProvider():
            found = await provider.package(eco, name)
            return PackageMetadata(
                eco,
                name,
                found.description,
                found.homepage,
                found.repository_url,
                found.latest_release_number,
            )
        case LibrariesIoProvider():
            project = await provider.project(eco, name)
            return PackageMetadata(
                eco,
                name,
                project.description,
                project.homepage,
                project.repository_url,
                project.latest_release_number,
            )
        case DepsDevProvider():
            package = await provider.package(eco, name)
            return PackageMetadata(eco, name, latest_version=package.default_version)
        case _:
            return None


async def _describe_package(ctx: JobContext, identity: PackageIdentity) -> str:
    """Refresh the package's own metadata, best effort: the dependents matter more."""
    try:
        found = await ctx.providers.fetch_with_fallback(
            Capability.PACKAGE_METADATA, lambda provider: package_metadata(provider, identity)
        )
    except ProviderError as exc:
        return f"not refreshed: {exc.message}"
    if found.value is None:
        return "no provider had any"
    async with ctx.session() as session:
        await ctx.loader(session).update_packages([found.value])
    return f"from {found.provider}"


async def _load(
    ctx: JobContext,
    identity: PackageIdentity,
    package_id: int,
    listing: Listing,
    source: DependencySource,
) -> dict[str, object]:
    edge = ParsedDependency(
        ecosystem=identity.ecosystem,
        name=identity.name,
        # Listings name no requirement, manifest or kind: unpinned, runtime, direct.
        requirement="*",
        dependency_type=DependencyType.RUNTIME,
        is_direct=True,
        manifest_path="",
    )
    started = utcnow()
    stats = LoadStats()
    for batch in _batches(listing.repositories, LOAD_BATCH):
        async with ctx.session() as session:
            loader = ctx.loader(session)
            # Not `replace`: a listing says nothing about the repository's other edges.
            snapshots = [Snapshot(ref, source, [edge], replace=False) for ref in batch]
            stats.add(await loader.load(snapshots))
        ctx.advance(len(batch))
    cleared = await _sweep(ctx, package_id, source, started) if listing.complete else 0
    return {
        "source": source.value,
        "repositories_new": stats.repositories_new,
        "edges": stats.edges,
        "edges_cleared": cleared,
        "failed": len(stats.failures),
        "failures": stats.failures[:20],
    }


async def _sweep(
    ctx: JobContext, package_id: int, source: DependencySource, started: datetime
) -> int:
    async with ctx.session() as session:
        swept = await repository.sweep_package(session, package_id, source, since=started)
        if swept.edges_cleared:
            ctx.bump_after_commit(session, "package", [package_id])
            ctx.bump_after_commit(session, "organization", swept.owner_ids)
    return swept.edges_cleared


async def _queue_owner_scans(ctx: JobContext, repositories: Sequence[RepositoryRef]) -> None:
    """Queue GitHub scans of the owners found, most starred first, skipping fresh ones."""
    ranked = sorted(
        (ref for ref in repositories if ref.host == "github.com"),
        key=lambda ref: -(ref.stars or 0),
    )
    owners = list(dict.fromkeys(ref.owner for ref in ranked))
    if not owners:
        return
    fresh_since = utcnow() - timedelta(days=ctx.settings.job_enrich_stale_days)
    async with ctx.session() as session:
        fresh = await repository.owners_enriched_since(session, owners, since=fresh_since)
        for login in owners:
            if login.lower() not in fresh:
                await ctx.follow_up(session, JobType.SCAN_ORGANIZATION, {"login": login})


async def refresh_tracked(ctx: JobContext, args: NoArgs) -> JobResult:
    """Queue a discovery of every tracked package and every package asked about lately."""
    since = utcnow() - timedelta(days=ctx.settings.job_refresh_requested_days)
    queued = 0
    async with ctx.session() as session:
        purls = await repository.packages_to_refresh(session, requested_since=since)
        for purl in purls:
            queued += await ctx.follow_up(
                session, JobType.DISCOVER_DEPENDENTS, {"purl": purl}, limited=False
            )
            ctx.advance()
    return JobResult(
        records=queued,
        metadata={"packages": len(purls), "queued": queued, "already_queued": len(purls) - queued},
    )
