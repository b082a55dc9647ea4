"""Rows into the database in bulk: the one dialect-aware piece of the write path.

Staging tables are session-private (TEMPORARY), without indexes, and emptied
before each use; set-based statements then merge them into the real tables.
"""

from collections.abc import Iterable, Sequence
from typing import Any, cast

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import Column, MetaData, Table, delete, insert, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.schema import CreateTable

Row = tuple[Any, ...]

# Both databases cap bound parameters near 32k per statement.
MAX_IDS_PER_STATEMENT = 10_000
# Index builds after a bulk load sort in memory up to this much, then spill to disk;
# run this in the transaction that builds them.
INDEX_BUILD_MEMORY = "512MB"
SET_INDEX_BUILD_MEMORY = f"SET LOCAL maintenance_work_mem = '{INDEX_BUILD_MEMORY}'"

ANALYZE_AFTER_ROWS = 100

_staging = MetaData()


def id_chunks(ids: Iterable[int]) -> Iterable[list[int]]:
    """Distinct ids, sorted, in lists small enough for one statement's `IN (...)`."""
    ordered = sorted(set(ids))
    for start in range(0, len(ordered), MAX_IDS_PER_STATEMENT):
        yield ordered[start : start + MAX_IDS_PER_STATEMENT]


def stage_table(name: str, *columns: Column[Any]) -> Table:
    return Table(name, _staging, *columns, prefixes=["TEMPORARY"])


class LoadError(RuntimeError):
    pass


class BulkWriter:
    """The one dialect-aware helper: how rows reach the database in bulk.

    PostgreSQL gets binary `COPY` (asyncpg `copy_records_to_table`) on the
    session's own connection, so it runs inside the session's transaction and
    savepoints. SQLite gets a plain `executemany`. Every statement after that is
    shared; the ON CONFLICT clause comes from `insert()`.
    """

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.postgres = session.get_bind().dialect.name == "postgresql"
        # Rows this writer added per table, and how many there were at its last ANALYZE.
        self._added: dict[str, tuple[int, int]] = {}

    def insert(self, target: Any) -> postgresql.Insert | sqlite.Insert:
        return postgresql.insert(target) if self.postgres else sqlite.insert(target)

    async def stage(self, table: Table, rows: Sequence[Row]) -> None:
        """Fill a session-private staging table with exactly `rows`."""
        await self.session.execute(CreateTable(table, if_not_exists=True))
        if self.postgres:
            await self.session.execute(text(f"TRUNCATE {table.name}"))
        else:
            await self.session.execute(delete(table))
        await self.copy(table, [column.name for column in table.columns], rows)

    async def refresh_statistics(self, table: Table) -> None:
        """Let PostgreSQL's planner see how big a table has grown during a bulk load.

        Autovacuum analyzes a growing table only after a while; until then the
        planner believes it is as small as it once was, sorts or scans all of it
        where an index probe per row would do, and every batch gets slower.
        """
        if self.postgres:
            await self.session.execute(text(f"ANALYZE {table.name}"))

    async def grown(self, table: Table, added: int) -> None:
        """Refresh the table's statistics each time the rows this writer added double.

        The first refresh comes early (`ANALYZE_AFTER_ROWS`): a table the planner
        believes empty gets nested loops over it that cost rows x rows.
        """
        total, at_last = self._added.get(table.name, (0, 0))
        total += added
        if total >= max(2 * at_last, ANALYZE_AFTER_ROWS):
            await self.refresh_statistics(table)
            at_last = total
        self._added[table.name] = (total, at_last)

    async def copy(self, table: Table, columns: Sequence[str], rows: Sequence[Row]) -> None:
        if not rows:
            return
        if not self.postgres:
            await self.session.execute(
                insert(table), [dict(zip(columns, row, strict=True)) for row in rows]
            )
            return
        connection = await self.session.connection()
        raw = await connection.get_raw_connection()
        driver = cast(asyncpg.Connection, raw.driver_connection)
        try:
            await driver.copy_records_to_table(table.name, records=rows, columns=list(columns))
        except asyncpg.PostgresError as exc:
            raise LoadError(f"COPY into {table.name} failed: {exc}") from exc
