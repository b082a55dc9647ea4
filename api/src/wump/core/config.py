"""Typed settings, read from the environment (and an optional `.env` file)."""

import ipaddress
from enum import StrEnum
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class LogFormat(StrEnum):
    JSON = "json"
    CONSOLE = "console"


class ScoringWeights(BaseModel):
    """The sponsorship ranking's weights (see ARCHITECTURE.md, "Ranking for sponsorship").

    Each `*_weight` is a factor's share of the score; the score is rescaled so the
    weights always add up to 100 points, whatever their sum. Set a weight to 0 to
    drop a factor.
    """

    model_config = ConfigDict(frozen=True)

    repositories_weight: float = Field(default=30.0, ge=0, le=1000)
    stars_weight: float = Field(default=25.0, ge=0, le=1000)
    organization_weight: float = Field(default=10.0, ge=0, le=1000)
    verified_weight: float = Field(default=5.0, ge=0, le=1000)
    contact_weight: float = Field(default=5.0, ge=0, le=1000)
    recent_activity_weight: float = Field(default=10.0, ge=0, le=1000)
    runtime_weight: float = Field(default=10.0, ge=0, le=1000)
    sponsorship_weight: float = Field(default=5.0, ge=0, le=1000)
    # Log scales saturate here: 100 dependent repositories or 100k stars earn the full factor.
    repositories_saturation: int = Field(default=100, ge=1)
    stars_saturation: int = Field(default=100_000, ge=1)
    recent_activity_days: int = Field(default=90, ge=1, le=3650)

    @model_validator(mode="after")
    def _some_weight(self) -> Self:
        if self.total_weight <= 0:
            raise ValueError("at least one scoring weight must be positive")
        return self

    @property
    def total_weight(self) -> float:
        return (
            self.repositories_weight
            + self.stars_weight
            + self.organization_weight
            + self.verified_weight
            + self.contact_weight
            + self.recent_activity_weight
            + self.runtime_weight
            + self.sponsorship_weight
        )


class ResponseCacheSettings(BaseModel):
    """How long computed API responses live in the cache and in HTTP caches."""

    model_config = ConfigDict(frozen=True)

    dependents_ttl_seconds: int = Field(default=3600, ge=1)
    organization_ttl_seconds: int = Field(default=6 * 3600, ge=1)
    stats_ttl_seconds: int = Field(default=900, ge=1)
    # Browsers and proxies may reuse a response this long without revalidating.
    http_max_age_seconds: int = Field(default=300, ge=0)
    # A CSV export stops after this many rows, so one request cannot walk the whole graph.
    csv_max_rows: int = Field(default=100_000, ge=1)


class AuthMode(StrEnum):
    OPEN = "open"
    KEYS = "keys"


# Refused in production: a pepper anyone can read in the source is no pepper.
DEFAULT_API_KEY_PEPPER = "wump-development-pepper-change-me"


