"""An initial load builds the edges' secondary indexes and foreign keys after the rows.

Into an empty graph, every edge is new. Maintaining two secondary indexes and two
foreign keys row by row costs most of a load (random B-tree inserts, two lookups
per row); building them once at the end is a sort and a hash join. PostgreSQL
only: SQLite's small loads don't need it.

While the indexes are off, reads stay correct but slow, which is acceptable only
because there is nothing to read yet. A run that is killed before it rebuilds
them leaves them off; every ingest run and `wump migrate` start by restoring
whatever is missing (`restore_edge_indexes`, a no-op when nothing is).
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import cast

import structlog
from sqlalchemy import ForeignKeyConstraint, Index, Table, exists, inspect, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.schema import AddConstraint, CreateIndex, DropConstraint, DropIndex

from wump.core.bulk import SET_INDEX_BUILD_MEMORY
from wump.models import Dependency

log = structlog.get_logger(__name__)

_EDGES = cast(Table, Dependency.__table__)


def _indexes() -> list[Index]:
    return sorted(_EDGES.indexes, key=lambda index: str(index.name))


def _foreign_keys() -> list[ForeignKeyConstraint]:
    return sorted(_EDGES.foreign_key_constraints, key=lambda fk: str(fk.name))


def _existing_foreign_keys(connection: Connection) -> set[str]:
    found = inspect(connection).get_foreign_keys(_EDGES.name)
    return {str(fk["name"]) for fk in found}


async def restore_edge_indexes(engine: AsyncEngine) -> int:
    """Create the edges' secondary indexes and foreign keys that are missing; how many."""
    if engine.dialect.name != "postgresql":
        return 0
    created = 0
    async with engine.begin() as connection:
        await connection.execute(text(SET_INDEX_BUILD_MEMORY))
        existing_indexes = await connection.run_sync(
            lambda sync: {str(ix["name"]) for ix in inspect(sync).get_indexes(_EDGES.name)}
        )
        for index in _indexes():
            if index.name not in existing_indexes:
                await connection.execute(CreateIndex(index))
                created += 1
        existing = await connection.run_sync(_existing_foreign_keys)
        for fk in _foreign_keys():
            if fk.name not in existing:
                await connection.execute(AddConstraint(fk))
                created += 1
    if created:
        log.info("edge_indexes_built", created=created)
    return created


@asynccontextmanager
async def deferred_edge_indexes(engine: AsyncEngine) -> AsyncIterator[bool]:
    """Around a load: on PostgreSQL with no edges yet, the edges' secondary indexes and
    foreign keys are dropped, and built once when the block ends. Yields whether they were."""
    await restore_edge_indexes(engine)
    if engine.dialect.name != "postgresql" or not await _no_edges(engine):
        yield False
        return
    async with engine.begin() as connection:
        for fk in _foreign_keys():
            await connection.execute(DropConstraint(fk))
        for index in _indexes():
            await connection.execute(DropIndex(index))
    log.info("edge_indexes_deferred", reason="initial load")
    try:
        yield True
    finally:
        await restore_edge_indexes(engine)


async def _no_edges(engine: AsyncEngine) -> bool:
    async with engine.connect() as connection:
        return not await connection.scalar(select(exists().select_from(_EDGES)))
