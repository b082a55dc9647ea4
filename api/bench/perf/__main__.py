"""`python -m bench.perf`: generate, load, serve, measure, report. See bench/README.md."""

import argparse
import asyncio
import json
import os
import platform
import random
import subprocess
import sys
import time
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import redis.asyncio as aioredis
from sqlalchemy.ext.asyncio import AsyncSession

from bench.bench_ingest import drop_database, load, recreate_database
from bench.perf import graph, ingest, queries, report, server
from wump.core import migrations
from wump.core.cache import Cache, MemoryBackend
from wump.core.config import Settings
from wump.core.db import create_engine

RESULTS = Path(__file__).parent.parent / "results"
API = "/api/v1/packages/pypi"
ROLES = ("hot", "median", "tail")
# An idle PostgreSQL 15 backend (the API's pooled connections) flushes its counters
# within 10 s; a closed one at once.
SETTLE = 11


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.perf", description=__doc__)
    parser.add_argument("--scale", choices=sorted(graph.SCALES), default="small")
    parser.add_argument("--edges", type=int, help="override the scale's edge count")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--database-url",
        default="postgresql+asyncpg://postgres@127.0.0.1:5432/wump_perf",
        help="dropped and created by the run",
    )
    parser.add_argument("--valkey-url", default="redis://127.0.0.1:6379/9")
    parser.add_argument("--cache-prefix", default="wumpbench")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--batch-edges", type=int, default=100_000, help="edges per commit")
    parser.add_argument("--deep-pages", type=int, default=5, help="cursor hops to the deep page")
    parser.add_argument(
        "--requests", type=int, default=320, help="requests per miss run at c=32 (c=1: a fifth)"
    )
    parser.add_argument("--smoke", action="store_true", help="few requests: checks it all runs")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--no-markdown", action="store_true", help="do not rewrite bench/RESULTS.md"
    )
    args = parser.parse_args()
    if not args.database_url.startswith("postgresql"):
        parser.error("the harness measures PostgreSQL (pg_stat counters, COPY, EXPLAIN)")
    return args


def drive(
    port: int, paths: list[str], concurrency: int, bump: dict[str, str] | None = None
) -> dict[str, Any]:
    job = json.dumps({"port": port, "paths": paths, "concurrency": concurrency, "bump": bump})
    done = subprocess.run(
        [sys.executable, "-m", "bench.perf.driver"],
        input=job.encode(),
        capture_output=True,
        check=True,
        timeout=900,
    )
    return dict(json.loads(done.stdout))


async def machine(url: str, valkey: aioredis.Redis) -> dict[str, Any]:
    connection = await ingest.connect(url)
    try:
        postgres = await connection.fetchval("SHOW server_version")
    finally:
        await connection.close()
    return {
        "cores": os.cpu_count(),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": platform.python_version(),
        "postgresql": postgres,
        "redis": (await valkey.info("server"))["redis_version"],
        "platform": platform.platform(),
    }


