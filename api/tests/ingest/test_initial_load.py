"""An initial load on PostgreSQL builds the edges' indexes and foreign keys at the end."""

import uuid
from collections.abc import AsyncIterator

import asyncpg  # type: ignore[import-untyped]
import pytest
from sqlalchemy import func, inspect, select, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import DATABASE_URL
from tests.ingest.sources.test_runner import ListSource, snapshot
from wump.core import migrations
from wump.core.config import Settings
from wump.core.db import create_engine, create_sessionmaker, session_scope
from wump.ingest.initial import deferred_edge_indexes, restore_edge_indexes
from wump.ingest.sources import Batch, run
from wump.models import Dependency, Package
from wump.rollups import cli as rollups

pytestmark = pytest.mark.postgres

EDGE_INDEXES = {
    "ix_dependencies_package_id_stars_repository_id",
    "ix_dependencies_package_id_owner_id_stars_repository_id",
}
EDGE_FOREIGN_KEYS = {
    "fk_dependencies_package_id_packages",
    "fk_dependencies_repository_id_repositories",
}


def _schema(connection: Connection) -> tuple[set[str], set[str]]:
    inspector = inspect(connection)
    indexes = {str(index["name"]) for index in inspector.get_indexes("dependencies")}
    fks = {str(fk["name"]) for fk in inspector.get_foreign_keys("dependencies")}
    return indexes, fks


async def schema(engine: AsyncEngine) -> tuple[set[str], set[str]]:
    async with engine.connect() as connection:
        return await connection.run_sync(_schema)


@pytest.fixture
async def fresh_engine() -> AsyncIterator[AsyncEngine]:
    """A database of its own: the load commits, and drops indexes the other tests use."""
    name = f"wump_initial_{uuid.uuid4().hex[:8]}"
    url = make_url(DATABASE_URL)
    server = url.set(drivername="postgresql", database="postgres").render_as_string(False)
    admin = await asyncpg.connect(server)
    await admin.execute(f'CREATE DATABASE "{name}"')
    database_url = url.set(database=name).render_as_string(hide_password=False)
    engine = create_engine(Settings(_env_file=None, database_url=database_url))
    try:
        await rollups.upgrade(engine, Settings().scoring)
        yield engine
    finally:
        await engine.dispose()
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


async def test_initial_load_defers_the_edge_indexes_and_builds_them_after(
    fresh_engine: AsyncEngine,
) -> None:
    async with deferred_edge_indexes(fresh_engine) as deferred:
        indexes_during, fks_during = await schema(fresh_engine)
    assert deferred is True
    assert not indexes_during & EDGE_INDEXES
    assert not fks_during & EDGE_FOREIGN_KEYS

    source = ListSource([Batch([snapshot("acme/one", "httpx", "rich")], records=1)])
    await run(create_sessionmaker(fresh_engine), source)

    indexes, fks = await schema(fresh_engine)
    assert indexes >= EDGE_INDEXES
    assert fks >= EDGE_FOREIGN_KEYS
    async with session_scope(create_sessionmaker(fresh_engine)) as session:
        edges = await session.scalar(select(func.count()).select_from(Dependency))
        counts = await session.execute(select(Package.dependent_repositories_count))
        assert edges == 2
        assert sorted(counts.scalars()) == [1, 1]


async def test_a_graph_with_edges_keeps_its_indexes_and_a_lost_one_comes_back(
    fresh_engine: AsyncEngine,
) -> None:
    sessionmaker = create_sessionmaker(fresh_engine)
    await run(sessionmaker, ListSource([Batch([snapshot("acme/one", "httpx")], records=1)]))
    async with deferred_edge_indexes(fresh_engine) as deferred:
        assert deferred is False
        assert (await schema(fresh_engine))[0] >= EDGE_INDEXES

    # A run killed while the indexes were off: the next run (or migrate) restores them.
    async with fresh_engine.begin() as connection:
        await connection.execute(text("DROP INDEX ix_dependencies_package_id_stars_repository_id"))
        await connection.execute(
            text("ALTER TABLE dependencies DROP CONSTRAINT fk_dependencies_package_id_packages")
        )
    assert await restore_edge_indexes(fresh_engine) == 2
    indexes, fks = await schema(fresh_engine)
    assert indexes >= EDGE_INDEXES
    assert fks >= EDGE_FOREIGN_KEYS
    assert await restore_edge_indexes(fresh_engine) == 0


async def _edge_storage(engine: AsyncEngine) -> list[str] | None:
    async with engine.connect() as connection:
        options = await connection.scalar(
            text("SELECT reloptions FROM pg_class WHERE relname = 'dependencies'")
        )
    return list(options) if options is not None else None


async def test_edges_leave_room_on_their_pages_for_re_ingest_updates(
    fresh_engine: AsyncEngine,
) -> None:
    assert await _edge_storage(fresh_engine) == ["fillfactor=70"]

    await migrations.downgrade(fresh_engine, "0002")
    assert await _edge_storage(fresh_engine) is None

    await migrations.upgrade(fresh_engine)
    assert await _edge_storage(fresh_engine) == ["fillfactor=70"]
