"""`cleanup`, monthly: job records, archived and vanished repositories; and
`rollups.rescore`, daily: the recent-activity part of the dependents' scores.

1. Jobs whose worker died and that no worker will take again (`running` past
   `JOB_TIMEOUT_SECONDS` + `JOB_REDELIVERY_SECONDS`, or `pending` for a day) are
   recorded as failed: their rows become dead-letter records like any failure.
2. Finished job records older than `JOB_RETENTION_DAYS` are deleted.
3. Repositories not scanned for `JOB_RECHECK_AFTER_DAYS` are asked of GitHub again
   with their ETag (a 304 is free): archived ones are flagged, vanished ones are
   deleted with their edges, at most `JOB_CLEANUP_REPOSITORY_CHECKS` per run.
"""

from dataclasses import dataclass
from datetime import timedelta

from wump.ingest.loader import RepositoryRef
from wump.jobs import repository
from wump.jobs.context import JobContext, JobResult
from wump.jobs.scans import github_of, remove_gone, repository_ref
from wump.jobs.schemas import NoArgs
from wump.models import Repository
from wump.models.base import utcnow
from wump.providers.base import NOT_MODIFIED, BudgetExhausted, ProviderNotFound
from wump.rollups.service import Rollups


@dataclass(slots=True)
class _Checks:
    checked: int = 0
    unchanged: int = 0
    archived: int = 0
    gone: int = 0
    budget_spent: bool = False


async def cleanup(ctx: JobContext, args: NoArgs) -> JobResult:
    """Fail abandoned jobs, prune old job records, flag archived and drop vanished repositories."""
    now = utcnow()
    async with ctx.session() as session:
        abandoned = await repository.fail_stale(session, settings=ctx.settings, now=now)
        pruned = await repository.prune_jobs(
            session, before=now - timedelta(days=ctx.settings.job_retention_days)
        )
        due = await repository.repositories_to_recheck(
            session,
            scanned_before=now - timedelta(days=ctx.settings.job_recheck_after_days),
            limit=ctx.settings.job_cleanup_repository_checks,
        )
    checks = _Checks()
    for row in due:
        await _recheck(ctx, row, checks)
        ctx.advance()
        if checks.budget_spent:
            break
    return JobResult(
        records=abandoned + pruned + checks.checked,
        metadata={
            "jobs_abandoned": abandoned,
            "jobs_pruned": pruned,
            "repositories_checked": checks.checked,
            "repositories_unchanged": checks.unchanged,
            "repositories_archived": checks.archived,
            "repositories_gone": checks.gone,
            "budget_spent": checks.budget_spent,
        },
    )


async def rescore(ctx: JobContext, args: NoArgs) -> JobResult:
    """Take recent-activity points off dependents whose last push left the window."""
    async with ctx.session() as session:
        changed = await Rollups(session, ctx.settings.scoring).rescore_stale()
    # Cached pages need no bump: their keys carry the day they were computed on.
    return JobResult(records=changed, metadata={"rows_rescored": changed})


async def _recheck(ctx: JobContext, row: Repository, checks: _Checks) -> None:
    ref = RepositoryRef.parse(row.full_name, host=row.host)
    try:
        found = await github_of(ctx).repository(ref.owner, ref.name, etag=row.etag)
    except BudgetExhausted:
        checks.budget_spent = True
        return
    except ProviderNotFound:
        await remove_gone(ctx, ref)
        checks.gone += 1
        checks.checked += 1
        return
    checks.checked += 1
    async with ctx.session() as session:
        if found is NOT_MODIFIED:
            checks.unchanged += 1
            await repository.record_scan(session, row.id, etag=None, now=utcnow())
            return
        checks.archived += found.archived and not row.is_archived
        await ctx.loader(session).update_repositories([repository_ref(found)])
        await repository.record_scan(session, row.id, etag=found.etag, now=utcnow())
