"""A small best-effort cache: Valkey/Redis when configured, in-process otherwise.

Callers see one interface (`Cache`). Every backend error is logged and turned
into a miss, so a cache outage slows requests down but never fails them.
Keys are namespaced and versioned (`wump:v1:...`); bump `SCHEMA_VERSION` when
the shape of cached values changes.
"""

import time
from collections import OrderedDict
from collections.abc import Iterable
from typing import Protocol, TypeVar

import structlog
from pydantic import BaseModel, ValidationError
from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

log = structlog.get_logger(__name__)

SCHEMA_VERSION = 1
_SCRIPT_CHUNK = 1000
M = TypeVar("M", bound=BaseModel)


class CacheBackend(Protocol):
    async def get(self, key: str) -> bytes | None: ...
    async def set(self, key: str, value: bytes, ttl_seconds: int) -> None: ...
    async def delete(self, key: str) -> None: ...
    async def incr(self, key: str) -> int: ...
    async def incr_many(self, keys: list[str]) -> None: ...
    async def ping(self) -> None: ...
    async def close(self) -> None: ...


class MemoryBackend:
    """A bounded LRU with per-entry expiry, for the embedded default."""

    def __init__(self, max_entries: int = 10_000) -> None:
        self._data: OrderedDict[str, tuple[float | None, bytes]] = OrderedDict()
        self._max_entries = max_entries

    async def get(self, key: str) -> bytes | None:
        entry = self._data.get(key)
        if entry is None:
            return None
        expires_at, value = entry
        if expires_at is not None and expires_at <= time.monotonic():
            del self._data[key]
            return None
        self._data.move_to_end(key)
        return value

    async def set(self, key: str, value: bytes, ttl_seconds: int) -> None:
        self._data[key] = (time.monotonic() + ttl_seconds, value)
        self._data.move_to_end(key)
        while len(self._data) > self._max_entries:
            self._data.popitem(last=False)

    async def delete(self, key: str) -> None:
        self._data.pop(key, None)

    async def incr(self, key: str) -> int:
        current = await self.get(key)
        value = int(current or 0) + 1
        # Counters never expire: losing one would serve stale entries.
        self._data[key] = (None, str(value).encode())
        return value

    async def incr_many(self, keys: list[str]) -> None:
        # `incr` inlined: an ingest batch bumps tens of thousands of keys at once.
        data = self._data
        for key in keys:
            entry = data.get(key)
            current = 0 if entry is None else int(entry[1])
            data[key] = (None, str(current + 1).encode())
            data.move_to_end(key)

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        self._data.clear()


# INCR has no multi-key form. A pipeline of single INCRs costs the client about 13 µs
# a key (packing each command in Python), which made the generation bumps after a big
# ingest batch take longer than the batch; one script call per chunk is 8x cheaper.
# Every key of a call is on one server: wump does not run against Redis Cluster.
_INCR_ALL = "for _, key in ipairs(KEYS) do redis.call('INCR', key) end return #KEYS"


class RedisBackend:
    def __init__(self, client: Redis) -> None:
        self.client = client
        self._incr_all = client.register_script(_INCR_ALL)

    async def get(self, key: str) -> bytes | None:
        value = await self.client.get(key)
        return value.encode() if isinstance(value, str) else value

    async def set(self, key: str, value: bytes, ttl_seconds: int) -> None:
        await self.client.set(key, value, ex=ttl_seconds)

    async def delete(self, key: str) -> None:
        await self.client.delete(key)

    async def incr(self, key: str) -> int:
        return int(await self.client.incr(key))

    async def incr_many(self, keys: list[str]) -> None:
        # One round trip per chunk instead of one per key: a big ingest touches
        # hundreds of thousands of packages.
        for start in range(0, len(keys), _SCRIPT_CHUNK):
            chunk = keys[start : start + _SCRIPT_CHUNK]
            try:
                await self._incr_all(keys=chunk)
            except ResponseError as exc:
                # A server that refuses scripts (some managed services turn them off):
                # a missed bump would serve stale answers, so take the slow way. A key
                # the script had already bumped moves twice, which is harmless.
                log.warning("cache_script_refused", error=str(exc)[:200], keys=len(chunk))
                async with self.client.pipeline(transaction=False) as pipe:
                    for key in chunk:
                        pipe.incr(key)
                    await pipe.execute()

    async def ping(self) -> None:
        await self.client.ping()

    async def close(self) -> None:
        await self.client.aclose()


