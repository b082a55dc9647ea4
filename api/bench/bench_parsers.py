"""Lockfile parser throughput: a 50k-package package-lock.json (v3) and poetry.lock.

Run with `cd api && uv run python bench/bench_parsers.py [--entries N] [--rounds N]`.
Each file is generated into a temporary directory, then read and parsed `rounds` times
through `parse_file`, as ingestion does. Prints one JSON document: per file, its size,
the best and median wall time, entries per second at the median, and the peak memory
tracemalloc saw during one extra, traced round.
"""

import argparse
import json
import statistics
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

from wump.ingest.parsers import parse_file


def package_lock(entries: int) -> str:
    """A v3 lockfile shaped like npm's: one direct dependency in ten, a dev one in four."""
    root: dict[str, Any] = {
        "name": "bench-app",
        "version": "1.0.0",
        "dependencies": {f"pkg-{i}": f"^1.{i}.0" for i in range(0, entries, 10)},
        "devDependencies": {f"pkg-{i}": f"^1.{i}.0" for i in range(5, entries, 10)},
    }
    packages: dict[str, Any] = {"": root}
    for i in range(entries):
        # Every fiftieth package is a second copy nested under the one before it.
        key = (
            f"node_modules/pkg-{i - 1}/node_modules/pkg-{i}"
            if i % 50 == 49
            else f"node_modules/pkg-{i}"
        )
        entry: dict[str, Any] = {
            "version": f"1.{i}.0",
            "resolved": f"https://registry.npmjs.org/pkg-{i}/-/pkg-{i}-1.{i}.0.tgz",
            "integrity": f"sha512-{i:086x}==",
            "dependencies": {f"pkg-{(i * 7 + 1) % entries}": "^1.0.0"},
            "engines": {"node": ">=18"},
        }
        if i % 4 == 3:
            entry["dev"] = True
        packages[key] = entry
    document = {"name": "bench-app", "version": "1.0.0", "lockfileVersion": 3, "packages": packages}
    return json.dumps(document, indent=2)


def poetry_lock(entries: int) -> str:
    """A lock-version 2.1 file shaped like Poetry 2's, with hashes and dependency tables."""
    blocks = []
    for i in range(entries):
        group = "dev" if i % 4 == 3 else "main"
        blocks.append(
            f'[[package]]\nname = "package-{i}"\nversion = "1.{i}.0"\n'
            f'description = "Benchmark package {i}"\noptional = false\n'
            f'python-versions = ">=3.9"\ngroups = ["{group}"]\nfiles = [\n'
            f'    {{file = "package_{i}-1.{i}.0-py3-none-any.whl", hash = "sha256:{i:064x}"}},\n'
            f'    {{file = "package_{i}-1.{i}.0.tar.gz", hash = "sha256:{i + 1:064x}"}},\n]\n\n'
            f'[package.dependencies]\npackage-{(i * 7 + 1) % entries} = ">=1.0"\n'
        )
    metadata = '[metadata]\nlock-version = "2.1"\npython-versions = "^3.9"\ncontent-hash = "0"\n'
    return "\n".join(blocks) + "\n" + metadata


def measure(path: Path, rounds: int) -> dict[str, Any]:
    times = []
    count = 0
    for _ in range(rounds):
        started = time.perf_counter()
        count = len(parse_file(path).dependencies)
        times.append(time.perf_counter() - started)
    tracemalloc.start()
    parse_file(path)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    median = statistics.median(times)
    return {
        "file": path.name,
        "bytes": path.stat().st_size,
        "dependencies": count,
        "rounds": rounds,
        "best_seconds": round(min(times), 3),
        "median_seconds": round(median, 3),
        "entries_per_second": round(count / median),
        "peak_traced_mib": round(peak / 2**20, 1),
    }


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--entries", type=int, default=50_000)
    options.add_argument("--rounds", type=int, default=3)
    args = options.parse_args()
    generators: dict[str, Callable[[int], str]] = {
        "package-lock.json": package_lock,
        "poetry.lock": poetry_lock,
    }
    results = []
    with tempfile.TemporaryDirectory() as directory:
        for name, generate in generators.items():
            path = Path(directory) / name
            path.write_text(generate(args.entries), encoding="utf-8")
            results.append(measure(path, args.rounds))
    print(json.dumps({"entries": args.entries, "results": results}, indent=2))


if __name__ == "__main__":
    main()
