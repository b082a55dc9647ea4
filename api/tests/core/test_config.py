from typing import Any

import pytest
from pydantic import ValidationError

from wump.core.config import (
    DEFAULT_API_KEY_PEPPER,
    AuthMode,
    Environment,
    LogFormat,
    Settings,
)


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


PRODUCTION: dict[str, Any] = {
    "environment": Environment.PRODUCTION,
    "api_key_pepper": "a-real-secret-pepper-from-a-vault",
    "auth_mode": AuthMode.KEYS,
}


def test_production_logs_json_by_default() -> None:
    settings = Settings(_env_file=None, **PRODUCTION)
    assert settings.effective_log_format is LogFormat.JSON


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"cors_origins": ["*"]}, "CORS_ORIGINS='\\*' is not allowed"),
        ({"api_key_pepper": DEFAULT_API_KEY_PEPPER}, "API_KEY_PEPPER must be set"),
        ({"auth_mode": AuthMode.OPEN}, "AUTH_MODE=open needs ALLOW_OPEN_AUTH_IN_PRODUCTION"),
    ],
)
def test_production_refuses_unsafe_settings(override: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Settings(_env_file=None, **(PRODUCTION | override))


def test_production_allows_open_access_when_deliberate() -> None:
    settings = Settings(
        _env_file=None,
        **(PRODUCTION | {"auth_mode": AuthMode.OPEN, "allow_open_auth_in_production": True}),
    )
    assert settings.auth_mode is AuthMode.OPEN


def test_trusted_proxies_are_parsed_and_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.1")
    assert Settings(_env_file=None).trusted_proxies == ["10.0.0.0/8", "127.0.0.1"]
    with pytest.raises(ValidationError, match="not an address or network"):
        Settings(_env_file=None, trusted_proxies=["proxy.example"])


def test_unknown_log_level_is_refused() -> None:
    with pytest.raises(ValidationError, match="unknown log level"):
        Settings(_env_file=None, log_level="LOUD")
