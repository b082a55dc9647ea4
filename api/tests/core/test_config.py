import pytest
from pydantic import ValidationError

from wump.core.config import Environment, LogFormat, Settings


def test_defaults_are_the_embedded_setup(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_URL", "VALKEY_URL", "ENVIRONMENT", "LOG_FORMAT"):
        monkeypatch.delenv(name, raising=False)

    settings = Settings(_env_file=None)

    assert settings.database_url == "sqlite+aiosqlite:///./wump.db"
    assert settings.valkey_url == ""
    assert settings.is_sqlite
    assert settings.otel_enabled is False
    assert settings.effective_log_format is LogFormat.CONSOLE


def test_environment_variables_switch_to_real_services(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://postgres@db/wump")
    monkeypatch.setenv("VALKEY_URL", "redis://cache:6379/0")
    monkeypatch.setenv("CORS_ORIGINS", "https://a.example, https://b.example")
    monkeypatch.setenv("LOG_LEVEL", "debug")

    settings = Settings(_env_file=None)

    assert not settings.is_sqlite
    assert settings.valkey_url == "redis://cache:6379/0"
    assert settings.cors_origins == ["https://a.example", "https://b.example"]
    assert settings.log_level == "DEBUG"


def test_production_logs_json_by_default() -> None:
    settings = Settings(_env_file=None, environment=Environment.PRODUCTION)
    assert settings.effective_log_format is LogFormat.JSON


def test_production_refuses_wildcard_cors() -> None:
    with pytest.raises(ValidationError, match="CORS_ORIGINS"):
        Settings(_env_file=None, environment=Environment.PRODUCTION, cors_origins=["*"])


def test_unknown_log_level_is_refused() -> None:
    with pytest.raises(ValidationError, match="unknown log level"):
        Settings(_env_file=None, log_level="LOUD")
