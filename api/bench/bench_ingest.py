"""Ingestion throughput of the loader on PostgreSQL, against the physical limit.

Builds a synthetic graph with realistic shapes (Zipf-like package popularity,
owners with many or few repositories, a few dozen dependencies per repository),
then measures, on a database it creates and drops:

1. a plain binary COPY of the same edge rows into one unindexed table: the
   fastest way those rows can reach PostgreSQL, and the yardstick;
2. a first load through `wump.ingest.loader.Loader`, committed batch by batch
   exactly as `wump ingest` does (staging, merges, indexes, foreign keys, owner
   totals, snapshot replacement: the real path, nothing switched off);
3. the same snapshots loaded again (three times by default), which must change
   nothing: the first re-ingest after a load, and the fastest later one.

    uv run python bench/bench_ingest.py \\
        --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/wump_bench --edges 1000000
"""

import argparse
import asyncio
import bisect
import itertools
import json
import random
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import Column, MetaData, Table, func, insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from wump.core import migrations
from wump.core.bulk import SET_INDEX_BUILD_MEMORY
from wump.core.cache import Cache, MemoryBackend, RedisBackend, redis_client
from wump.core.config import ScoringWeights, Settings
from wump.core.db import create_engine, create_sessionmaker
from wump.ingest import sources
from wump.ingest.identity import Ecosystem, normalize_name
from wump.ingest.loader import RepositoryRef, Snapshot
from wump.ingest.parsers import ParsedDependency
from wump.ingest.sources import Batch, IngestSummary
from wump.models import (
    Dependency,
    DependencySource,
    DependencyType,
    DependentOwner,
    OwnerKind,
    Package,
)
from wump.models.base import Base
from wump.rollups.service import Rollups

RESULTS = Path(__file__).parent / "results"
SYLLABLES = (
    *("ka", "ri", "to", "mo", "na", "lu", "ze", "pi", "ra", "so", "ve", "li", "da", "no"),
    *("gu", "fi", "te", "ba", "co", "xe", "yo", "qua", "lin", "dex", "ser", "tor", "vel"),
    *("mar", "kit", "hub", "net", "dev", "lab", "ops", "api", "web", "app"),
)
# Share of repositories per ecosystem, and how their package names look.
ECOSYSTEMS = (
    (Ecosystem.NPM, 0.40),
    (Ecosystem.PYPI, 0.25),
    (Ecosystem.GOLANG, 0.10),
    (Ecosystem.MAVEN, 0.10),
    (Ecosystem.CARGO, 0.08),
    (Ecosystem.GEM, 0.07),
)
MANIFESTS = {
    Ecosystem.NPM: "package.json",
    Ecosystem.PYPI: "requirements.txt",
    Ecosystem.GOLANG: "go.mod",
    Ecosystem.MAVEN: "pom.xml",
    Ecosystem.CARGO: "Cargo.toml",
    Ecosystem.GEM: "Gemfile",
}
TYPES = (DependencyType.RUNTIME,) * 7 + (DependencyType.DEVELOPMENT,) * 2 + (DependencyType.TEST,)


@dataclass(frozen=True, slots=True)
class Workload:
    snapshots: list[Snapshot]
    edges: int
    packages: int
    repositories: int
    owners: int


class Zipf:
    """Draws ranks 0..n-1 with probability proportional to 1 / (rank + 1) ** s."""

    def __init__(self, n: int, s: float, rng: random.Random) -> None:
        weights = itertools.accumulate(1 / (rank + 1) ** s for rank in range(n))
        self.cumulative = list(weights)
        self.rng = rng

    def draw(self) -> int:
        point = self.rng.random() * self.cumulative[-1]
        return bisect.bisect_left(self.cumulative, point)


def word(rng: random.Random, parts: int) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(parts))


def unique_names(count: int, rng: random.Random, make: Any) -> list[str]:
    names: dict[str, None] = {}
    while len(names) < count:
        names[make(rng)] = None
    return list(names)


def package_name(ecosystem: Ecosystem, rng: random.Random) -> str:
    base = f"{word(rng, 2)}-{word(rng, rng.randint(1, 2))}"
    if ecosystem is Ecosystem.NPM and rng.random() < 0.2:
        return f"@{word(rng, 2)}/{base}"
    if ecosystem is Ecosystem.GOLANG:
        return f"github.com/{word(rng, 2)}/{base}"
    if ecosystem is Ecosystem.MAVEN:
        return f"org.{word(rng, 2)}.{word(rng, 1)}:{base}"
    return base.replace("-", "_") if ecosystem is Ecosystem.CARGO and rng.random() < 0.3 else base


