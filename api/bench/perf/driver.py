"""The load driver: a separate process that sends a list of GETs at a fixed concurrency.

A minimal HTTP/1.1 keep-alive client on asyncio streams, so the driver spends as
little CPU per request as it can (the machine's cores are shared with the server
and the database). Reads a JSON job on stdin, writes its figures as JSON on stdout:

    {"port": 8000, "paths": ["/api/v1/..."], "concurrency": 32}

With `"bump": {"url": "redis://...", "key": "..."}` it increments that cache
generation before each request (outside the timed span), so every request finds
a cold cache for URLs whose query can't be varied (a cursor is bound to its filters).
"""

import asyncio
import json
import sys
import time
from typing import Any

import redis.asyncio as aioredis


class Connection:
    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, path: str) -> tuple[int, bytes, dict[str, str]]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        self.writer.write(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n\r\n".encode()
        )
        head = (await self.reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        status = int(head[0].split()[1])
        headers = {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in head[1:] if h)}
        if headers.get("transfer-encoding") == "chunked":
            body = await self._chunked()
        else:
            body = await self.reader.readexactly(int(headers.get("content-length", "0")))
        if headers.get("connection") == "close":
            await self.close()
        return status, body, headers

    async def _chunked(self) -> bytes:
        assert self.reader is not None
        parts = []
        while size := int((await self.reader.readline()).split(b";")[0], 16):
            parts.append(await self.reader.readexactly(size))
            await self.reader.readline()
        await self.reader.readline()
        return b"".join(parts)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


async def run(job: dict[str, Any]) -> dict[str, Any]:
    paths: list[str] = job["paths"]
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    errors: list[str] = []
    position = 0
    bump = job.get("bump")
    valkey = aioredis.from_url(bump["url"]) if bump else None
    generation = bump["key"] if bump else ""

    async def worker() -> None:
        nonlocal position
        connection = Connection(job["port"])
        while position < len(paths):
            path = paths[position]
            position += 1
            if valkey is not None:
                await valkey.incr(generation)
            started = time.perf_counter()
            try:
                status, _, _ = await connection.get(path)
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
                await connection.close()
                continue
            latencies.append((time.perf_counter() - started) * 1000)
            statuses[str(status)] = statuses.get(str(status), 0) + 1
            if status >= 400:
                errors.append(f"HTTP {status} {path}")
        await connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(job["concurrency"])))
    elapsed = time.perf_counter() - started
    if valkey is not None:
        await valkey.aclose()
    return {
        "requests": len(paths),
        "concurrency": job["concurrency"],
        "seconds": round(elapsed, 3),
        "requests_per_second": round(len(latencies) / elapsed, 1) if elapsed else 0.0,
        "p50_ms": round(percentile(latencies, 0.50), 2),
        "p99_ms": round(percentile(latencies, 0.99), 2),
        "max_ms": round(max(latencies, default=0.0), 2),
        "statuses": statuses,
        "errors": len(errors),
        "error_examples": errors[:3],
    }


if __name__ == "__main__":
    result = asyncio.run(run(json.load(sys.stdin)))
    json.dump(result, sys.stdout)
