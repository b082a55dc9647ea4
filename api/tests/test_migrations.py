"""The hand-written migrations and the models must describe the same schema."""

from collections.abc import Callable
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Column, Integer, MetaData, inspect
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from wump.core import migrations
from wump.models import Base


async def test_migrated_schema_matches_models(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        diff = await connection.run_sync(_diff_against(Base.metadata))
    assert diff == []


def _diff_against(metadata: MetaData) -> Callable[[Connection], list[Any]]:
    def run(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))

    return run


async def test_drift_check_notices_a_column_the_migration_lacks(engine: AsyncEngine) -> None:
    drifted = MetaData(naming_convention=Base.metadata.naming_convention)
    for table in Base.metadata.sorted_tables:
        table.to_metadata(drifted)
    drifted.tables["packages"].append_column(Column("stars_cached", Integer(), nullable=True))

    async with engine.connect() as connection:
        diff = await connection.run_sync(_diff_against(drifted))

    assert [op[0] for op in diff] == ["add_column"]
    assert diff[0][3].name == "stars_cached"


async def test_database_is_at_head_revision(engine: AsyncEngine) -> None:
    assert await migrations.current_revision(engine) == migrations.head_revision()


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def test_every_model_table_exists_after_migration(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        tables = await connection.run_sync(_tables)
    assert set(Base.metadata.tables) <= tables