class Settings(BaseSettings):
    """Every knob wump has. `.env.example` documents each one."""

    model_config = SettingsConfigDict(
        env_file=".env", extra="ignore", frozen=True, env_nested_delimiter="__"
    )

    environment: Environment = Environment.DEVELOPMENT

    database_url: str = "sqlite+aiosqlite:///./wump.db"
    database_pool_size: int = Field(default=10, ge=1, le=200)
    database_max_overflow: int = Field(default=10, ge=0, le=200)
    database_echo: bool = False

    # Empty means the in-process cache: the embedded default needs no Valkey.
    valkey_url: str = ""
    cache_prefix: str = "wump"

    log_level: str = "INFO"
    log_format: LogFormat | None = None

    otel_enabled: bool = False
    otel_service_name: str = "wump-api"
    otel_exporter_otlp_endpoint: str = ""

    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)

    github_token: str = ""
    libraries_io_api_key: str = ""

    # `open`: anonymous reads at the anonymous limit, keys raise the limit.
    # `keys`: every /api/v1 route needs a key.
    auth_mode: AuthMode = AuthMode.OPEN
    allow_open_auth_in_production: bool = False
    api_key_pepper: str = Field(default=DEFAULT_API_KEY_PEPPER, min_length=16)
    rate_limit_anonymous_per_minute: int = Field(default=30, ge=1)
    rate_limit_free_per_minute: int = Field(default=60, ge=1)
    rate_limit_standard_per_minute: int = Field(default=600, ge=1)
    rate_limit_premium_per_minute: int = Field(default=6000, ge=1)
    # Proxies (addresses or CIDR networks) whose X-Forwarded-For is believed.
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    max_request_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    max_url_length: int = Field(default=4096, ge=256)

    # A dependency that does not answer within this budget is reported as down.
    health_check_timeout_seconds: float = Field(default=1.0, gt=0, le=30)
    http_timeout_seconds: float = Field(default=20.0, gt=0, le=300)

    # Nested: SCORING__RUNTIME_WEIGHT=15, RESPONSE_CACHE__DEPENDENTS_TTL_SECONDS=600.
    scoring: ScoringWeights = Field(default_factory=ScoringWeights)
    response_cache: ResponseCacheSettings = Field(default_factory=ResponseCacheSettings)

    # Data providers (see wump/providers/README.md). ecosyste.ms answers requests that
    # name a contact address from its faster "polite" pool.
    ecosystems_mailto: str = ""
    github_api_url: str = "https://api.github.com"
    ecosystems_repos_url: str = "https://repos.ecosyste.ms/api/v1"
    ecosystems_packages_url: str = "https://packages.ecosyste.ms/api/v1"
    libraries_io_url: str = "https://libraries.io/api"
    deps_dev_url: str = "https://api.deps.dev"
    # Libraries.io allows 60 requests a minute for each API key.
    libraries_io_requests_per_minute: int = Field(default=60, ge=1, le=60)
    # Which provider answers first when several can; the next is tried when it fails.
    provider_fallback_order: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["ecosystems", "librariesio", "depsdev", "github"]
    )
    # Requests one job may send to one provider before it stops.
    provider_request_budget: int = Field(default=1000, ge=1)
    provider_max_attempts: int = Field(default=3, ge=1, le=10)
    # A longer Retry-After or rate-limit reset is not waited out in-process:
    # the error goes back to the caller (a job is retried later instead).
    provider_max_retry_wait_seconds: float = Field(default=60.0, ge=0, le=3600)

    @field_validator("provider_fallback_order", mode="before")
    @classmethod
    def _split_provider_order(cls, value: object) -> object:
        if isinstance(value, str):
            return [name.strip().lower() for name in value.split(",") if name.strip()]
        return value

    @field_validator("ecosystems_mailto")
    @classmethod
    def _mail_address(cls, value: str) -> str:
        value = value.strip()
        if value and "@" not in value:
            raise ValueError("ECOSYSTEMS_MAILTO must be an email address")
        return value

    @field_validator("cors_origins", "trusted_proxies", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError(f"unknown log level {value!r}")
        return level

    @field_validator("trusted_proxies")
    @classmethod
    def _valid_networks(cls, value: list[str]) -> list[str]:
        for network in value:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError:
                raise ValueError(
                    f"TRUSTED_PROXIES: {network!r} is not an address or network"
                ) from None
        return value

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Self:
        if self.environment is not Environment.PRODUCTION:
            return self
        problems = []
        if "*" in self.cors_origins:
            problems.append("CORS_ORIGINS='*' is not allowed")
        if self.api_key_pepper == DEFAULT_API_KEY_PEPPER:
            problems.append("API_KEY_PEPPER must be set to a secret of your own")
        if self.auth_mode is AuthMode.OPEN and not self.allow_open_auth_in_production:
            problems.append(
                "AUTH_MODE=open needs ALLOW_OPEN_AUTH_IN_PRODUCTION=true to be deliberate"
            )
        if problems:
            raise ValueError("unsafe settings for ENVIRONMENT=production: " + "; ".join(problems))
        return self

    @property
    def effective_log_format(self) -> LogFormat:
        if self.log_format is not None:
            return LogFormat(self.log_format)
        if self.environment is Environment.PRODUCTION:
            return LogFormat.JSON
        return LogFormat.CONSOLE

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    # Background jobs (see ARCHITECTURE.md, "Providers and jobs"). With VALKEY_URL the
    # queue is a Valkey stream that `wump worker` processes consume; without it, jobs
    # run inside the process that queued them.
    job_queue_name: str = Field(default="wump:jobs", min_length=1, max_length=200)
    # Attempts per job, the first included; only transient provider and connection
    # failures are retried.
    job_max_attempts: int = Field(default=3, ge=1, le=10)
    # Backoff before a retry: about this many seconds, doubling per attempt, jittered.
    job_retry_delay_seconds: float = Field(default=10.0, ge=0, le=3600)
    job_retry_max_delay_seconds: float = Field(default=300.0, ge=0, le=86400)
    # A job running longer is stopped and recorded as failed.
    job_timeout_seconds: int = Field(default=1800, ge=1, le=86400)
    # A job a worker took but never acknowledged (the worker died) goes to another
    # worker after this long. Must be longer than JOB_TIMEOUT_SECONDS.
    job_redelivery_seconds: int = Field(default=2100, ge=1, le=172800)
    # Jobs one worker process runs at the same time.
    job_concurrency: int = Field(default=10, ge=1, le=1000)
    job_heartbeat_seconds: float = Field(default=5.0, gt=0, le=300)
    # Finished job records are deleted by the monthly cleanup after this many days.
    job_retention_days: int = Field(default=90, ge=1, le=3650)
    # Follow-up jobs (scans of owners and repositories found) one job may queue.
    job_follow_up_limit: int = Field(default=100, ge=0, le=100_000)
    # Pages (of 100) of dependents or repositories one job reads from one provider.
    job_max_pages: int = Field(default=50, ge=1, le=10_000)
    # Owners refreshed by one enrichment run, and the age that makes a profile stale.
    job_enrich_batch: int = Field(default=500, ge=1, le=100_000)
    job_enrich_stale_days: int = Field(default=7, ge=1, le=3650)
    # refresh.tracked re-discovers packages requested within this many days.
    job_refresh_requested_days: int = Field(default=30, ge=1, le=3650)
    # A package refresh asked again within this many seconds returns the earlier job.
    job_refresh_dedupe_seconds: int = Field(default=3600, ge=0, le=604800)
    # Repositories not scanned for this many days are re-checked by the cleanup job.
    job_recheck_after_days: int = Field(default=30, ge=1, le=3650)
    job_cleanup_repository_checks: int = Field(default=200, ge=0, le=100_000)
    # Without VALKEY_URL, how the process that queued a job runs it: `background` (in
    # the same process, after the request), `inline` (to its end before the call that
    # queued it returns), or `off` (never: jobs stay pending). Unset means `off` under
    # ENVIRONMENT=test, so no test reaches a real provider by accident, else `background`.
    job_mode: Literal["background", "inline", "off"] | None = None

    @model_validator(mode="after")
    def _redelivery_after_timeout(self) -> Self:
        if self.job_redelivery_seconds <= self.job_timeout_seconds:
            raise ValueError(
                "JOB_REDELIVERY_SECONDS must be longer than JOB_TIMEOUT_SECONDS, or a job "
                "still running would be handed to a second worker"
            )
        return self

    @property
    def effective_job_mode(self) -> str:
        if self.job_mode is not None:
            return self.job_mode
        return "off" if self.environment is Environment.TEST else "background"
