import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class CheckStatus(StrEnum):
    HEALTHY = "healthy"
    UNHEALTHY = "unhealthy"


class OverallStatus(StrEnum):
    HEALTHY = "healthy"
    DEGRADED = "degraded"


class CheckResult(BaseModel):
    status: CheckStatus
    response_time_ms: float = Field(description="How long the check took.", examples=[1.7])
    timestamp: datetime
    backend: str | None = Field(
        default=None, description="Which backend answered, e.g. `sqlite`, `postgresql`, `redis`."
    )
    error: str | None = Field(
        default=None, description="Why the check failed: the error's type, never its secrets."
    )


class JobsCheckResult(CheckResult):
    workers: int | None = Field(
        default=None,
        description="Workers with a live heartbeat. None running does not fail this check "
        "(workers may be scaled to zero on purpose); `/health/jobs` reports it as degraded.",
        examples=[2],
    )


class HealthChecks(BaseModel):
    database: CheckResult
    cache: CheckResult
    jobs: JobsCheckResult | None = Field(
        default=None,
        description="The job queue: healthy when its Valkey answers. Present only when "
        "VALKEY_URL is set.",
    )


class Health(BaseModel):
    status: OverallStatus = Field(description="`degraded` when any check fails.")
    service: str = Field(examples=["wump-api"])
    version: str = Field(examples=["0.1.0"])
    timestamp: datetime
    checks: HealthChecks


class Liveness(BaseModel):
    status: str = Field(examples=["alive"])


class Readiness(BaseModel):
    status: str = Field(description="`ready` or `not_ready`.", examples=["ready"])
    checks: HealthChecks


class QueueInfo(BaseModel):
    backend: str = Field(description="`valkey` (a shared stream) or `memory` (in-process).")
    name: str = Field(examples=["wump:jobs"])
    runs_jobs: bool = Field(
        description="False when nothing will run queued jobs here (`JOB_MODE=off` without "
        "Valkey): they stay pending."
    )
    waiting: int | None = Field(
        default=None, description="Jobs no worker has taken yet (Valkey only)."
    )
    in_progress: int | None = Field(
        default=None,
        description="Jobs a worker took and has not finished: running, or left by a worker "
        "that died (redelivered after JOB_REDELIVERY_SECONDS). Valkey only.",
    )


class WorkerInfo(BaseModel):
    id: str
    hostname: str
    pid: int
    started_at: datetime
    heartbeat_at: datetime
    running: int = Field(description="Jobs running in the worker now.")
    finished: int = Field(description="Attempts it finished since it started.")
    failed: int = Field(description="Of those, attempts that failed (retried or not).")


class FailedJob(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    type: str = Field(validation_alias="job_type", examples=["scan.repository"])
    attempts: int
    error_message: str | None
    created_at: datetime


class JobsHealth(BaseModel):
    status: OverallStatus = Field(
        description="`degraded` when queued jobs cannot run: Valkey is unreachable or no "
        "worker is alive (or, without Valkey, `JOB_MODE=off`)."
    )
    queue: QueueInfo
    workers: list[WorkerInfo] = Field(description="Workers with a live heartbeat.")
    recent_failures: list[FailedJob] = Field(
        description="The newest failed jobs of the last 24 hours (the dead-letter records; "
        "`GET /api/v1/jobs?status=failed` lists them all)."
    )
    stale_jobs: int = Field(
        description="Jobs `running` or `pending` that no worker will finish any more."
    )
    error: str | None = Field(default=None, description="Why the queue could not be read.")
