"""Response caching: cache-aside with single-flight, and HTTP validators (ETag, 304).

Computed bodies are cached as the JSON bytes that are sent, under keys that
embed the cache generations of the objects they were computed from
(`Cache.version`), so ingestion invalidates them by bumping a counter.

Stampede protection is per process: concurrent misses for one key in this
process compute once and share the result. Across N instances a key is
computed at most N times per expiry, which bounds the load without a
distributed lock (a lock held by a crashed instance would stall everyone).
"""

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request, Response
from pydantic import BaseModel

from wump.core.cache import Cache
from wump.core.csv_export import CSV_MEDIA_TYPE
from wump.core.errors import problem_responses

Compute = Callable[[], Awaitable[BaseModel]]


class SingleFlight:
    """Concurrent calls for the same key share one computation."""

    def __init__(self) -> None:
        self._inflight: dict[str, asyncio.Future[bytes]] = {}

    def __len__(self) -> int:
        return len(self._inflight)

    async def run(self, key: str, compute: Callable[[], Awaitable[bytes]]) -> bytes:
        leader = self._inflight.get(key)
        if leader is not None:
            shared = await self._follow(leader)
            if shared is not None:
                return shared
            # The leader failed or was cancelled: compute for ourselves.
            return await compute()
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            value = await compute()
        except BaseException:
            future.cancel()
            raise
        else:
            future.set_result(value)
            return value
        finally:
            del self._inflight[key]

    @staticmethod
    async def _follow(leader: asyncio.Future[bytes]) -> bytes | None:
        try:
            return await asyncio.shield(leader)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise
            return None


# Futures are only shared between requests of one process, which is the point.
_flights = SingleFlight()


async def cached_json(cache: Cache, key: str, ttl_seconds: int, compute: Compute) -> bytes:
    """The cached JSON body for `key`, computing and storing it once on a miss."""
    hit = await cache.get(key)
    if hit is not None:
        return hit

    async def fill() -> bytes:
        body = (await compute()).model_dump_json().encode()
        await cache.set(key, body, ttl_seconds)
        return body

    return await _flights.run(key, fill)


async def generation_key(cache: Cache, kind: str, id_: object, *parts: object) -> str:
    """A cache key that embeds the current generation of (`kind`, `id_`).

    `("global", "stats")` is the catalogue-wide generation: ingestion bumps it after
    each batch, which refreshes statistics, package and organization lists and search.
    """
    generation = await cache.version(kind, id_)
    return cache.key(kind, id_, f"g{generation}", *parts)


def etag_for(body: bytes) -> str:
    return f'W/"{hashlib.sha256(body).hexdigest()[:32]}"'


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110 weak comparison against an `If-None-Match` list (or `*`)."""
    if not if_none_match:
        return False
    wanted = etag.removeprefix("W/")
    for candidate in if_none_match.split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate.removeprefix("W/") == wanted:
            return True
    return False


def json_response(request: Request, body: bytes, *, max_age: int) -> Response:
    """`body` with its ETag and caching headers, or a bodiless 304 when the client has it."""
    etag = etag_for(body)
    headers = {
        "ETag": etag,
        "Cache-Control": f"public, max-age={max_age}",
        # The same URL also answers CSV when asked with `Accept: text/csv`.
        "Vary": "Accept",
    }
    if etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


def cached_get_responses(
    *errors: int, csv_example: str | None = None, example: object = None
) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` for a cached GET: 200 headers (and CSV), 304, and problems."""
    ok: dict[str, Any] = {
        "headers": {
            "ETag": {
                "description": "A weak validator of the body; send it back in `If-None-Match`.",
                "schema": {"type": "string"},
            },
            "Cache-Control": {
                "description": "`public, max-age=...`: how long the body may be reused.",
                "schema": {"type": "string"},
            },
        },
        "content": {},
    }
    if example is not None:
        ok["content"]["application/json"] = {"example": example}
    if csv_example is not None:
        ok["content"][CSV_MEDIA_TYPE] = {"schema": {"type": "string"}, "example": csv_example}
    return {
        200: ok,
        304: {"description": "Not Modified: the `If-None-Match` ETag is still current."},
        # Any GET whose URL (query string included) is longer than the server accepts.
        **problem_responses(*errors, 414),
    }
