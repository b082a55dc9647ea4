"""GitHub scans: `scan.organization` (an owner and its repositories) and
`scan.repository` (one repository and its dependency graph).

A repository scan asks GitHub with the stored ETag first; an unchanged
repository (304) costs nothing against GitHub's rate limit and is skipped. A
changed one is loaded with its dependency-graph SBOM as one snapshot of source
`sbom`, in one transaction: a repository is stored whole or not at all. A
repository GitHub no longer knows (404) is deleted with its edges.
"""

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from wump.ingest.loader import RepositoryRef, Snapshot
from wump.ingest.parsers import sbom as sbom_parser
from wump.jobs import repository
from wump.jobs.context import JobContext, JobResult
from wump.jobs.enrichment import OwnerProfile, apply_profile, mark_gone, sponsorship
from wump.jobs.schemas import JobType, ScanOrganizationArgs, ScanRepositoryArgs
from wump.models import DependencySource, OwnerKind
from wump.models import Repository as RepositoryRow
from wump.models.base import utcnow
from wump.providers.base import NOT_MODIFIED, BudgetExhausted, ProviderError, ProviderNotFound
from wump.providers.github import GitHubProvider
from wump.providers.schemas import GitHubRepository

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# The manifest path recorded on edges read from GitHub's dependency graph.
SBOM_PATH = "dependency-graph.spdx.json"


class ScanError(ProviderError):
    """GitHub's answer could not be stored (an unreadable SBOM, say); not retried."""


def github_of(ctx: JobContext) -> GitHubProvider:
    github = ctx.providers["github"]
    assert isinstance(github, GitHubProvider)
    return github


def owner_kind(owner_type: str) -> OwnerKind:
    return OwnerKind.ORGANIZATION if owner_type == "Organization" else OwnerKind.USER


def repository_ref(found: GitHubRepository) -> RepositoryRef:
    """A repository as GitHub describes it, with every field GitHub knows."""
    return RepositoryRef.parse(
        found.full_name,
        owner_kind=owner_kind(found.owner.type),
        stars=found.stargazers_count,
        forks=found.forks_count,
        is_fork=found.fork,
        is_archived=found.archived,
        language=found.language,
        pushed_at=found.pushed_at,
        default_branch=found.default_branch,
        html_url=found.html_url,
        description=found.description,
    )


# -- scan.organization -------------------------------------------------------------


async def scan_organization(ctx: JobContext, args: ScanOrganizationArgs) -> JobResult:
    """Refresh an owner's GitHub profile and sponsorship signals, update the
    repositories wump knows of it, and queue scans of those that changed."""
    github = github_of(ctx)
    try:
        owner = await github.owner_profile(args.login)
    except ProviderNotFound:
        gone = await mark_gone(ctx, args.login)
        return JobResult(metadata={"gone": True, "known": gone})
    profile = OwnerProfile.from_github(owner)
    signals = await sponsorship(github, owner.login)
    profile = profile.with_sponsorship(signals) if signals else profile
    try:
        found = await github.owner_repositories(
            owner.login, owner_type=owner.type, max_pages=ctx.settings.job_max_pages
        )
    except BudgetExhausted:
        found = []
    queued = await _store_owner(ctx, owner.login, profile, found)
    return JobResult(
        records=len(found),
        metadata={
            "kind": profile.kind,
            "repositories": len(found),
            "scans_queued": queued,
            "sponsorship_known": signals is not None,
        },
    )


async def _store_owner(
    ctx: JobContext, login: str, profile: OwnerProfile, found: list[GitHubRepository]
) -> int:
    kind = profile.kind or OwnerKind.ORGANIZATION
    async with ctx.session() as session:
        organization = await repository.ensure_organization(session, login, kind=kind)
        apply_profile(organization, profile, now=utcnow())
        await session.flush()
        refs = [repository_ref(item) for item in found]
        # Stars and flags of repositories already in the graph; new ones come with scans.
        await ctx.loader(session).update_repositories(refs)
        stored = await repository.owner_repositories(session, organization.id)
        queued = await _queue_scans(ctx, session, found, stored)
        ctx.bump_after_commit(session, "organization", [organization.id])
    ctx.advance(len(found))
    return queued


