"""The issue's targets against a run's figures, as a table and as `bench/RESULTS.md`."""

from pathlib import Path
from typing import Any

START, END = "<!-- generated:start -->", "<!-- generated:end -->"
HOT = "hot.dependents.first"


def _get(results: dict[str, Any], *path: str) -> Any:
    value: Any = results
    for part in path:
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _row(target: str, measured: str, met: bool | None, note: str = "") -> dict[str, Any]:
    return {"target": target, "measured": measured, "met": met, "note": note}


def _worst_db(results: dict[str, Any], endpoint: str, stat: str) -> tuple[float, str]:
    pages = {k: v for k, v in results.get("database", {}).items() if f".{endpoint}." in k}
    key = max(pages, key=lambda k: pages[k]["raw_sql"][stat])
    return pages[key]["raw_sql"][stat], key


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for endpoint in ("dependents", "repositories"):
        p50, at50 = _worst_db(results, endpoint, "p50_ms")
        p99, at99 = _worst_db(results, endpoint, "p99_ms")
        rows += [
            _row(f"{endpoint} DB time p50 ≤ 1 ms", f"{p50:.2f} ms", p50 <= 1, f"worst: {at50}"),
            _row(f"{endpoint} DB time p99 ≤ 5 ms", f"{p99:.2f} ms", p99 <= 5, f"worst: {at99}"),
        ]
    miss = _get(results, "http", f"{HOT}.c32.miss") or {}
    hit = _get(results, "http", f"{HOT}.c32.hit") or {}
    miss1 = _get(results, "http", f"{HOT}.c1.miss") or {}
    hit1 = _get(results, "http", f"{HOT}.c1.hit") or {}
    errors = sum(run.get("errors", 0) for run in results.get("http", {}).values())
    rows += [
        _row(
            "HTTP miss c=32 p50 ≤ 20 ms",
            f"{miss.get('p50_ms')} ms",
            miss.get("p50_ms", 1e9) <= 20,
            HOT,
        ),
        _row(
            "HTTP miss c=32 p99 ≤ 100 ms",
            f"{miss.get('p99_ms')} ms",
            miss.get("p99_ms", 1e9) <= 100,
            HOT,
        ),
        _row(
            "HTTP miss ≥ 1,200 req/s (2 workers)",
            f"{miss.get('requests_per_second')} req/s",
            miss.get("requests_per_second", 0) >= 1200,
            HOT,
        ),
        _row("0 errors", f"{errors} errors in {len(results.get('http', {}))} runs", errors == 0),
        _row(
            "HTTP hit ≥ 4,000 req/s",
            f"{hit.get('requests_per_second')} req/s",
            hit.get("requests_per_second", 0) >= 4000,
            f"{HOT}, c=32",
        ),
        _row(
            "hit p50 ≤ ½ miss p50",
            f"{hit1.get('p50_ms')} / {miss1.get('p50_ms')} ms "
            f"= {_ratio(hit1.get('p50_ms'), miss1.get('p50_ms'))}",
            (hit1.get("p50_ms") or 1e9) <= (miss1.get("p50_ms") or 0) / 2,
            f"{HOT}, c=1",
        ),
    ]
    raw = _get(results, "database", HOT, "raw_sql", "p50_ms")
    api_raw = (miss1.get("p50_ms") or 0) / raw if raw else None
    rows.append(
        _row(
            "API/raw ≤ 1.5",
            f"{api_raw:.2f}x" if api_raw else "n/a",
            api_raw is not None and api_raw <= 1.5,
            "HTTP miss p50 (c=1) / replayed SQL p50",
        )
    )
    for page in ("first", "deep"):
        key = f"hot.dependents.{page}"
        naive, wump = (
            _get(results, "database", key, "naive", "p50_ms"),
            _get(results, "database", key, "wump_in_process", "p50_ms"),
        )
        if naive and wump:
            rows.append(
                _row(
                    f"wump/naive ≥ 50x ({key})",
                    f"{naive / wump:.1f}x",
                    naive / wump >= 50,
                    f"naive {naive} ms, wump {wump} ms",
                )
            )
    rows += _ingestion_rows(results.get("ingestion", {}))
    workers = results.get("api_worker_peak_rss_mb") or [0]
    loader = _get(results, "ingestion", "loader_process_peak_rss_mb") or 0
    rows += [
        _row(
            "API worker ≤ 250 MB RSS",
            f"{max(workers)} MB",
            max(workers) <= 250,
            "VmHWM per worker: " + ", ".join(map(str, workers)),
        ),
        _row(
            "ingestion ≤ 1 GB RSS",
            f"{loader} MB",
            loader <= 1024,
            "VmHWM of the loading process, graph held in memory included",
        ),
    ]
    zipf = results.get("zipf", {})
    ratio = zipf.get("hit_ratio")
    rows.append(
        _row(
            "Zipf hit ratio ≥ 90%",
            f"{ratio:.1%}" if ratio is not None else "n/a",
            ratio is not None and ratio >= 0.9,
            f"steady state, c=32; best possible {zipf.get('best_possible_hit_ratio', 0):.1%}",
        )
    )
    stampede = results.get("stampede", {})
    computed = stampede.get("computations_by_cache_sets")
    rows.append(
        _row(
            "stampede: at most one computation per worker for a cold key",
            f"{computed} computations",
            computed is not None and computed <= results.get("workers", 1),
            f"{stampede.get('requests')} concurrent requests; by edge-table scans: "
            f"{stampede.get('computations_by_edge_scans')}",
        )
    )
    return rows