async def pick_packages(url: str) -> dict[str, str]:
    """The hottest package, the median one and one from the tail, by dependent repositories."""
    connection = await ingest.connect(url)
    try:
        rows = await connection.fetch(
            "SELECT p.name, count(*) AS n FROM dependencies d"
            " JOIN packages p ON p.id = d.package_id"
            " GROUP BY p.name ORDER BY n DESC, p.name"
        )
    finally:
        await connection.close()
    return {
        "hot": rows[0]["name"],
        "median": rows[len(rows) // 2]["name"],
        "tail": rows[-1]["name"],
    }


async def dependents_count(url: str, name: str) -> int:
    connection = await ingest.connect(url)
    try:
        return int(
            await connection.fetchval(
                "SELECT count(*) FROM dependencies d JOIN packages p ON p.id = d.package_id"
                " WHERE p.name = $1",
                name,
            )
        )
    finally:
        await connection.close()


async def flush_prefix(valkey: aioredis.Redis, prefix: str) -> int:
    keys = [key async for key in valkey.scan_iter(match=f"{prefix}:*", count=1000)]
    if keys:
        await valkey.delete(*keys)
    return len(keys)


async def scans(url: str) -> int:
    """Index and sequential scans of the edge table so far: each computation adds a few."""
    await asyncio.sleep(SETTLE)
    connection = await ingest.connect(url)
    try:
        return int(
            await connection.fetchval(
                "SELECT coalesce(seq_scan, 0) + coalesce(idx_scan, 0) FROM pg_stat_user_tables"
                " WHERE relname = 'dependencies'"
            )
        )
    finally:
        await connection.close()


async def ingestion(args: argparse.Namespace, settings: Settings, g: graph.Graph) -> dict[str, Any]:
    url = args.database_url
    copy = await ingest.copy_seconds(url, g)
    print(f"COPY yardstick: {g.edges / copy:,.0f} edges/s", flush=True)
    first, stats = await load(settings, g.snapshots, args.batch_edges)
    print(f"first load: {g.edges / first:,.0f} edges/s ({first:.1f}s)", flush=True)
    loader_peak = ingest.peak_rss_mb()
    changed = graph.changed(g, args.seed)
    changed_edges = sum(len(s.dependencies) for s in changed)
    before = await ingest.table_writes(url)
    incremental, _ = await load(settings, changed, args.batch_edges)
    middle = await ingest.table_writes(url)
    content = await ingest.digest(url)
    rerun, _ = await load(settings, changed, args.batch_edges)
    after = await ingest.table_writes(url)
    unchanged = content == await ingest.digest(url)
    print(f"incremental: {changed_edges / incremental:,.0f} edges/s; rerun unchanged: {unchanged}")
    return {
        "edges": g.edges,
        "repositories": len(g.snapshots),
        "packages_stored": len(stats.package_ids),
        "copy_seconds": round(copy, 3),
        "copy_edges_per_second": round(g.edges / copy),
        "first_load_seconds": round(first, 3),
        "first_load_edges_per_second": round(g.edges / first),
        "first_load_ratio_to_copy": round(copy / first, 3),
        "incremental_repositories": len(changed),
        "incremental_edges": changed_edges,
        "incremental_seconds": round(incremental, 3),
        "incremental_edges_per_second": round(changed_edges / incremental),
        "incremental_row_writes": ingest.delta(before, middle),
        "rerun_seconds": round(rerun, 3),
        "rerun_row_writes": ingest.delta(middle, after),
        "rerun_content_unchanged": unchanged,
        "loader_process_peak_rss_mb": round(loader_peak, 1),
    }


async def database_side(
    args: argparse.Namespace, settings: Settings, names: dict[str, str]
) -> dict[str, Any]:
    engine = create_engine(settings)
    rounds = 5 if args.smoke else 40
    result: dict[str, Any] = {}
    try:
        for role in ROLES[:1] if args.smoke else ROLES:
            name, ids = names[role], await _package_id(args.database_url, names[role])
            for endpoint in ("dependents", "repositories"):
                cursor: str | None = None
                pages = {}
                for hop in range(args.deep_pages + 1):
                    captured = await queries.capture(engine, settings, name, endpoint, cursor)
                    if hop in (0, args.deep_pages) or captured.next_cursor is None:
                        pages["first" if hop == 0 else "deep"] = (captured, hop)
                    if captured.next_cursor is None:
                        break
                    cursor = captured.next_cursor
                for page, (captured, hop) in pages.items():
                    key = f"{role}.{endpoint}.{page}"
                    raw = await queries.replay(args.database_url, captured.statements, rounds)
                    naive = (
                        queries.naive_dependents
                        if endpoint == "dependents"
                        else (queries.naive_repositories)
                    )
                    offset = hop * queries.PAGE
                    result[key] = {
                        "hops": hop,
                        "raw_sql": raw,
                        "wump_in_process": await queries.timed(
                            engine,
                            partial(
                                _service,
                                settings=settings,
                                name=name,
                                endpoint=endpoint,
                                cursor=captured.cursor,
                            ),
                            rounds,
                        ),
                        "naive": await queries.timed(
                            engine,
                            partial(naive, package_id=ids, offset=offset),
                            max(3, rounds // 4),
                        ),
                    }
                    if key == "hot.dependents.first":
                        sql, params = captured.statements[raw["heaviest_statement"]]
                        result["explain_hot_dependents"] = {
                            "statement": sql,
                            "plan": await queries.explain(args.database_url, sql, params),
                        }
                    print(
                        f"db {key}: raw p50 {raw['p50_ms']} ms, naive "
                        f"{result[key]['naive']['p50_ms']} ms",
                        flush=True,
                    )
    finally:
        await engine.dispose()
    return result


async def _service(
    session: AsyncSession, *, settings: Settings, name: str, endpoint: str, cursor: str | None
) -> None:
    await queries.service_page(session, settings, name, endpoint, cursor)


async def _package_id(url: str, name: str) -> int:
    connection = await ingest.connect(url)
    try:
        return int(await connection.fetchval("SELECT id FROM packages WHERE name = $1", name))
    finally:
        await connection.close()


def _path(name: str, endpoint: str, cursor: str | None, extra: str = "") -> str:
    query = f"?limit={queries.PAGE}" + (f"&cursor={quote(cursor)}" if cursor else "") + extra
    return f"{API}/{quote(name, safe='')}/{endpoint}{query}"


def _deep_cursor(port: int, name: str, endpoint: str, hops: int) -> tuple[str | None, int]:
    cursor: str | None = None
    with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
        for hop in range(hops):
            response = client.get(_path(name, endpoint, cursor))
            response.raise_for_status()
            following = response.json().get("next_cursor")
            if following is None:
                return cursor, hop
            cursor = following
    return cursor, hops


def http_side(
    args: argparse.Namespace, port: int, names: dict[str, str], ids: dict[str, int]
) -> dict[str, Any]:
    """Misses: a unique, result-neutral `exclude_owner` per request on first pages; on deep
    pages (a cursor is bound to its filters) the package's generation bumped before each."""
    versions = Cache(MemoryBackend(), prefix=args.cache_prefix)
    generations = {role: versions.version_key("package", id_) for role, id_ in ids.items()}
    counts = {1: 10, 32: 32} if args.smoke else {1: max(args.requests // 5, 10), 32: args.requests}
    result: dict[str, Any] = {}
    serial = 0
    for role in ROLES[:1] if args.smoke else ROLES:
        for endpoint in ("dependents", "repositories"):
            deep, hops = _deep_cursor(port, names[role], endpoint, args.deep_pages)
            for page, cursor in (("first", None), ("deep", deep)):
                if page == "deep" and hops == 0:
                    continue
                hit_path = _path(names[role], endpoint, cursor)
                drive(port, [hit_path], 1)  # warm the hit key
                for concurrency, n in counts.items():
                    key = f"{role}.{endpoint}.{page}.c{concurrency}"
                    if cursor is None:
                        misses = []
                        for _ in range(n):
                            serial += 1
                            extra = f"&exclude_owner=bench-miss-{serial}"
                            misses.append(_path(names[role], endpoint, None, extra))
                        result[f"{key}.miss"] = drive(port, misses, concurrency)
                    else:
                        bump = {"url": args.valkey_url, "key": generations[role]}
                        result[f"{key}.miss"] = drive(port, [hit_path] * n, concurrency, bump)
                    result[f"{key}.miss"]["cache_busting"] = (
                        "unique exclude_owner" if cursor is None else "generation bump"
                    )
                    result[f"{key}.hit"] = drive(port, [hit_path] * n * 2, concurrency)
                    print(
                        f"http {key}: miss p50 {result[f'{key}.miss']['p50_ms']} ms "
                        f"{result[f'{key}.miss']['requests_per_second']} req/s, hit "
                        f"{result[f'{key}.hit']['requests_per_second']} req/s",
                        flush=True,
                    )
    return result


async def hit_anatomy(
    args: argparse.Namespace, port: int, valkey: aioredis.Redis, name: str
) -> dict[str, Any]:
    """What one cache hit costs outside Python: Redis commands and PostgreSQL transactions."""
    path = _path(name, "dependents", None)
    drive(port, [path], 1)
    n = 50 if args.smoke else 300
    redis_before, pg_before = await _redis_calls(valkey), await _transactions(args.database_url)
    run = drive(port, [path] * n, 1)
    redis_after, pg_after = await _redis_calls(valkey), await _transactions(args.database_url)
    per_command = {
        k: round((v - redis_before.get(k, 0)) / n, 2)
        for k, v in redis_after.items()
        if k != "info" and v - redis_before.get(k, 0) >= n / 10
    }
    return {
        "requests": n,
        "redis_commands_per_hit": round(sum(per_command.values()), 2),
        "redis_commands_per_hit_by_command": per_command,
        "postgres_transactions_per_hit": round((pg_after - pg_before - 1) / n, 2),
        "load": run,
    }


async def _redis_calls(valkey: aioredis.Redis) -> dict[str, int]:
    stats = await valkey.info("commandstats")
    return {k.removeprefix("cmdstat_"): int(v["calls"]) for k, v in stats.items()}


async def _transactions(url: str) -> int:
    await asyncio.sleep(SETTLE)
    connection = await ingest.connect(url)
    try:
        return int(
            await connection.fetchval(
                "SELECT xact_commit + xact_rollback FROM pg_stat_database"
                " WHERE datname = current_database()"
            )
        )
    finally:
        await connection.close()


async def cache_writes(valkey: aioredis.Redis) -> int:
    """Redis SET calls so far: the API stores one body per computation and nothing on a hit."""
    stats = await valkey.info("commandstats")
    return int(stats.get("cmdstat_set", {}).get("calls", 0))


async def computations(
    valkey: aioredis.Redis, port: int, paths: list[str], concurrency: int
) -> tuple[float, dict[str, Any]]:
    before = await cache_writes(valkey)
    run = drive(port, paths, concurrency)
    return await cache_writes(valkey) - before, run


async def zipf_traffic(
    args: argparse.Namespace, port: int, valkey: aioredis.Redis
) -> dict[str, Any]:
    """Dependents of packages drawn Zipf-like by popularity; the first half warms the cache,
    the second is measured: hit ratio = 1 - bodies computed (Redis SETs) / requests."""
    connection = await ingest.connect(args.database_url)
    try:
        names = [
            r["name"]
            for r in await connection.fetch(
                "SELECT p.name FROM dependencies d JOIN packages p ON p.id = d.package_id"
                " GROUP BY p.name ORDER BY count(*) DESC, p.name LIMIT 1000"
            )
        ]
    finally:
        await connection.close()
    rng = random.Random(args.seed)
    total = 200 if args.smoke else 3000
    drawn = rng.choices(names, weights=[1 / (rank + 1) for rank in range(len(names))], k=total)
    warm, measured = drawn[: total // 2], drawn[total // 2 :]
    await flush_prefix(valkey, args.cache_prefix)
    drive(port, [_path(name, "dependents", None) for name in warm], 32)
    # After the warm-up: the first requests also store keys a computation doesn't.
    probe = _path(names[0], "dependents", None, "&exclude_owner=bench-zipf-probe")
    one, _ = await computations(valkey, port, [probe], 1)
    writes, run = await computations(
        valkey, port, [_path(name, "dependents", None) for name in measured], 32
    )
    seen = set(warm)
    cold = 0
    for name in measured:
        cold += name not in seen
        seen.add(name)
    return {
        "packages": len(names),
        "warm_requests": len(warm),
        "measured_requests": len(measured),
        "cache_sets_per_computation": one,
        "computations": writes / one if one else None,
        "hit_ratio": round(1 - writes / one / len(measured), 4) if one else None,
        "best_possible_hit_ratio": round(1 - cold / len(measured), 4),
        "load": run,
    }


async def stampede(args: argparse.Namespace, port: int, valkey: aioredis.Redis) -> dict[str, Any]:
    """Concurrent requests on one cold key; computations counted twice: by bodies stored in
    Redis, and by scans of the edge table (calibrated with one cold request)."""
    name = (await pick_packages(args.database_url))["hot"]
    count = not args.smoke  # the edge-scan cross-check waits for counters to settle
    start = await scans(args.database_url) if count else 0
    sets_one, _ = await computations(
        valkey, port, [_path(name, "dependents", None, "&exclude_owner=bench-stampede-probe")], 1
    )
    one = await scans(args.database_url) - start if count else 0
    start = await scans(args.database_url) if count else 0
    size = 50 if args.smoke else 500
    sets_many, run = await computations(
        valkey,
        port,
        [_path(name, "dependents", None, "&exclude_owner=bench-stampede")] * size,
        size,
    )
    many = await scans(args.database_url) - start if count else 0
    return {
        "requests": size,
        "computations_by_cache_sets": sets_many / sets_one if sets_one else None,
        "edge_scans_per_computation": one,
        "edge_scans": many,
        "computations_by_edge_scans": round(many / one, 1) if one else None,
        "load": run,
    }


async def main(args: argparse.Namespace) -> int:
    edges = args.edges or graph.SCALES[args.scale]
    shape = graph.Shape.for_edges(edges)
    started = time.perf_counter()
    g = graph.build(shape, args.seed)
    print(
        f"graph: {g.edges:,} edges, {len(g.snapshots):,} repositories, {shape.owners:,} owners, "
        f"{shape.packages:,} package names ({time.perf_counter() - started:.1f}s)",
        flush=True,
    )
    await recreate_database(args.database_url)
    settings = Settings(_env_file=None, database_url=args.database_url, database_pool_size=2)
    valkey = aioredis.from_url(args.valkey_url)
    results: dict[str, Any] = {
        "scale": args.scale,
        "edges_requested": edges,
        "seed": args.seed,
        "smoke": args.smoke,
        "workers": args.workers,
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    api: server.Server | None = None
    try:
        engine = create_engine(settings)
        await migrations.upgrade(engine)
        await engine.dispose()
        results["machine"] = await machine(args.database_url, valkey)
        results["ingestion"] = await ingestion(args, settings, g)
        del g
        names = await pick_packages(args.database_url)
        results["packages"] = {
            role: {"name": name, "dependents": await dependents_count(args.database_url, name)}
            for role, name in names.items()
        }
        results["database"] = await database_side(args, settings, names)
        await flush_prefix(valkey, args.cache_prefix)
        api = server.start(args.database_url, args.valkey_url, args.cache_prefix, args.workers)
        ids = {role: await _package_id(args.database_url, name) for role, name in names.items()}
        results["http"] = http_side(args, api.port, names, ids)
        if not args.smoke:
            results["hit_anatomy"] = await hit_anatomy(args, api.port, valkey, names["hot"])
        results["zipf"] = await zipf_traffic(args, api.port, valkey)
        results["stampede"] = await stampede(args, api.port, valkey)
        results["api_worker_peak_rss_mb"] = api.peak_rss_mb()
    finally:
        if api is not None:
            api.stop()
        await flush_prefix(valkey, args.cache_prefix)
        await valkey.aclose()
        if not args.keep:
            await drop_database(args.database_url)
    results["targets"] = report.targets(results)
    errors = report.errors(results)
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    label = args.scale if not args.edges else f"{args.edges}"
    output = RESULTS / f"{label}-{stamp}.json"
    output.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nresults: {output}")
    print(report.table(results))
    if not args.smoke and not args.no_markdown:
        report.write_markdown(results, Path(__file__).parent.parent / "RESULTS.md")
    if errors:
        print(f"errors: {errors}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(arguments())))
