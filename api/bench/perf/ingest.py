"""Ingestion figures: the first load, a COPY yardstick, an incremental re-ingest, a no-op rerun."""

import asyncio
import time

from bench.bench_ingest import connect
from bench.perf.graph import Graph

TABLES = ("owners", "organizations", "repositories", "packages", "dependencies")
# Content of the graph without bookkeeping timestamps: equal digests mean nothing changed.
DIGEST = """
SELECT md5(string_agg(d.repository_id || ':' || d.package_id || ':' || d.requirement || ':'
       || d.dependency_type || ':' || d.is_direct, ',' ORDER BY d.repository_id, d.package_id))
FROM dependencies d
"""


def peak_rss_mb() -> float:
    return _status_mb("self", "VmHWM")


def _status_mb(pid: str, field: str) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


async def copy_seconds(url: str, graph: Graph) -> float:
    """One binary COPY of the same edge rows into an unindexed table: the yardstick."""
    rows = [
        (
            s.repository.owner,
            s.repository.name,
            d.name,
            d.requirement,
            d.dependency_type.value,
            d.is_direct,
            d.manifest_path,
        )
        for s in graph.snapshots
        for d in s.dependencies
    ]
    connection = await connect(url)
    try:
        await connection.execute(
            "CREATE TABLE bench_copy (owner text, repository text, name text, requirement text,"
            " dependency_type text, is_direct boolean, manifest_path text)"
        )
        started = time.perf_counter()
        async with connection.transaction():
            await connection.copy_records_to_table("bench_copy", records=rows)
        elapsed = time.perf_counter() - started
        await connection.execute("DROP TABLE bench_copy")
    finally:
        await connection.close()
    return elapsed


async def table_writes(url: str) -> dict[str, int]:
    """Rows inserted, updated and deleted so far per table, from `pg_stat_user_tables`."""
    await asyncio.sleep(1.2)  # backends flush their counters at most once a second
    connection = await connect(url)
    try:
        rows = await connection.fetch(
            "SELECT relname, n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_user_tables"
            " WHERE relname = ANY($1::text[])",
            list(TABLES),
        )
    finally:
        await connection.close()
    return {f"{r['relname']}.{op}": r[f"n_tup_{op}"] for r in rows for op in ("ins", "upd", "del")}


async def digest(url: str) -> str:
    connection = await connect(url)
    try:
        return str(await connection.fetchval(DIGEST))
    finally:
        await connection.close()


def delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {key: after[key] - before.get(key, 0) for key in after if after[key] != before.get(key)}
