"""Rate limits shared by every API instance, with a local fallback.

With Valkey configured, the counters live there, so every instance enforces one
shared limit; in the embedded default they live in process. If Valkey stops
answering, each instance falls back to its own in-process counters (logged once)
and keeps serving, then returns to the shared counters once Valkey is back.

On Valkey the limit is the `limits` library's sliding window counter: two
counters per caller (this minute and the last), so a hit costs a fixed handful
of commands, where the moving window walked a list as long as the limit. It is
an approximation: the last minute counts in proportion to how much of it is
still inside the trailing 60 s, as if its requests had been spread evenly. One
window never admits more than the limit; a burst at the very end of a minute
weighs less than it should, so a 60 s span across two windows can admit up to
twice the limit (a fixed window's worst case, met far less often). In process a
hit costs no round trip, so the exact moving window stays there.
"""

import math
import time
from dataclasses import dataclass
from typing import Any, cast

import structlog
from limits import RateLimitItemPerMinute
from limits.aio.storage import MemoryStorage, RedisStorage
from limits.aio.storage.redis.redispy import RedispyBridge
from limits.aio.strategies import (
    MovingWindowRateLimiter,
    SlidingWindowCounterRateLimiter,
)
from limits.aio.strategies import RateLimiter as Strategy
from limits.errors import StorageError
from redis.asyncio import BlockingConnectionPool, Redis

log = structlog.get_logger(__name__)

# After a shared-store failure, don't try it again for this long: each try could
# cost a socket timeout on the request path.
RETRY_SHARED_AFTER_SECONDS = 5.0
# Connections to Valkey per API process. A burst of requests waits for one (up to
# the store timeout) instead of failing: `limits`' own pool raises once 1,000 are
# out, which sent a 500-request burst to the local fallback.
SHARED_CONNECTIONS = 64


# What a request costs against the caller's per-minute limit. Exports stream
# many pages and job triggers start provider crawls, so they cost more.
COST_DEFAULT = 1
COST_CSV_EXPORT = 10
COST_JOB_TRIGGER = 20
# A route declares a cost of its own in OpenAPI with this extension key.
COST_EXTENSION = "x-rate-limit-cost"


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset_seconds),
        }


def shared_storage(
    valkey_url: str,
    *,
    timeout_seconds: float,
    key_prefix: str = "wump:ratelimit",
    max_connections: int = SHARED_CONNECTIONS,
) -> RedisStorage:
    pool = BlockingConnectionPool.from_url(
        valkey_url,
        max_connections=max_connections,
        timeout=timeout_seconds,
        socket_timeout=timeout_seconds,
        socket_connect_timeout=timeout_seconds,
    )
    # `limits` passes a `connection_pool` option on to redis-py; its stubs only know
    # scalar options.
    options: dict[str, Any] = {"connection_pool": pool}
    return RedisStorage(
        f"async+{valkey_url}",
        implementation="redispy",
        wrap_exceptions=True,
        key_prefix=key_prefix,
        **options,
    )


class RateLimiter:
    def __init__(self, shared: RedisStorage | None = None) -> None:
        self._shared_storage = shared
        self._shared = SlidingWindowCounterRateLimiter(shared) if shared is not None else None
        self._local: Strategy = MovingWindowRateLimiter(MemoryStorage())
        self._shared_down_until = 0.0
        self._degraded = False

    @property
    def backend(self) -> str:
        if self._shared is None:
            return "memory"
        return "memory (fallback)" if self._degraded else "redis"

    async def hit(self, identity: str, *, per_minute: int, cost: int = 1) -> Decision:
        """Count `cost` requests for `identity` against a per-minute limit."""
        item = RateLimitItemPerMinute(per_minute)
        if self._shared is not None and time.monotonic() >= self._shared_down_until:
            try:
                decision = await self._hit(self._shared, item, identity, cost)
            except StorageError as exc:
                self._mark_down(exc)
            else:
                self._mark_up()
                return decision
        return await self._hit(self._local, item, identity, cost)

    def _mark_down(self, exc: StorageError) -> None:
        self._shared_down_until = time.monotonic() + RETRY_SHARED_AFTER_SECONDS
        if not self._degraded:
            self._degraded = True
            log.warning("rate_limit_store_down", error=type(exc.storage_error).__name__)

    def _mark_up(self) -> None:
        if self._degraded:
            self._degraded = False
            log.info("rate_limit_store_recovered")

    @staticmethod
    async def _hit(
        limiter: Strategy, item: RateLimitItemPerMinute, identity: str, cost: int
    ) -> Decision:
        allowed = await limiter.hit(item, identity, cost=cost)
        # `hit` answers only yes or no, so the headers' figures take a second
        # round trip: `limits` has no call that counts and reports at once.
        stats = await limiter.get_window_stats(item, identity)
        return Decision(
            allowed=allowed,
            limit=item.amount,
            remaining=max(0, stats.remaining),
            reset_seconds=max(0, math.ceil(stats.reset_time - time.time())),
        )

    async def close(self) -> None:
        if self._shared_storage is not None:
            bridge = self._shared_storage.bridge
            if isinstance(bridge, RedispyBridge):
                client = cast(Redis, bridge.get_connection())
                await client.aclose()
                # A client given its pool leaves the pool's connections open.
                await client.connection_pool.disconnect()