def _ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}" if a and b else "n/a"


def _ingestion_rows(figures: dict[str, Any]) -> list[dict[str, Any]]:
    if not figures:
        return []
    rate = figures["first_load_edges_per_second"]
    projected = 10_000_000 / rate
    writes = sum(figures["rerun_row_writes"].values())
    return [
        _row(
            "initial load ≥ 500k edges/s",
            f"{rate:,} edges/s",
            rate >= 500_000,
            f"{figures['first_load_ratio_to_copy']:.0%} of a plain COPY "
            f"({figures['copy_edges_per_second']:,} edges/s)",
        ),
        _row(
            "10M edges in < 3 min",
            f"{projected / 60:.1f} min (projected)",
            projected < 180,
            f"from {figures['edges']:,} edges at the measured rate",
        ),
        _row(
            "incremental ≥ 50k edges/s",
            f"{figures['incremental_edges_per_second']:,} edges/s",
            figures["incremental_edges_per_second"] >= 50_000,
            f"{figures['incremental_repositories']:,} repositories, 10% of edges changed",
        ),
        _row(
            "identical rerun changes 0 rows",
            f"{writes:,} row writes",
            writes == 0,
            "content digest unchanged" if figures["rerun_content_unchanged"] else "CONTENT CHANGED",
        ),
    ]


def errors(results: dict[str, Any]) -> list[str]:
    """Failures of the run itself (not missed targets): HTTP errors, a rerun that changed data."""
    found = [
        f"{key}: {run['error_examples']}"
        for key, run in results.get("http", {}).items()
        if run.get("errors")
    ]
    for name in ("zipf", "stampede"):
        if _get(results, name, "load", "errors"):
            found.append(f"{name}: {results[name]['load']['error_examples']}")
    if _get(results, "ingestion", "rerun_content_unchanged") is False:
        found.append("the identical rerun changed the stored graph")
    return found


def table(results: dict[str, Any]) -> str:
    lines = ["| target | measured | met | note |", "| --- | --- | --- | --- |"]
    for row in results["targets"]:
        met = {True: "met", False: "**not met**", None: "n/a"}[row["met"]]
        lines.append(f"| {row['target']} | {row['measured']} | {met} | {row['note']} |")
    return "\n".join(lines)


def pages(results: dict[str, Any]) -> str:
    lines = [
        "| page | SQL | service | naive | miss c=1 | hit c=1 | miss c=32 | hit c=32 |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    http = results.get("http", {})
    for key, figures in results.get("database", {}).items():
        if "raw_sql" not in figures:
            continue
        runs = [http.get(f"{key}.c{c}.{kind}", {}) for c in (1, 32) for kind in ("miss", "hit")]
        lines.append(
            f"| {key} (hop {figures['hops']}) | {figures['raw_sql']['p50_ms']} | "
            f"{figures['wump_in_process']['p50_ms']} | {figures['naive']['p50_ms']} | "
            + " | ".join(str(run.get("p50_ms", "")) for run in runs)
            + " |"
        )
    return "\n".join(lines)


def anatomy(results: dict[str, Any]) -> str:
    hit = results.get("hit_anatomy")
    if not hit:
        return ""
    commands = ", ".join(f"{k} {v}" for k, v in hit["redis_commands_per_hit_by_command"].items())
    return (
        f"One cache hit (hottest package, c=1, p50 {hit['load']['p50_ms']} ms): "
        f"{hit['redis_commands_per_hit']} Redis commands ({commands}) and "
        f"{hit['postgres_transactions_per_hit']} PostgreSQL transactions."
    )


def write_markdown(results: dict[str, Any], path: Path) -> None:
    """Rewrite the generated part of RESULTS.md; text outside the markers is kept."""
    machine = results["machine"]
    packages = results["packages"]
    plan = _get(results, "database", "explain_hot_dependents", "plan") or ""
    generated = "\n".join(
        [
            START,
            f"Run of {results['started_at']}: `--scale {results['scale']}`, "
            f"{results['ingestion']['edges']:,} edges, {results['ingestion']['repositories']:,} "
            f"repositories, seed {results['seed']}, {results['workers']} API workers.",
            f"Machine: {machine['cores']} cores, {machine['memory_gb']} GB, Python "
            f"{machine['python']}, PostgreSQL {machine['postgresql']}, Redis {machine['redis']}.",
            "Packages: "
            + ", ".join(
                f"{role} `{p['name']}` ({p['dependents']:,} dependents)"
                for role, p in packages.items()
            )
            + ".",
            "",
            table(results),
            "",
            "Per page (p50, ms): the replayed SQL, wump's service in-process, the naive way, "
            "and HTTP at concurrency 1 and 32 (miss / hit).",
            "",
            pages(results),
            "",
            anatomy(results),
            "",
            "EXPLAIN (ANALYZE, BUFFERS) of the heaviest statement of the hottest package's "
            "first dependents page:",
            "",
            "```",
            plan,
            "```",
            END,
        ]
    )
    text = path.read_text() if path.exists() else "# Performance results\n\n" + START + END
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    path.write_text(head + generated + tail)
