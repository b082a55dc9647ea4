"""Owner profiles: what GitHub and ecosyste.ms say about an owner, applied to its row.

`enrich.organizations` refreshes the profiles and sponsorship signals of owners
whose profile is older than `stale_after` (weekly, on a schedule). Profiles come
from the providers with the owner-enrichment capability in the fallback order;
sponsorship signals come from GitHub's GraphQL API when a token is configured.
"""

from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from wump.jobs import repository
from wump.jobs.context import JobContext, JobResult
from wump.jobs.schemas import EnrichOrganizationsArgs
from wump.models import Organization, OwnerKind
from wump.models.base import utcnow
from wump.providers.base import (
    BudgetExhausted,
    Capability,
    ProviderError,
    ProviderNotFound,
    ProviderTransientError,
    UnsupportedRequest,
)
from wump.providers.ecosystems import EcosystemsProvider
from wump.providers.github import GitHubProvider
from wump.providers.registry import Provider
from wump.providers.schemas import EcosystemsOwner, GitHubOwner, GitHubSponsorship
from wump.rollups.service import Rollups

log = structlog.get_logger(__name__)

# Column sizes of `organizations`; longer values from a provider are cut.
_LIMITS = {"name": 255, "company": 255, "website_url": 1024, "email": 320, "location": 255}


@dataclass(frozen=True, slots=True)
class OwnerProfile:
    """An owner's profile as one provider sees it. None means "not known from here"."""

    kind: OwnerKind | None = None
    name: str | None = None
    description: str | None = None
    company: str | None = None
    website_url: str | None = None
    email: str | None = None
    location: str | None = None
    is_verified: bool | None = None
    followers: int | None = None
    public_repos: int | None = None
    github_url: str | None = None
    has_sponsors_listing: bool | None = None
    sponsorship_url: str | None = None
    sponsors_others_count: int | None = None

    @classmethod
    def from_github(cls, owner: GitHubOwner) -> "OwnerProfile":
        return cls(
            kind=OwnerKind.ORGANIZATION if owner.is_organization else OwnerKind.USER,
            name=owner.name,
            description=owner.description or owner.bio,
            company=owner.company,
            website_url=owner.website_url,
            email=owner.email,
            location=owner.location,
            is_verified=bool(owner.is_verified),
            followers=owner.followers,
            public_repos=owner.public_repos,
            github_url=owner.html_url,
        )

    @classmethod
    def from_ecosystems(cls, owner: EcosystemsOwner) -> "OwnerProfile":
        listed = owner.metadata.has_sponsors_listing
        sponsor_url = f"https://github.com/sponsors/{owner.login}" if listed else None
        kinds = {"organization": OwnerKind.ORGANIZATION, "user": OwnerKind.USER}
        return cls(
            kind=kinds.get(owner.kind or ""),
            name=owner.name,
            description=owner.description,
            company=owner.company,
            website_url=owner.website,
            email=owner.email,
            location=owner.location,
            github_url=owner.html_url,
            has_sponsors_listing=listed,
            sponsorship_url=sponsor_url or next(iter(owner.funding_links), None),
        )

    def with_sponsorship(self, sponsorship: GitHubSponsorship) -> "OwnerProfile":
        listing = sponsorship.sponsors_listing
        url = listing.url if listing and listing.url else None
        if sponsorship.has_sponsors_listing and url is None:
            url = f"https://github.com/sponsors/{sponsorship.login}"
        return replace(
            self,
            has_sponsors_listing=sponsorship.has_sponsors_listing,
            sponsorship_url=url or self.sponsorship_url,
            sponsors_others_count=sponsorship.sponsoring_count,
        )


def apply_profile(organization: Organization, profile: OwnerProfile, *, now: datetime) -> None:
    """Copy what the profile knows onto the row; what it does not know stays as stored."""
    for item in fields(profile):
        value = getattr(profile, item.name)
        if value is None:
            continue
        if isinstance(value, str) and item.name in _LIMITS:
            value = value[: _LIMITS[item.name]]
        setattr(organization, item.name, value)
    organization.enriched_at = now
    organization.deleted_at = None


