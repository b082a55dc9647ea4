import asyncio
from typing import Any

import fakeredis
import pytest
from pydantic import BaseModel
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from wump.core.cache import SCHEMA_VERSION, Cache, MemoryBackend, RedisBackend


class Item(BaseModel):
    name: str
    count: int


class _BrokenRedis(fakeredis.FakeAsyncRedis):
    async def get(self, *args: object, **kwargs: object) -> None:
        raise RedisConnectionError("connection refused")

    async def set(self, *args: object, **kwargs: object) -> None:
        raise RedisConnectionError("connection refused")

    async def incr(self, *args: object, **kwargs: object) -> None:  # type: ignore[override]
        raise RedisConnectionError("connection refused")

    async def delete(self, *args: object, **kwargs: object) -> None:  # type: ignore[override]
        raise RedisConnectionError("connection refused")

    async def ping(self, *args: object, **kwargs: object) -> None:  # type: ignore[override]
        raise RedisConnectionError("connection refused")

    async def evalsha(self, *args: object, **kwargs: object) -> None:
        raise RedisConnectionError("connection refused")

    def pipeline(self, *args: object, **kwargs: object) -> Any:
        raise RedisConnectionError("connection refused")


@pytest.fixture(params=["memory", "redis"])
def any_cache(request: pytest.FixtureRequest, cache: Cache) -> Cache:
    if request.param == "memory":
        return Cache(MemoryBackend(), prefix=cache.prefix)
    return cache


async def test_keys_are_prefixed_and_versioned(any_cache: Cache) -> None:
    assert any_cache.key("pkg", 1) == f"{any_cache.prefix}:v{SCHEMA_VERSION}:pkg:1"


async def test_set_get_delete_round_trip(any_cache: Cache) -> None:
    key = any_cache.key("item")
    await any_cache.set_model(key, Item(name="a", count=2), ttl_seconds=60)

    assert await any_cache.get_model(key, Item) == Item(name="a", count=2)
    await any_cache.delete(key)
    assert await any_cache.get_model(key, Item) is None


async def test_value_of_another_shape_is_a_miss(any_cache: Cache) -> None:
    key = any_cache.key("old")
    await any_cache.set(key, b'{"unexpected": true}', ttl_seconds=60)

    assert await any_cache.get_model(key, Item) is None


async def test_generations_start_at_zero_and_bump(any_cache: Cache) -> None:
    assert await any_cache.version("package", 7) == 0

    await any_cache.bump("package", [7, 8])
    await any_cache.bump("package", [7])

    assert await any_cache.version("package", 7) == 2
    assert await any_cache.version("package", 8) == 1
    assert await any_cache.version("organization", 7) == 0


async def test_bumping_many_ids_bumps_each_once(any_cache: Cache) -> None:
    ids = list(range(2500))  # more than one script call

    await any_cache.bump("package", ids)
    await any_cache.bump("package", [])

    assert {await any_cache.version("package", id_) for id_ in (0, 999, 1000, 2499)} == {1}
    assert await any_cache.version("package", 2500) == 0


async def test_bumps_survive_a_server_that_forgot_the_script() -> None:
    client = fakeredis.FakeAsyncRedis()
    cache = Cache(RedisBackend(client))
    await cache.bump("package", [1])
    # A restarted or failed-over server has no scripts loaded: EVALSHA answers NOSCRIPT.
    await client.script_flush()

    await cache.bump("package", [1, 2])

    assert (await cache.version("package", 1), await cache.version("package", 2)) == (2, 1)


class _NoScripts(fakeredis.FakeAsyncRedis):
    async def evalsha(self, *args: object, **kwargs: object) -> None:
        raise ResponseError("unknown command 'EVALSHA'")


async def test_bumps_still_happen_on_a_server_that_refuses_scripts() -> None:
    cache = Cache(RedisBackend(_NoScripts()))

    await cache.bump("package", range(1500))
    await cache.bump("package", [0])

    assert await cache.version("package", 0) == 2
    assert await cache.version("package", 1499) == 1


async def test_entries_expire_after_their_ttl() -> None:
    cache = Cache(MemoryBackend())
    await cache.set("k", b"v", ttl_seconds=1)
    assert await cache.get("k") == b"v"

    await asyncio.sleep(1.05)

    assert await cache.get("k") is None


async def test_memory_backend_evicts_least_recently_used() -> None:
    cache = Cache(MemoryBackend(max_entries=2))
    await cache.set("a", b"1", 60)
    await cache.set("b", b"2", 60)
    await cache.get("a")
    await cache.set("c", b"3", 60)

    assert await cache.get("a") == b"1"
    assert await cache.get("b") is None
    assert await cache.get("c") == b"3"


async def test_backend_failure_is_a_miss_never_an_error() -> None:
    cache = Cache(RedisBackend(_BrokenRedis()))

    await cache.set("k", b"v", 60)
    await cache.delete("k")

    assert await cache.get("k") is None
    assert await cache.get_model("k", Item) is None
    assert await cache.incr("k") is None
    assert await cache.version("package", 1) == 0
    await cache.bump("package", [1])
    with pytest.raises(RedisConnectionError):
        await cache.ping()


async def test_cache_kind_names_the_backend(cache: Cache) -> None:
    assert cache.kind == "redis"
    assert Cache(MemoryBackend()).kind == "memory"
