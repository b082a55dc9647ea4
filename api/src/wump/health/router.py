from datetime import UTC, datetime

from fastapi import APIRouter, Response

from wump import __version__
from wump.core.deps import ResourcesDep
from wump.health import service
from wump.health.schemas import (
    CheckStatus,
    Health,
    JobsHealth,
    Liveness,
    OverallStatus,
    Readiness,
)

router = APIRouter(prefix="/health", tags=["health"])


@router.get("", response_model=Health, summary="Service health")
async def health(resources: ResourcesDep) -> Health:
    """The health of the service and each dependency it needs.

    Always answers **200**, so dashboards can poll it and read the details:
    `status` is `healthy` when every check passes and `degraded` otherwise.
    Each check runs under a short timeout, so a hung database or cache cannot
    hang this endpoint. With `VALKEY_URL` set, the `jobs` check adds the job
    queue: it fails when the queue's Valkey does not answer, and counts the
    live workers (details at `/health/jobs`).
    """
    settings = resources.settings
    # The queue is a dependency only when it is shared (Valkey) and served by workers.
    jobs = (resources.jobs, settings) if resources.jobs.backend == "valkey" else None
    checks = await service.run_checks(
        resources.engine, resources.cache, settings.health_check_timeout_seconds, jobs=jobs
    )
    results = (checks.database, checks.cache, checks.jobs)
    healthy = all(c.status is CheckStatus.HEALTHY for c in results if c is not None)
    return Health(
        status=OverallStatus.HEALTHY if healthy else OverallStatus.DEGRADED,
        service=settings.otel_service_name,
        version=__version__,
        timestamp=datetime.now(UTC),
        checks=checks,
    )


@router.get("/live", response_model=Liveness, summary="Liveness probe")
async def live() -> Liveness:
    """Answers 200 while the process is up. It checks nothing else, by design."""
    return Liveness(status="alive")


@router.get(
    "/ready",
    response_model=Readiness,
    summary="Readiness probe",
    responses={503: {"model": Readiness, "description": "The database is unreachable."}},
)
async def ready(resources: ResourcesDep, response: Response) -> Readiness:
    """Answers 200 when the service can serve requests, and **503** when the
    database is unreachable. A cache outage does not make the service unready:
    the cache is best-effort."""
    checks = await service.run_checks(
        resources.engine, resources.cache, resources.settings.health_check_timeout_seconds
    )
    if checks.database.status is not CheckStatus.HEALTHY:
        response.status_code = 503
        return Readiness(status="not_ready", checks=checks)
    return Readiness(status="ready", checks=checks)


@router.get("/jobs", response_model=JobsHealth, summary="Background jobs health")
async def jobs(resources: ResourcesDep) -> JobsHealth:
    """The background job system: the queue (its backend, jobs waiting and jobs taken
    but unfinished), the workers alive (each sends a heartbeat every few seconds), the
    newest failed jobs of the last day, and how many jobs are stale (their worker died
    and no other will take them).

    Always answers **200**; `status` is `degraded` when queued jobs cannot run."""
    settings = resources.settings
    return await service.jobs_health(
        resources.jobs,
        resources.sessionmaker,
        settings,
        settings.health_check_timeout_seconds,
    )
