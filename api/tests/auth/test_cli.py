import re
from datetime import timedelta
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from wump.auth.cli import parse_duration
from wump.cli import app

runner = CliRunner()
KEY = re.compile(r"^wump_[a-z0-9]{8}_[A-Za-z0-9_\-]{43}$", re.MULTILINE)
ID = re.compile(r"^id:\s+(\S+)$", re.MULTILINE)


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "keys.db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{path}")
    return path


def test_key_lifecycle_from_the_command_line(database: Path) -> None:
    created = runner.invoke(
        app, ["keys", "create", "--name", "ci", "--tier", "standard", "--expires", "90d"]
    )
    assert created.exit_code == 0, created.output
    key = KEY.search(created.stdout)
    key_id = ID.search(created.stdout)
    assert key is not None
    assert key_id is not None

    listed = runner.invoke(app, ["keys", "list"])
    assert listed.exit_code == 0, listed.output
    assert "ci" in listed.stdout
    assert key.group(0) not in listed.stdout

    rotated = runner.invoke(app, ["keys", "rotate", key_id.group(1), "--grace", "1h"])
    assert rotated.exit_code == 0, rotated.output
    new_key = KEY.search(rotated.stdout)
    assert new_key is not None
    assert new_key.group(0) != key.group(0)

    revoked = runner.invoke(app, ["keys", "revoke", key_id.group(1)])
    assert revoked.exit_code == 0, revoked.output
    everything = runner.invoke(app, ["keys", "list", "--include-revoked"])
    assert everything.stdout.count("ci") >= 2


def test_bad_arguments_are_explained(database: Path) -> None:
    bad_scope = runner.invoke(app, ["keys", "create", "--name", "x", "--scopes", "root"])
    bad_expiry = runner.invoke(app, ["keys", "create", "--name", "x", "--expires", "soon"])
    unknown = runner.invoke(app, ["keys", "revoke", "00000000-0000-0000-0000-000000000000"])

    assert bad_scope.exit_code == 2
    assert bad_expiry.exit_code == 2
    assert unknown.exit_code == 1
    assert "No API key" in unknown.output


@pytest.mark.parametrize(
    ("text", "expected"),
    [("90d", timedelta(days=90)), ("24h", timedelta(hours=24)), ("30m", timedelta(minutes=30))],
)
def test_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


def test_bad_duration() -> None:
    with pytest.raises(typer.BadParameter):
        parse_duration("3 weeks")