def build_workload(args: argparse.Namespace) -> Workload:
    rng = random.Random(args.seed)
    owners = unique_names(args.owners, rng, lambda r: f"{word(r, 2)}{r.randint(0, 999)}")
    kinds = [OwnerKind.USER if rng.random() < 0.7 else OwnerKind.ORGANIZATION for _ in owners]
    owner_rank = Zipf(len(owners), 0.9, rng)
    per_ecosystem = max(args.packages // len(ECOSYSTEMS), 1)
    pools = {
        eco: unique_names(per_ecosystem, rng, lambda r, e=eco: package_name(e, r))
        for eco, _ in ECOSYSTEMS
    }
    popularity = Zipf(per_ecosystem, 1.05, rng)
    shares = list(itertools.accumulate(share for _, share in ECOSYSTEMS))
    repositories: dict[tuple[str, str], None] = {}
    snapshots: list[Snapshot] = []
    remaining, total = args.edges, 0
    average = args.edges / args.repositories
    while len(snapshots) < args.repositories and remaining > 0:
        owner = owner_rank.draw()
        name = f"{word(rng, 2)}-{word(rng, 1)}"
        if (owners[owner], name) in repositories:
            continue
        repositories[(owners[owner], name)] = None
        left = args.repositories - len(snapshots)
        count = remaining if left == 1 else min(remaining, dependency_count(rng, average))
        ecosystem = ECOSYSTEMS[bisect.bisect_left(shares, rng.random() * shares[-1])][0]
        deps = dependencies(rng, ecosystem, pools[ecosystem], popularity, count)
        ref = RepositoryRef(
            owner=owners[owner],
            name=name,
            owner_kind=kinds[owner],
            stars=int(rng.paretovariate(1.2)) - 1,
            language=ecosystem.value,
        )
        snapshots.append(Snapshot(ref, DependencySource.MANIFEST, deps))
        remaining -= len(deps)
        total += len(deps)
    # Cargo's foo_bar and foo-bar are one crate: count packages as the registry does.
    used = {
        normalize_name(d.ecosystem, d.name) + d.ecosystem for s in snapshots for d in s.dependencies
    }
    owners_used = {s.repository.owner for s in snapshots}
    return Workload(snapshots, total, len(used), len(snapshots), len(owners_used))


def dependency_count(rng: random.Random, average: float) -> int:
    # Long-tailed: most repositories have a handful, a few have hundreds.
    return max(1, min(int(rng.lognormvariate(0, 0.9) * average / 1.5), 2_000))


def dependencies(
    rng: random.Random, ecosystem: Ecosystem, pool: list[str], popularity: Zipf, count: int
) -> list[ParsedDependency]:
    chosen: dict[str, None] = {}
    count = min(count, len(pool) // 2)
    while len(chosen) < count:
        chosen[pool[popularity.draw()]] = None
    manifest = MANIFESTS[ecosystem]
    return [
        ParsedDependency(
            ecosystem=ecosystem,
            name=name,
            requirement=f"^{rng.randint(0, 9)}.{rng.randint(0, 30)}.0",
            dependency_type=rng.choice(TYPES),
            is_direct=rng.random() < 0.8,
            manifest_path=manifest,
        )
        for name in chosen
    ]


def batches(snapshots: Sequence[Snapshot], edges_per_batch: int) -> list[list[Snapshot]]:
    result: list[list[Snapshot]] = [[]]
    size = 0
    for snapshot in snapshots:
        if size >= edges_per_batch:
            result.append([])
            size = 0
        result[-1].append(snapshot)
        size += len(snapshot.dependencies)
    return result


async def recreate_database(url: str) -> None:
    parsed = make_url(url)
    admin = await asyncpg.connect(
        host=parsed.host,
        port=parsed.port or 5432,
        user=parsed.username,
        password=parsed.password,
        database="postgres",
    )
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{parsed.database}"')
    finally:
        await admin.close()


async def drop_database(url: str) -> None:
    parsed = make_url(url)
    admin = await asyncpg.connect(
        host=parsed.host, port=parsed.port or 5432, user=parsed.username,
        password=parsed.password, database="postgres",
    )  # fmt: skip
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')
    finally:
        await admin.close()


async def copy_limit(url: str, workload: Workload) -> float:
    """Seconds for one binary COPY of the edge rows into an unindexed table."""
    rows = [
        (
            s.repository.owner,
            s.repository.name,
            d.ecosystem.value,
            d.name,
            d.requirement,
            d.dependency_type.value,
            d.is_direct,
            d.manifest_path,
        )
        for s in workload.snapshots
        for d in s.dependencies
    ]
    connection = await connect(url)
    try:
        await connection.execute(
            "CREATE TABLE bench_copy (owner text, repository text, ecosystem text, name text,"
            " requirement text, dependency_type text, is_direct boolean, manifest_path text)"
        )
        started = time.perf_counter()
        async with connection.transaction():
            await connection.copy_records_to_table("bench_copy", records=rows)
        elapsed = time.perf_counter() - started
        await connection.execute("DROP TABLE bench_copy")
    finally:
        await connection.close()
    return elapsed


@dataclass(frozen=True, slots=True)
class Floors:
    """Seconds that any loader pays to leave these edges in this schema, measured with
    no Python work at all: the rows are already final, ids and all."""

    # A COPY of the final edge rows into an empty twin of `dependencies` with no key.
    rows: float
    # Its primary key, secondary indexes and foreign keys, built after the rows.
    keys: float
    # The precomputed dependents of those edges, inserted into an unindexed twin of
    # `dependent_owners`, and that twin's key and indexes, built after.
    rollups: float
    # The same rows COPYed into a twin that has its keys, indexes and foreign keys.
    indexed_rows: float

    @property
    def initial_load(self) -> float:
        """The least an initial load can take: rows, then keys, then rollups."""
        return self.rows + self.keys + self.rollups


async def floors(url: str, settings: Settings) -> Floors:
    """Measure `Floors` on the graph the first load left in the database."""
    connection = await connect(url)
    try:
        rows = await connection.fetch(
            "SELECT * FROM dependencies ORDER BY repository_id, package_id"
        )
        records, columns = [tuple(row) for row in rows], list(rows[0].keys())
        # LIKE copies no storage parameters; the twins get the edges' fill factor.
        options = await connection.fetchval(
            "SELECT reloptions FROM pg_class WHERE relname = 'dependencies'"
        )
        storage = f" WITH ({', '.join(options)})" if options else ""
        await connection.execute(f"CREATE TABLE bench_edges (LIKE dependencies){storage}")
        await connection.execute("CHECKPOINT")
        copy = await _timed(connection.copy_records_to_table, "bench_edges", records=records,
                            columns=columns)  # fmt: skip
        keys = await _timed(connection.execute, ";".join(_twin_keys("dependencies", "bench_edges")))
        await connection.execute("DROP TABLE bench_edges")
        indexed_twin = f"CREATE TABLE bench_edges (LIKE dependencies INCLUDING ALL){storage}"
        foreign_keys = _twin_foreign_keys("dependencies", "bench_edges")
        await connection.execute(";".join([indexed_twin, *foreign_keys]))
        await connection.execute("CHECKPOINT")
        indexed = await _timed(connection.copy_records_to_table, "bench_edges", records=records,
                               columns=columns)  # fmt: skip
        await connection.execute("DROP TABLE bench_edges")
    finally:
        await connection.close()
    return Floors(copy, keys, await rollups_floor(settings), indexed)


async def rollups_floor(settings: Settings) -> float:
    engine = create_engine(settings, statement_timeout=None)
    twin = Table(
        "bench_rollups",
        MetaData(),
        *(Column(column.name, column.type) for column in DependentOwner.__table__.columns),
    )
    try:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE bench_rollups (LIKE dependent_owners)"))
            computed = Rollups(AsyncSession(bind=connection), ScoringWeights()).computed()
            started = time.perf_counter()
            await connection.execute(insert(twin).from_select(list(twin.c.keys()), computed))
            for statement in _twin_keys("dependent_owners", "bench_rollups"):
                await connection.execute(text(statement))
            elapsed = time.perf_counter() - started
            await connection.execute(text("DROP TABLE bench_rollups"))
    finally:
        await engine.dispose()
    return elapsed


def _twin_keys(table: str, twin: str) -> list[str]:
    """DDL giving `twin` the primary key, indexes and foreign keys of `table`."""
    target = cast(Table, Base.metadata.tables[table])
    key = ", ".join(column.name for column in target.primary_key.columns)
    statements = [SET_INDEX_BUILD_MEMORY, f"ALTER TABLE {twin} ADD PRIMARY KEY ({key})"]
    statements += [
        f"CREATE INDEX ON {twin} ({', '.join(str(c.name) for c in index.columns)})"
        for index in target.indexes
    ]
    return statements + _twin_foreign_keys(table, twin)


def _twin_foreign_keys(table: str, twin: str) -> list[str]:
    """DDL giving `twin` the foreign keys of `table`, as the models declare them."""
    statements = []
    for fk in cast(Table, Base.metadata.tables[table]).foreign_key_constraints:
        columns = ", ".join(element.parent.name for element in fk.elements)
        referred = ", ".join(element.column.name for element in fk.elements)
        on_delete = f" ON DELETE {fk.ondelete}" if fk.ondelete else ""
        statements.append(
            f"ALTER TABLE {twin} ADD FOREIGN KEY ({columns})"
            f" REFERENCES {fk.referred_table.name} ({referred}){on_delete}"
        )
    return statements


async def _timed(call: Any, *args: Any, **kwargs: Any) -> float:
    started = time.perf_counter()
    await call(*args, **kwargs)
    return time.perf_counter() - started


async def connect(url: str) -> Any:
    parsed = make_url(url)
    return await asyncpg.connect(
        host=parsed.host, port=parsed.port or 5432, user=parsed.username,
        password=parsed.password, database=parsed.database,
    )  # fmt: skip


@dataclass(slots=True)
class SnapshotSource:
    """Snapshots already in memory, as a `wump ingest` source: batches of about
    `edges_per_batch` edges, so the loader runs exactly as the CLI runs it."""

    snapshots: Sequence[Snapshot]
    edges_per_batch: int
    job_type: str = "ingest.benchmark"
    source: DependencySource = DependencySource.MANIFEST
    unit: str = "snapshots"

    @property
    def total(self) -> int:
        return len(self.snapshots)

    def args(self) -> dict[str, Any]:
        return {"snapshots": len(self.snapshots), "edges_per_batch": self.edges_per_batch}

    def batches(self) -> Iterator[Batch]:
        for batch in batches(self.snapshots, self.edges_per_batch):
            yield Batch(snapshots=batch, records=len(batch), progress=len(batch))


async def load(
    settings: Settings, snapshots: Sequence[Snapshot], edges_per_batch: int
) -> tuple[float, IngestSummary]:
    """Seconds to load `snapshots` through `wump ingest`'s runner: one commit per
    batch, edge indexes built after an initial load, rollups refreshed once at the end."""
    engine = create_engine(settings, statement_timeout=None)
    # The cache the loader bumps after each commit: Valkey's when one is configured, as
    # in a compose deployment, else the in-process one of the embedded default.
    backend = RedisBackend(redis_client(settings.valkey_url)) if settings.valkey_url else None
    cache = Cache(backend or MemoryBackend(max_entries=1_000_000))
    try:
        started = time.perf_counter()
        summary = await sources.run(
            create_sessionmaker(engine), SnapshotSource(snapshots, edges_per_batch), cache=cache
        )
        elapsed = time.perf_counter() - started
    finally:
        await cache.close()
        await engine.dispose()
    if summary.failures:
        raise RuntimeError(f"{len(summary.failures)} snapshots failed, e.g. {summary.failures[0]}")
    return elapsed, summary


async def counts(settings: Settings) -> tuple[int, int]:
    engine = create_engine(settings)
    try:
        async with create_sessionmaker(engine)() as session:
            edges = (await session.execute(select(func.count()).select_from(Dependency))).scalar()
            packages = (await session.execute(select(func.count()).select_from(Package))).scalar()
    finally:
        await engine.dispose()
    return int(edges or 0), int(packages or 0)


async def main(args: argparse.Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    workload = build_workload(args)
    generated = time.perf_counter() - started
    print(
        f"workload: {workload.edges:,} edges, {workload.repositories:,} repositories, "
        f"{workload.owners:,} owners, {workload.packages:,} packages ({generated:.1f}s to build)"
    )
    await recreate_database(args.database_url)
    settings = Settings(
        _env_file=None,
        database_url=args.database_url,
        database_pool_size=2,
        valkey_url=args.valkey_url or "",
    )
    try:
        engine = create_engine(settings)
        await migrations.upgrade(engine)
        await engine.dispose()
        copy_seconds = await copy_limit(args.database_url, workload)
        print(f"COPY limit:  {workload.edges / copy_seconds:>10,.0f} edges/s ({copy_seconds:.1f}s)")
        first, _ = await load(settings, workload.snapshots, args.batch_edges)
        stored = await counts(settings)
        print(f"first load:  {workload.edges / first:>10,.0f} edges/s ({first:.1f}s)")
        again, _ = await load(settings, workload.snapshots, args.batch_edges)
        print(f"re-ingest:   {workload.edges / again:>10,.0f} edges/s ({again:.1f}s)")
        # Later re-ingests find the space of earlier row versions to update in place.
        steady = min([(await load(settings, workload.snapshots, args.batch_edges))[0]
                      for _ in range(args.reingests - 1)], default=again)  # fmt: skip
        print(f"later re-ingest:{workload.edges / steady:>8,.0f} edges/s ({steady:.1f}s, "
              f"the fastest of re-ingests 2 to {args.reingests})")  # fmt: skip
        floor = await floors(args.database_url, settings)
        if stored != (workload.edges, workload.packages) or await counts(settings) != stored:
            raise RuntimeError(f"stored {stored}, expected {(workload.edges, workload.packages)}")
    finally:
        if not args.keep:
            await drop_database(args.database_url)
    edges = workload.edges

    def rate(seconds: float) -> int:
        return round(edges / seconds)

    result = {
        "edges": edges,
        "repositories": workload.repositories,
        "owners": workload.owners,
        "packages": workload.packages,
        "batch_edges": args.batch_edges,
        "cache": "valkey" if args.valkey_url else "memory",
        "copy_edges_per_second": rate(copy_seconds),
        "first_load_edges_per_second": rate(first),
        "reingest_edges_per_second": rate(again),
        "first_load_ratio_to_copy": round(copy_seconds / first, 3),
        "reingest_ratio_to_copy": round(copy_seconds / again, 3),
        "reingests": args.reingests,
        "steady_reingest_edges_per_second": rate(steady),
        "floor_rows_seconds": round(floor.rows, 3),
        "floor_keys_seconds": round(floor.keys, 3),
        "floor_rollups_seconds": round(floor.rollups, 3),
        "floor_rows_ratio_to_copy": round(copy_seconds / floor.rows, 3),
        "floor_rows_and_keys_ratio_to_copy": round(copy_seconds / (floor.rows + floor.keys), 3),
        "initial_load_floor_edges_per_second": rate(floor.initial_load),
        "initial_load_floor_ratio_to_copy": round(copy_seconds / floor.initial_load, 3),
        "first_load_ratio_to_floor": round(floor.initial_load / first, 3),
        "schema_floor_edges_per_second": rate(floor.indexed_rows),
        "schema_floor_ratio_to_copy": round(copy_seconds / floor.indexed_rows, 3),
    }
    print(
        f"floors, with no Python work (rows final, ids and all):\n"
        f"  final rows, no key:  {rate(floor.rows):>10,.0f} edges/s "
        f"({result['floor_rows_ratio_to_copy']:.0%} of COPY)\n"
        f"  + keys and indexes:  {rate(floor.rows + floor.keys):>10,.0f} edges/s "
        f"({result['floor_rows_and_keys_ratio_to_copy']:.0%})\n"
        f"  + rollups:           {rate(floor.initial_load):>10,.0f} edges/s "
        f"({result['initial_load_floor_ratio_to_copy']:.0%}): the initial-load floor\n"
        f"  into indexed tables: {rate(floor.indexed_rows):>10,.0f} edges/s "
        f"({result['schema_floor_ratio_to_copy']:.0%}): the schema floor\n"
        f"ratio to COPY: first load {result['first_load_ratio_to_copy']:.0%}, "
        f"re-ingest {result['reingest_ratio_to_copy']:.0%} (goal: at least 40%)\n"
        f"first load against the initial-load floor: {result['first_load_ratio_to_floor']:.0%}"
    )
    return result


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True, help="postgresql+asyncpg://...; "
                        "this database is dropped and created")  # fmt: skip
    parser.add_argument("--edges", type=int, default=1_000_000)
    parser.add_argument("--repositories", type=int, default=None, help="default: edges / 10")
    parser.add_argument("--owners", type=int, default=None, help="default: edges / 50")
    parser.add_argument("--packages", type=int, default=None, help="default: edges / 5")
    parser.add_argument("--batch-edges", type=int, default=100_000, help="edges per commit")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--reingests", type=int, default=3, help="re-ingests of the same "
                        "input; the first and the fastest later one are reported")  # fmt: skip
    parser.add_argument("--valkey-url", help="bump cache generations on this Valkey, as a "
                        "compose deployment does (default: the in-process cache)")  # fmt: skip
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    if not args.database_url.startswith("postgresql"):
        parser.error("the benchmark measures PostgreSQL: pass a postgresql+asyncpg:// URL")
    args.repositories = args.repositories or max(args.edges // 10, 1)
    args.owners = args.owners or max(args.edges // 50, 1)
    args.packages = args.packages or max(args.edges // 5, 60)
    return args


if __name__ == "__main__":
    options = arguments()
    figures = asyncio.run(main(options))
    if options.json:
        options.json.write_text(json.dumps(figures, indent=2) + "\n")
