import io
import json
import logging
from collections.abc import Iterator

import httpx
import pytest
import structlog

from tests.logs import wump_formatter
from wump.core.config import Settings
from wump.core.logging import REDACTED, configure_logging, redact_secrets, redact_text


@pytest.fixture
def json_logs(settings: Settings, client: httpx.AsyncClient) -> Iterator[io.StringIO]:
    """Capture what wump's own formatter writes, as JSON lines (after the app set logging up)."""
    configure_logging(settings.model_copy(update={"log_format": "json"}))
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(wump_formatter())
    logging.getLogger().addHandler(handler)
    yield stream
    logging.getLogger().removeHandler(handler)
    configure_logging(settings)


def _lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{")]


async def test_every_response_carries_a_generated_request_id(client: httpx.AsyncClient) -> None:
    first = await client.get("/health/live")
    second = await client.get("/health/live")

    assert len(first.headers["x-request-id"]) == 32
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


async def test_valid_incoming_request_id_is_kept(client: httpx.AsyncClient) -> None:
    response = await client.get("/health/live", headers={"X-Request-ID": "abc-123.def"})
    assert response.headers["x-request-id"] == "abc-123.def"


@pytest.mark.parametrize("bad", ["x" * 200, "evil id with spaces", "line\tbreak"])
async def test_invalid_incoming_request_id_is_replaced(client: httpx.AsyncClient, bad: str) -> None:
    response = await client.get("/health/live", headers={"X-Request-ID": bad})
    assert response.headers["x-request-id"] != bad
    assert len(response.headers["x-request-id"]) == 32


async def test_access_log_has_method_path_status_duration_and_request_id(
    json_logs: io.StringIO, client: httpx.AsyncClient
) -> None:
    response = await client.get("/health/live")

    access = [line for line in _lines(json_logs) if line.get("event") == "request"]
    assert len(access) == 1
    line = access[0]
    assert line["method"] == "GET"
    assert line["path"] == "/health/live"
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], float)
    assert line["request_id"] == response.headers["x-request-id"]
    assert line["level"] == "info"
    assert "timestamp" in line


async def test_secrets_never_reach_the_log_output(json_logs: io.StringIO) -> None:
    log = structlog.get_logger("test")
    log.info(
        "calling_provider",
        authorization="Bearer ghp_abcdefghijklmnopqrstuvwxyz0123456789",
        headers={"X-API-Key": "wump_ab12cd34_s3cr3ts3cr3ts3cr3ts3cr3t"},
        url="postgresql+asyncpg://wump:hunter2@db:5432/wump",
        note="used token ghp_abcdefghijklmnopqrstuvwxyz0123456789 today",
    )

    output = json_logs.getvalue()
    assert "ghp_abcdefghijklmnopqrstuvwxyz0123456789" not in output
    assert "s3cr3t" not in output
    assert "hunter2" not in output
    assert REDACTED in output
    assert "calling_provider" in output


def test_redaction_keeps_ordinary_text() -> None:
    assert redact_text("pkg:pypi/httpx depends on anyio") == "pkg:pypi/httpx depends on anyio"
    assert redact_text("Bearer abc.def") == f"Bearer {REDACTED}"
    event = redact_secrets(None, "info", {"event": "x", "token": "t", "count": 3})
    assert event == {"event": "x", "token": REDACTED, "count": 3}