async def _queue_scans(
    ctx: JobContext,
    session: AsyncSession,
    found: list[GitHubRepository],
    stored: Sequence[RepositoryRow],
) -> int:
    """Queue scans of the owner's own, live repositories that changed, most starred first."""
    by_key = {row.full_name_key: row for row in stored}
    candidates = sorted(
        (item for item in found if not item.fork and not item.archived),
        key=lambda item: -item.stargazers_count,
    )
    queued = 0
    for item in candidates:
        if _needs_scan(item, by_key.get(item.full_name.lower())):
            args = {"full_name": item.full_name}
            queued += await ctx.follow_up(session, JobType.SCAN_REPOSITORY, args)
    return queued


def _needs_scan(item: GitHubRepository, row: RepositoryRow | None) -> bool:
    """Never scanned, or pushed to since the last scan."""
    if row is None or row.scanned_at is None:
        return True
    return (item.pushed_at or EPOCH) > row.scanned_at


# -- scan.repository ---------------------------------------------------------------


async def scan_repository(ctx: JobContext, args: ScanRepositoryArgs) -> JobResult:
    """Load one repository and its dependency graph (source `sbom`) from GitHub."""
    ref = RepositoryRef.parse(args.full_name)
    async with ctx.session() as session:
        stored = await repository.repository_by_ref(session, ref)
        # Only a repository scanned before may be skipped as unchanged.
        etag = stored.etag if stored is not None and stored.scanned_at else None
    github = github_of(ctx)
    try:
        found = await github.repository(ref.owner, ref.name, etag=etag)
    except ProviderNotFound:
        return await _gone(ctx, ref)
    if found is NOT_MODIFIED:
        assert stored is not None
        async with ctx.session() as session:
            await repository.record_scan(session, stored.id, etag=None, now=utcnow())
        return JobResult(metadata={"unchanged": True})
    return await _load(ctx, github, ref, found)


async def _load(
    ctx: JobContext, github: GitHubProvider, requested: RepositoryRef, found: GitHubRepository
) -> JobResult:
    current = repository_ref(found)
    label = f"{current.full_name} (GitHub dependency graph)"
    try:
        document = await github.dependency_graph_sbom(current.owner, current.name)
    except ProviderNotFound:
        # The repository exists but has no dependency graph (disabled, or empty).
        document = None
    dependencies = []
    if document is not None:
        try:
            dependencies = sbom_parser.parse_sbom(SBOM_PATH, document).dependencies
        except ValueError as exc:
            raise ScanError(
                "github", f"the dependency graph of {current.full_name}: {exc}"
            ) from None
    snapshot = Snapshot(
        current, DependencySource.SBOM, dependencies, replace=document is not None, label=label
    )
    async with ctx.session() as session:
        stats = await ctx.loader(session).load([snapshot])
        if stats.failures:
            raise ScanError("github", stats.failures[0])
        row = await repository.repository_by_ref(session, current)
        assert row is not None
        await repository.record_scan(session, row.id, etag=found.etag, now=utcnow())
        renamed = await _drop_old_name(ctx, session, requested, current)
    ctx.advance()
    return JobResult(
        records=len(dependencies),
        metadata={
            "dependency_graph": document is not None,
            "dependencies": len(dependencies),
            "edges": stats.edges,
            "edges_removed": stats.edges_removed,
            "packages_new": stats.packages_new,
            "renamed_from": renamed,
        },
    )


async def _drop_old_name(
    ctx: JobContext, session: AsyncSession, requested: RepositoryRef, current: RepositoryRef
) -> str | None:
    """A renamed repository was just stored under its new name; delete the old row."""
    if requested.key == current.key:
        return None
    old = await repository.repository_by_ref(session, requested)
    if old is None:
        return None
    removed = await repository.remove_repository(session, old, weights=ctx.settings.scoring)
    ctx.bump_after_commit(session, "package", removed.package_ids)
    ctx.bump_after_commit(session, "organization", [removed.owner_id])
    return requested.full_name


async def _gone(ctx: JobContext, ref: RepositoryRef) -> JobResult:
    removed = await remove_gone(ctx, ref)
    if removed is None:
        return JobResult(metadata={"gone": True, "known": False})
    return JobResult(records=1, metadata={"gone": True, "known": True, "edges_removed": removed})


async def remove_gone(ctx: JobContext, ref: RepositoryRef) -> int | None:
    """Delete a repository GitHub no longer knows, with its edges; how many edges went
    (None when wump did not know the repository either)."""
    async with ctx.session() as session:
        stored = await repository.repository_by_ref(session, ref)
        if stored is None:
            return None
        removed = await repository.remove_repository(session, stored, weights=ctx.settings.scoring)
        ctx.bump_after_commit(session, "package", removed.package_ids)
        ctx.bump_after_commit(session, "organization", [removed.owner_id])
    return len(removed.package_ids)
