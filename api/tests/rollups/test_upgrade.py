"""Upgrading a database that has edges but predates the rollups fills them in."""

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from typer.testing import CliRunner

from wump.cli import app
from wump.core import migrations
from wump.core.config import ScoringWeights, Settings
from wump.core.db import create_engine
from wump.rollups import cli as rollups

runner = CliRunner()

_OLD_GRAPH = [
    "INSERT INTO organizations (id, host, login, login_key, kind) "
    "VALUES (1, 'github.com', 'acme', 'acme', 'organization')",
    "INSERT INTO repositories (id, host, owner_id, name, full_name, full_name_key, stars) "
    "VALUES (1, 'github.com', 1, 'api', 'acme/api', 'acme/api', 12), "
    "(2, 'github.com', 1, 'web', 'acme/web', 'acme/web', 3)",
    "INSERT INTO packages (id, ecosystem, name, normalized_name, purl, funding_urls) "
    "VALUES (1, 'pypi', 'httpx', 'httpx', 'pkg:pypi/httpx', '[]')",
    "INSERT INTO dependencies (repository_id, package_id, dependency_type, is_direct, source, "
    "sources, first_seen_at, last_seen_at) VALUES "
    "(1, 1, 'runtime', 1, 'manifest', 2, '2026-01-01', '2026-01-01'), "
    "(2, 1, 'test', 1, 'manifest', 2, '2026-01-01', '2026-01-01')",
]


async def _old_database(path: Path) -> AsyncEngine:
    engine = create_engine(Settings(database_url=f"sqlite+aiosqlite:///{path}"))
    await migrations.upgrade(engine, "0001")
    async with engine.begin() as connection:
        for statement in _OLD_GRAPH:
            await connection.execute(text(statement))
    return engine


async def test_upgrade_across_the_rollups_revision_fills_them(tmp_path: Path) -> None:
    engine = await _old_database(tmp_path / "old.db")
    try:
        revision = await rollups.upgrade(engine, ScoringWeights())
        async with engine.connect() as connection:
            edges = (
                await connection.execute(
                    text("SELECT owner_id, stars FROM dependencies ORDER BY repository_id")
                )
            ).all()
            rollup = (
                await connection.execute(
                    text("SELECT edges, repositories, stars, score FROM dependent_owners")
                )
            ).one()
            counters = (
                await connection.execute(
                    text(
                        "SELECT dependent_repositories_count, dependent_organizations_count, "
                        "ranked_repositories_count, ranked_organizations_count FROM packages"
                    )
                )
            ).one()
    finally:
        await engine.dispose()

    assert revision == migrations.head_revision()
    assert [tuple(row) for row in edges] == [(1, 12), (1, 3)]
    assert tuple(rollup)[:3] == (2, 1, 12)
    assert rollup.score > 0
    assert tuple(counters) == (2, 1, 1, 1)


def test_rebuild_command_recomputes_from_the_edges(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = tmp_path / "cli.db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{database}")
    assert runner.invoke(app, ["migrate"]).exit_code == 0

    rebuilt = runner.invoke(app, ["rollups", "rebuild"])
    rescored = runner.invoke(app, ["rollups", "rescore"])

    assert rebuilt.exit_code == 0, rebuilt.output
    assert "rebuilt 0 dependent-owner rows" in rebuilt.stdout
    assert rescored.exit_code == 0, rescored.output
    assert "rescored 0 dependent-owner rows" in rescored.stdout


async def test_downgrade_keeps_the_graph(tmp_path: Path) -> None:
    engine = await _old_database(tmp_path / "old.db")
    try:
        await rollups.upgrade(engine, ScoringWeights())
        await migrations.downgrade(engine, "0001")
        async with engine.connect() as connection:
            edges = await connection.scalar(text("SELECT count(*) FROM dependencies"))
            packages = await connection.scalar(text("SELECT count(*) FROM packages"))
        assert await migrations.current_revision(engine) == "0001"
    finally:
        await engine.dispose()

    assert (edges, packages) == (2, 1)