def redis_client(url: str, *, timeout_seconds: float = 1.0) -> Redis:
    # Short socket timeouts: a hung Valkey must degrade to a miss quickly.
    return Redis.from_url(
        url,
        socket_timeout=timeout_seconds,
        socket_connect_timeout=timeout_seconds,
        health_check_interval=30,
    )


class Cache:
    """The interface the rest of wump uses. Never raises on backend failure."""

    def __init__(self, backend: CacheBackend, *, prefix: str = "wump") -> None:
        self.backend = backend
        self.prefix = prefix

    @property
    def kind(self) -> str:
        return "redis" if isinstance(self.backend, RedisBackend) else "memory"

    def key(self, *parts: object) -> str:
        return ":".join([self.prefix, f"v{SCHEMA_VERSION}", *(str(p) for p in parts)])

    async def get(self, key: str) -> bytes | None:
        try:
            return await self.backend.get(key)
        except (TimeoutError, RedisError, OSError) as exc:
            log.warning("cache_error", op="get", error=type(exc).__name__)
            return None

    async def set(self, key: str, value: bytes, ttl_seconds: int) -> None:
        try:
            await self.backend.set(key, value, ttl_seconds)
        except (TimeoutError, RedisError, OSError) as exc:
            log.warning("cache_error", op="set", error=type(exc).__name__)

    async def delete(self, key: str) -> None:
        try:
            await self.backend.delete(key)
        except (TimeoutError, RedisError, OSError) as exc:
            log.warning("cache_error", op="delete", error=type(exc).__name__)

    async def incr(self, key: str) -> int | None:
        try:
            return await self.backend.incr(key)
        except (TimeoutError, RedisError, OSError) as exc:
            log.warning("cache_error", op="incr", error=type(exc).__name__)
            return None

    def version_key(self, kind: str, id_: object) -> str:
        return self.key("ver", kind, id_)

    async def version(self, kind: str, id_: object) -> int:
        """The current cache generation of one object (a package, an organization).

        Cached values embed the generations they were computed from in their keys,
        so bumping a generation makes them unreachable: no wildcard deletes needed.
        """
        raw = await self.get(self.version_key(kind, id_))
        return int(raw) if raw is not None else 0

    async def bump(self, kind: str, ids: Iterable[object]) -> None:
        """Invalidate everything cached about these objects. Call after commit."""
        prefix = self.version_key(kind, "")
        keys = [f"{prefix}{id_}" for id_ in ids]
        if not keys:
            return
        try:
            await self.backend.incr_many(keys)
        except (TimeoutError, RedisError, OSError) as exc:
            log.warning("cache_error", op="bump", error=type(exc).__name__, keys=len(keys))

    async def get_model(self, key: str, model: type[M]) -> M | None:
        raw = await self.get(key)
        if raw is None:
            return None
        try:
            return model.model_validate_json(raw)
        except ValidationError:
            # A value written by an older release: treat it as a miss.
            return None

    async def set_model(self, key: str, value: BaseModel, ttl_seconds: int) -> None:
        await self.set(key, value.model_dump_json().encode(), ttl_seconds)

    async def ping(self) -> None:
        """Raises when the backend is unreachable; used by health checks only."""
        await self.backend.ping()

    async def close(self) -> None:
        try:
            await self.backend.close()
        except (RedisError, OSError) as exc:
            log.warning("cache_error", op="close", error=type(exc).__name__)
