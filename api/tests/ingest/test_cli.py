import asyncio
import io
import json
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from rich.console import Console
from typer.testing import CliRunner

from wump.cli import app
from wump.core.progress import track
from wump.ingest import parsers

from .sources.checkouts import FIXTURES, materialize

runner = CliRunner()
APP_REQUIREMENTS = FIXTURES / "app" / "requirements.txt"
APP_PACKAGE_JSON = FIXTURES / "app" / "web" / "package.json"
BROKEN_PACKAGE_JSON = FIXTURES / "broken" / "web" / "package.json"


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "wump.db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{path}")
    monkeypatch.setenv("VALKEY_URL", "")
    monkeypatch.setenv("LOG_FORMAT", "json")
    return path


def query(database: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(database) as connection:
        return connection.execute(sql).fetchall()


def edges(database: Path) -> set[tuple[str, str]]:
    rows = query(
        database,
        "SELECT r.full_name, p.purl FROM dependencies d "
        "JOIN repositories r ON r.id = d.repository_id JOIN packages p ON p.id = d.package_id",
    )
    return {(repository, purl) for repository, purl in rows}


def test_parse_json_prints_exactly_the_documented_keys() -> None:
    result = runner.invoke(app, ["parse", "--json", str(APP_REQUIREMENTS), str(APP_PACKAGE_JSON)])

    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    assert {tuple(sorted(item)) for item in found} == {
        ("dependency_type", "ecosystem", "is_direct", "manifest_path", "name", "requirement")
    }
    assert {
        "ecosystem": "npm",
        "name": "vitest",
        "requirement": "^2.1.0",
        "dependency_type": "development",
        "is_direct": True,
        "manifest_path": str(APP_PACKAGE_JSON),
    } in found
    assert [item["name"] for item in found] == ["httpx", "rich", "react", "vitest"]


def test_parse_prints_a_table_for_people() -> None:
    result = runner.invoke(app, ["parse", str(APP_REQUIREMENTS)])

    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["ECOSYSTEM", "NAME", "REQUIREMENT", "TYPE", "DIRECT", "MANIFEST"]
    assert lines[1].split() == [
        "pypi",
        "httpx",
        ">=0.27",
        "runtime",
        "direct",
        str(APP_REQUIREMENTS),
    ]


def test_parse_reports_a_malformed_file_with_its_line_and_still_prints_the_others() -> None:
    result = runner.invoke(
        app, ["parse", "--json", str(BROKEN_PACKAGE_JSON), str(APP_REQUIREMENTS), "missing.txt"]
    )

    assert result.exit_code == 1
    assert [item["name"] for item in json.loads(result.stdout)] == ["httpx", "rich"]
    assert f"{BROKEN_PACKAGE_JSON}:5: invalid JSON" in result.stderr
    assert "missing.txt: no such file" in result.stderr


def test_parse_refuses_files_over_the_size_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parsers, "MAX_FILE_BYTES", 8)

    result = runner.invoke(app, ["parse", str(APP_REQUIREMENTS)])

    assert result.exit_code == 1
    assert "over the 8-byte limit" in result.stderr


def test_ingest_path_loads_checkouts_and_prints_a_summary(database: Path, tmp_path: Path) -> None:
    checkout = materialize("app", tmp_path)

    result = runner.invoke(app, ["ingest", "path", str(checkout)])

    assert result.exit_code == 0, result.output
    assert "ingest.path: 1 repositories, 5 packages (5 new), 5 edges" in result.stdout
    assert ("Acme/Rocket", "pkg:npm/react") in edges(database)
    [(job_type, status, records)] = query(
        database, "SELECT job_type, status, records_processed FROM job_executions"
    )
    assert (job_type, status, records) == ("ingest.path", "completed", 1)


def test_ingest_path_exits_1_when_a_manifest_fails_and_loads_the_rest(
    database: Path, tmp_path: Path
) -> None:
    good = materialize("app", tmp_path)
    broken = materialize("broken", tmp_path)

    result = runner.invoke(app, ["ingest", "path", str(broken), str(good)])

    assert result.exit_code == 1
    assert f"failed: {broken / 'web' / 'package.json'}:5: invalid JSON" in result.stderr
    stored = edges(database)
    assert ("acme/broken", "pkg:pypi/httpx") in stored
    assert ("Acme/Rocket", "pkg:pypi/fastapi") in stored


def test_ingest_path_with_repo_and_several_checkouts_is_a_usage_error(
    database: Path, tmp_path: Path
) -> None:
    result = runner.invoke(
        app, ["ingest", "path", "--repo", "acme/rocket", str(tmp_path), str(tmp_path)]
    )

    assert result.exit_code == 2
    assert "single checkout" in result.stderr


def test_ingest_environment_loads_the_installed_distributions(database: Path) -> None:
    result = runner.invoke(app, ["ingest", "environment"])

    assert result.exit_code == 0, result.output
    assert ("encode/httpx", "pkg:pypi/anyio") in edges(database)
    # Not a terminal: progress arrives as structured log lines on stderr.
    finished = [
        json.loads(line) for line in result.stderr.splitlines() if '"progress_finished"' in line
    ]
    assert finished
    assert finished[0]["unit"] == "distributions"
    assert finished[0]["done"] == finished[0]["total"]


def test_ingest_librariesio_dump_reports_the_truncated_row(database: Path) -> None:
    dump = FIXTURES.parent / "librariesio_dump"

    result = runner.invoke(app, ["ingest", "librariesio-dump", str(dump)])

    assert result.exit_code == 1
    assert "repository_dependencies-1.6.0-2020-01-12.csv:10: row has 10 fields" in result.stderr
    assert ("hooli/nucleus", "pkg:nuget/newtonsoft.json") in edges(database)


async def test_demo_serves_a_fresh_database_of_this_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    demo_database = tmp_path / "demo.db"
    demo_database.write_bytes(b"a stale file from an earlier demo")
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://nobody@127.0.0.1:1/never-used")
    served: dict[str, Any] = {}

    def serve(application: FastAPI, **options: Any) -> None:
        served.update(options, app=application)

    monkeypatch.setattr(uvicorn, "run", serve)

    result = await _invoke_in_thread(["demo", "--port", "8123", "--database", str(demo_database)])

    assert result.exit_code == 0, result.output
    assert (served["host"], served["port"]) == ("127.0.0.1", 8123)
    assert "http://127.0.0.1:8123/api/v1/packages/pypi/pydantic/dependents" in result.stdout
    assert ("fastapi/fastapi", "pkg:pypi/pydantic") in edges(demo_database)
    application: FastAPI = served["app"]
    assert application.state.settings.database_url.endswith(str(demo_database))
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://demo") as client:
            response = await client.get("/health")
    assert response.status_code == 200


async def _invoke_in_thread(args: list[str]) -> Any:
    # The command runs its own event loop; keep it off the test's loop.
    return await asyncio.to_thread(runner.invoke, app, args)


def test_a_terminal_gets_a_progress_bar_with_the_failures_so_far() -> None:
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=120)

    with track("ingest.path", total=3, unit="checkouts", console=console) as progress:
        progress.advance(1)
        progress.advance(2, failures=1)

    shown = screen.getvalue()
    assert "3/3" in shown
    assert "checkouts" in shown
    assert "failures=1" in shown
