"""`wump jobs run`, `wump jobs list`, `wump worker` and `wump scheduler` from the shell.

The commands build their own HTTP clients from the environment, so the fake
provider network is plugged in with respx at the transport level.
"""

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
import respx
from typer.testing import CliRunner

from tests.jobs.conftest import GITHUB_TOKEN, LIBRARIES_IO_KEY
from tests.jobs.network import FAST_BASE, FakeNetwork, Reply, provider_settings
from wump.cli import app

runner = CliRunner()
SBOM = r"/github/repos/acme/weather/dependency-graph/sbom"


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "jobs.db"
    environment = {
        "DATABASE_URL": f"sqlite+aiosqlite:///{path}",
        "VALKEY_URL": "",
        "ENVIRONMENT": "development",
        "GITHUB_TOKEN": GITHUB_TOKEN,
        "LIBRARIES_IO_API_KEY": LIBRARIES_IO_KEY,
        # No waiting between attempts, so failures are quick to reach.
        "PROVIDER_MAX_ATTEMPTS": "1",
        "JOB_RETRY_DELAY_SECONDS": "0",
        "JOB_RETRY_MAX_DELAY_SECONDS": "0",
        **{name.upper(): value for name, value in provider_settings(FAST_BASE).items()},
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return path


@pytest.fixture
def network() -> Iterator[FakeNetwork]:
    network = FakeNetwork()
    with respx.mock(assert_all_called=False) as mock:
        mock.route(host="providers.test").mock(side_effect=network.respond)
        yield network


def rows(database: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(database) as connection:
        return connection.execute(sql).fetchall()


def test_jobs_run_discovers_dependents_and_runs_the_follow_ups(
    database: Path, network: FakeNetwork
) -> None:
    result = runner.invoke(app, ["jobs", "run", "discover.dependents", "pkg:pypi/requests"])

    assert result.exit_code == 0, result.output
    assert "discover.dependents completed: 3 repositories, 1 attempt(s)" in result.output
    assert "follow-up jobs: 3 scan.organization" in result.output
    assert rows(database, "SELECT job_type, status FROM job_executions ORDER BY job_type") == [
        ("discover.dependents", "completed"),
        ("scan.organization", "completed"),
        ("scan.organization", "completed"),
        ("scan.organization", "completed"),
    ]
    assert rows(database, "SELECT count(*) FROM dependencies") == [(3,)]


def test_jobs_run_takes_named_arguments(database: Path, network: FakeNetwork) -> None:
    result = runner.invoke(app, ["jobs", "run", "scan.repository", "full_name=acme/weather"])

    assert result.exit_code == 0, result.output
    assert rows(database, "SELECT args FROM job_executions") == [('{"full_name": "acme/weather"}',)]


def test_a_failing_job_exits_1_and_is_listed_as_a_dead_letter(
    database: Path, network: FakeNetwork
) -> None:
    network.fail(SBOM, *[Reply(500, {"message": "boom"})] * 3)

    failed = runner.invoke(app, ["jobs", "run", "scan.repository", "acme/weather"])
    listed = runner.invoke(app, ["jobs", "list", "--status", "failed"])

    assert failed.exit_code == 1
    assert "scan.repository failed: ProviderTransientError: github: answered 500" in failed.output
    assert listed.exit_code == 0, listed.output
    assert "scan.repository" in listed.output
    assert "failed" in listed.output
    assert rows(database, "SELECT status, attempts FROM job_executions") == [("failed", 3)]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["jobs", "run", "mine.bitcoin"], "unknown job type 'mine.bitcoin'"),
        (["jobs", "run", "scan.repository", "not a repository"], "invalid arguments"),
        (["jobs", "run", "cleanup", "extra"], "cleanup takes no more arguments"),
        (["jobs", "run", "cleanup", "--enqueue"], "VALKEY_URL is not set"),
        (["worker"], "VALKEY_URL is not set"),
        (["scheduler"], "VALKEY_URL is not set"),
    ],
    ids=["unknown-type", "bad-argument", "extra-argument", "enqueue", "worker", "scheduler"],
)
def test_commands_refuse_what_they_cannot_do(
    database: Path, arguments: list[str], message: str
) -> None:
    result = runner.invoke(app, arguments)

    assert result.exit_code == 2
    assert message in result.output


@pytest.mark.parametrize("command", [["worker"], ["scheduler"], ["jobs", "run"], ["jobs", "list"]])
def test_job_commands_have_help(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"])

    assert result.exit_code == 0
    assert "Usage" in result.output