async def owner_profile(provider: Provider, login: str) -> OwnerProfile | None:
    """The owner's profile from one provider, for `fetch_with_fallback`."""
    match provider:
        case GitHubProvider():
            return OwnerProfile.from_github(await provider.owner_profile(login))
        case EcosystemsProvider():
            return OwnerProfile.from_ecosystems(await provider.owner(login))
        case _:
            return None


async def sponsorship(github: GitHubProvider, login: str) -> GitHubSponsorship | None:
    """GitHub Sponsors signals, or None when GitHub cannot say (no token, no owner, no budget).

    A transient failure is raised: the job is retried for it.
    """
    try:
        return await github.sponsorship(login)
    except ProviderTransientError:
        raise
    except (UnsupportedRequest, ProviderNotFound, BudgetExhausted):
        return None


async def _refresh_rollups(ctx: JobContext, session: AsyncSession, owner_id: int) -> None:
    """Rescore the owner's rows in every package's dependents (kind, contact, sponsorship
    and deletion all count), and drop the cached pages that show them."""
    rollups = Rollups(session, ctx.settings.scoring)
    packages = {package for package, _ in await rollups.refresh_owners([owner_id])}
    ctx.bump_after_commit(session, "organization", [owner_id])
    ctx.bump_after_commit(session, "package", sorted(packages))


async def mark_gone(ctx: JobContext, login: str) -> bool:
    """Record that the owner no longer exists on its host. True if wump knew it."""
    async with ctx.session() as session:
        organization = await repository.organization_by_login(session, login)
        if organization is None:
            return False
        organization.deleted_at = utcnow()
        await session.flush()
        await _refresh_rollups(ctx, session, organization.id)
    return True


@dataclass(slots=True)
class _Tally:
    enriched: int = 0
    gone: int = 0
    failed: int = 0
    budget_spent: bool = False


async def enrich_organizations(ctx: JobContext, args: EnrichOrganizationsArgs) -> JobResult:
    """Refresh profiles and sponsorship signals of owners not enriched within `stale_after`."""
    stale_after = args.stale_after or timedelta(days=ctx.settings.job_enrich_stale_days)
    async with ctx.session() as session:
        owners = await repository.stale_organizations(
            session, enriched_before=utcnow() - stale_after, limit=ctx.settings.job_enrich_batch
        )
        logins = [owner.login for owner in owners]
    tally = _Tally()
    for login in logins:
        await _enrich_one(ctx, login, tally)
        ctx.advance()
        if tally.budget_spent:
            break
    return JobResult(
        records=tally.enriched,
        metadata={
            "stale_after": stale_after.total_seconds(),
            "candidates": len(logins),
            "enriched": tally.enriched,
            "gone": tally.gone,
            "failed": tally.failed,
            "budget_spent": tally.budget_spent,
        },
    )


async def _enrich_one(ctx: JobContext, login: str, tally: _Tally) -> None:
    try:
        found = await ctx.providers.fetch_with_fallback(
            Capability.OWNER_ENRICHMENT, lambda provider: owner_profile(provider, login)
        )
    except ProviderNotFound:
        tally.gone += await mark_gone(ctx, login)
        return
    except BudgetExhausted:
        tally.budget_spent = True
        return
    except ProviderTransientError:
        raise
    except ProviderError as exc:
        # Not worth retrying; noted, and the owner waits for the next run.
        log.warning("owner_enrichment_failed", login=login, error=exc.message)
        tally.failed += 1
        found = None
    profile = found.value if found is not None and found.value else OwnerProfile()
    github = ctx.providers["github"]
    if isinstance(github, GitHubProvider) and github.configured:
        signals = await sponsorship(github, login)
        profile = profile.with_sponsorship(signals) if signals else profile
    await _store(ctx, login, profile)
    tally.enriched += found is not None


async def _store(ctx: JobContext, login: str, profile: OwnerProfile) -> None:
    async with ctx.session() as session:
        organization = await repository.organization_by_login(session, login)
        if organization is None:
            return
        apply_profile(organization, profile, now=utcnow())
        await session.flush()
        await _refresh_rollups(ctx, session, organization.id)
