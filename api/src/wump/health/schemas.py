from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field


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


class HealthChecks(BaseModel):
    database: CheckResult
    cache: CheckResult


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
