"""`/jobs`: queue background jobs and follow them; `/packages/.../refresh` for everyone.

The refresh route lives here rather than in the packages router because it
queues a job. It is a POST, so it never competes with the packages router's
GET routes for the same paths (`/packages/{ecosystem}/{name}` would otherwise
read `refresh` as part of the name).
"""

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from wump.auth.dependencies import require_scope
from wump.auth.ratelimit import COST_EXTENSION, COST_JOB_TRIGGER
from wump.core.deps import ResourcesDep, SessionDep
from wump.core.errors import problem_responses
from wump.core.pagination import Page, PageDep
from wump.jobs import service
from wump.jobs.schemas import JobCreate, JobRead, JobType
from wump.models import JobStatus

router = APIRouter(tags=["jobs"])

JobIdPath = Annotated[uuid.UUID, Path(description="The job's id, as returned when it was queued.")]


def _now() -> datetime:
    return datetime.now(UTC)


@router.post(
    "/jobs",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=JobRead,
    summary="Queue a job",
    dependencies=[require_scope("admin")],
    responses=problem_responses(403, 414, 422),
)
async def create_job(body: JobCreate, session: SessionDep, resources: ResourcesDep) -> JobRead:
    """Queue one background job (needs an API key with the `admin` scope).

    | `type` | `args` | What it does |
    | --- | --- | --- |
    | `discover.dependents` | `purl` | Dependent repositories of a package from ecosyste.ms (then Libraries.io), loaded with that provenance; queues scans of their owners. |
    | `scan.organization` | `login` | A GitHub owner's profile, sponsorship signals and repositories; queues scans of changed repositories. |
    | `scan.repository` | `full_name` | A GitHub repository and its dependency-graph SBOM (source `sbom`); skipped when unchanged (ETag), removed when gone. |
    | `enrich.organizations` | `stale_after` (optional, e.g. `P7D`) | Refreshes profiles older than `stale_after`. Weekly. |
    | `refresh.tracked` | none | Re-discovers tracked and recently requested packages. Daily at 02:00 UTC. |
    | `cleanup` | none | Fails abandoned jobs, prunes old job records, flags archived and drops vanished repositories. Monthly. |

    Answers **202** with the job record (`pending`); the job is sent to the queue once
    the record is stored. Follow it with `GET /api/v1/jobs/{id}`. An unknown `type` or
    invalid `args` is a **422** problem.
    """  # noqa: E501
    execution = await service.submit(
        session, resources.sessionmaker, resources.jobs, body.type, body.args
    )
    return service.read(execution, settings=resources.settings, now=_now())


@router.get(
    "/jobs",
    response_model=Page[JobRead],
    summary="List jobs",
    dependencies=[require_scope("admin")],
    responses=problem_responses(400, 403, 414, 422),
)
async def list_jobs(
    session: SessionDep,
    resources: ResourcesDep,
    page: PageDep,
    job_status: Annotated[
        JobStatus | None,
        Query(
            alias="status",
            description="Only jobs in this state. `failed` lists the dead-letter records.",
        ),
    ] = None,
    job_type: Annotated[JobType | None, Query(alias="type", description="Only this job.")] = None,
) -> Page[JobRead]:
    """Jobs, newest first, with their state, attempts and errors (needs the `admin`
    scope). Paginated with `cursor`. `stale: true` marks a job whose worker died and
    that no worker will finish; the monthly cleanup records it as failed."""
    return await service.list_jobs(
        session,
        status=job_status,
        job_type=job_type,
        page=page,
        settings=resources.settings,
        now=_now(),
    )


@router.get(
    "/jobs/{job_id}",
    response_model=JobRead,
    summary="Get a job",
    responses=problem_responses(404, 414, 422),
)
async def get_job(job_id: JobIdPath, session: SessionDep, resources: ResourcesDep) -> JobRead:
    """One job: its state (`pending`, `running`, `completed`, `failed`), attempts, records
    processed, the last error and what the run noticed. Anyone holding a job's id may
    read it, so a package refresh can be followed. Unknown ids are a **404** problem."""
    execution = await service.get(session, job_id)
    return service.read(execution, settings=resources.settings, now=_now())


@router.post(
    "/packages/{ecosystem}/{name:path}/refresh",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=JobRead,
    summary="Refresh a package's dependents",
    tags=["packages"],
    responses=problem_responses(404, 414, 422),
    openapi_extra={COST_EXTENSION: COST_JOB_TRIGGER},
)
async def refresh_package(
    ecosystem: Annotated[
        str,
        Path(
            description="The package's ecosystem (a purl type such as `pypi` or `npm`, or an "
            "alias such as `rubygems`). Unknown ones are a 404.",
            max_length=32,
            examples=["pypi"],
        ),
    ],
    name: Annotated[
        str,
        Path(
            description="The package name; it may contain `/` and `@` (`@types/node`).",
            max_length=512,
            examples=["requests"],
        ),
    ],
    session: SessionDep,
    resources: ResourcesDep,
) -> JobRead:
    """Ask wump to re-discover who depends on this package. Open to every caller, and
    charged at the job-trigger cost (20 requests) against the caller's rate limit.

    Answers **202** with the discovery job. When one is already queued or running, or
    finished within the last hour, that job is returned instead of a new one: refreshing
    twice costs the providers nothing. Follow the job with `GET /api/v1/jobs/{id}`; when
    it completes, the package's dependents include what it found. The package is kept
    fresh by the daily refresh for 30 days after it was last asked about.
    """
    execution = await service.refresh_package(
        session,
        resources.sessionmaker,
        resources.jobs,
        ecosystem,
        name,
        settings=resources.settings,
        now=_now(),
    )
    return service.read(execution, settings=resources.settings, now=_now())
