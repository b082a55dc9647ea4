"""Typed settings, read from the environment (and an optional `.env` file)."""

from enum import StrEnum
from typing import Annotated, Self

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class LogFormat(StrEnum):
    JSON = "json"
    CONSOLE = "console"


class Settings(BaseSettings):
    """Every knob wump has. `.env.example` documents each one."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

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

    # A dependency that does not answer within this budget is reported as down.
    health_check_timeout_seconds: float = Field(default=1.0, gt=0, le=30)
    http_timeout_seconds: float = Field(default=20.0, gt=0, le=300)

    @field_validator("cors_origins", mode="before")
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

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Self:
        if self.environment is Environment.PRODUCTION and "*" in self.cors_origins:
            raise ValueError("CORS_ORIGINS='*' is not allowed when ENVIRONMENT=production")
        return self

    @property
    def effective_log_format(self) -> LogFormat:
        if self.log_format is not None:
            return self.log_format
        if self.environment is Environment.PRODUCTION:
            return LogFormat.JSON
        return LogFormat.CONSOLE

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
