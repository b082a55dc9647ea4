"""The limiter keeps answering when its shared store fails, and goes back to it."""

import asyncio
import uuid

import pytest
from redis.asyncio import Redis

from tests.conftest import VALKEY_URL
from tests.proxy import SwitchableProxy
from wump.auth.ratelimit import RateLimiter, shared_storage


async def test_without_valkey_limits_are_kept_in_process() -> None:
    limiter = RateLimiter()

    decisions = [await limiter.hit("ip:1", per_minute=3) for _ in range(4)]

    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.remaining for d in decisions] == [2, 1, 0, 0]
    assert limiter.backend == "memory"


async def test_unreachable_store_falls_back_to_local_limits() -> None:
    # Nothing listens on the discard port: every call to the store fails at once.
    limiter = RateLimiter(shared_storage("redis://127.0.0.1:9/0", timeout_seconds=0.2))

    decisions = [await limiter.hit("key:abc", per_minute=2) for _ in range(3)]

    assert [d.allowed for d in decisions] == [True, True, False]
    assert limiter.backend == "memory (fallback)"
    await limiter.close()


@pytest.mark.redis
async def test_valkey_going_down_mid_run_keeps_limits_and_recovers() -> None:
    host, port = VALKEY_URL.removeprefix("redis://").split("/")[0].split(":")
    proxy = SwitchableProxy(host, int(port))
    await proxy.start()
    limiter = RateLimiter(shared_storage(f"redis://127.0.0.1:{proxy.port}/15", timeout_seconds=0.5))
    identity = f"key:outage-{proxy.port}"

    before = await limiter.hit(identity, per_minute=5)
    assert before.allowed
    assert limiter.backend == "redis"

    await proxy.stop()
    during = [await limiter.hit(identity, per_minute=5) for _ in range(6)]
    assert limiter.backend == "memory (fallback)"
    assert [d.allowed for d in during] == [True] * 5 + [False]

    await proxy.start()
    limiter._shared_down_until = 0.0  # the retry delay has passed
    after = await limiter.hit(identity, per_minute=5)
    assert limiter.backend == "redis"
    # The shared window still holds the hit made before the outage.
    assert after.remaining == 3
    await limiter.close()
    await proxy.stop()


@pytest.mark.redis
async def test_shared_counters_stay_two_small_keys_however_many_hits() -> None:
    # The cost of a hit must not grow with the limit or the traffic: a caller's state
    # on Valkey is this minute's and the last minute's counter, not a list of hits.
    prefix = f"wumptest-{uuid.uuid4().hex[:8]}:ratelimit"
    limiter = RateLimiter(shared_storage(VALKEY_URL, timeout_seconds=1.0, key_prefix=prefix))
    valkey = Redis.from_url(VALKEY_URL)
    decisions = [await limiter.hit("key:busy", per_minute=10_000) for _ in range(300)]
    keys = [key async for key in valkey.scan_iter(f"{prefix}:*")]
    types = {await valkey.type(key) for key in keys}
    await valkey.delete(*keys)
    await valkey.aclose()
    await limiter.close()

    assert all(d.allowed for d in decisions)
    assert decisions[-1].remaining == 10_000 - 300
    assert 1 <= len(keys) <= 2
    assert types == {b"string"}


@pytest.mark.redis
async def test_a_burst_larger_than_the_pool_waits_for_connections_and_stays_shared() -> None:
    prefix = f"wumptest-{uuid.uuid4().hex[:8]}:ratelimit"
    limiter = RateLimiter(
        shared_storage(VALKEY_URL, timeout_seconds=5.0, key_prefix=prefix, max_connections=4)
    )

    decisions = await asyncio.gather(
        *(limiter.hit("key:burst", per_minute=100) for _ in range(300))
    )
    valkey = Redis.from_url(VALKEY_URL)
    await valkey.delete(*[key async for key in valkey.scan_iter(f"{prefix}:*")])
    await valkey.aclose()
    await limiter.close()

    # Every hit was counted on Valkey: none fell back to an in-process window.
    assert limiter.backend == "redis"
    assert sum(d.allowed for d in decisions) == 100
