"""What every provider client shares: errors, retries, budgets, rate limits and health.

Clients raise `ProviderTransientError` for answers worth retrying (429, 5xx,
timeouts, lost connections, GitHub's secondary rate limit) and `ProviderError`
for the rest (other 4xx, malformed bodies). `ProviderNotFound` means the
repository, package or owner does not exist (any more). Retries use jittered
exponential backoff and honour `Retry-After` and the rate-limit reset headers,
up to a cap; a longer wait is handed back to the caller in `retry_after`.

No message built here carries a secret: URLs are reported without their query
string and every known secret value is scrubbed from text before it is stored.
"""

import asyncio
import json
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import Enum, StrEnum
from typing import Any, Literal, TypeVar

import httpx
from pydantic import BaseModel, Field, ValidationError

from wump.core.logging import REDACTED, redact_text

T = TypeVar("T")
ModelT = TypeVar("ModelT", bound=BaseModel)

Sleep = Callable[[float], Awaitable[None]]


class Capability(StrEnum):
    """What a provider can answer; the registry picks providers by capability."""

    DEPENDENTS = "dependents"
    OWNER_ENRICHMENT = "owner_enrichment"
    PACKAGE_METADATA = "package_metadata"
    REPOSITORY_SCAN = "repository_scan"


class Unchanged(Enum):
    """A conditional request answered 304: what the caller stored is still current."""

    NOT_MODIFIED = "not-modified"


NOT_MODIFIED: Literal[Unchanged.NOT_MODIFIED] = Unchanged.NOT_MODIFIED


class ProviderError(Exception):
    """A provider answered in a way that retrying will not fix.

    Subclasses say more: `ProviderNotFound`, `BudgetExhausted`,
    `UnsupportedRequest`, and `ProviderTransientError` for answers that are
    worth retrying later.
    """

    def __init__(self, provider: str, message: str, *, status: int | None = None) -> None:
        super().__init__(f"{provider}: {message}")
        self.provider = provider
        self.message = message
        self.status = status


class ProviderNotFound(ProviderError):
    """The repository, package or owner does not exist there; callers treat it as gone."""


class BudgetExhausted(ProviderError):
    """The request budget this client was given is spent; nothing was sent."""


class UnsupportedRequest(ProviderError):
    """The provider has no data of this kind (an ecosystem it does not index, say)."""


class ProviderTransientError(ProviderError):
    """Worth retrying: rate limited, a server error, a timeout or a lost connection.

    `retry_after` is the wait in seconds the provider asked for, when it said.
    """

    def __init__(
        self,
        provider: str,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(provider, message, status=status)
        self.retry_after = retry_after


def scrub(text: str, secrets: Iterable[str]) -> str:
    """Remove known secret values and anything that looks like a token from `text`."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return redact_text(text)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Three attempts with jittered exponential backoff by default.

    A provider's own wait (`Retry-After`, a rate-limit reset) is honoured up to
    `max_wait` seconds; a longer one is not slept through in-process but raised
    at once, so a job queue can come back later. `sleep` and `random` are
    injectable so tests never wait.
    """

    attempts: int = 3
    base_delay: float = 1.0
    max_delay: float = 30.0
    max_wait: float = 60.0
    sleep: Sleep = asyncio.sleep
    random: Callable[[], float] = random.random

    def delay(self, attempt: int, retry_after: float | None) -> float | None:
        """Seconds to wait before the attempt after `attempt`; None to give up now."""
        if attempt >= self.attempts:
            return None
        if retry_after is not None:
            return max(retry_after, 0.0) if retry_after <= self.max_wait else None
        ceiling = min(self.max_delay, self.base_delay * 2.0 ** (attempt - 1))
        # "Equal jitter": at least half the backoff, so retries never bunch at zero.
        return ceiling / 2 + self.random() * ceiling / 2


class RequestBudget:
    """How many requests a client may still send. `None` means no limit."""

    def __init__(self, limit: int | None = None) -> None:
        self.limit = limit
        self.used = 0

    @property
    def remaining(self) -> int | None:
        return None if self.limit is None else max(self.limit - self.used, 0)

    def spend(self, provider: str) -> None:
        if self.limit is not None and self.used >= self.limit:
            raise BudgetExhausted(provider, f"the request budget of {self.limit} is spent")
        self.used += 1

    def refund(self) -> None:
        self.used = max(self.used - 1, 0)


class SlidingWindowLimiter:
    """At most `max_calls` request starts in any `period` seconds, waiting when needed.

    It limits one process; several workers sharing an API key must share the
    allowance between them (see README.md).
    """

    def __init__(
        self,
        max_calls: int,
        period: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.max_calls = max_calls
        self.period = period
        self._clock = clock
        self._sleep = sleep
        self._starts: deque[float] = deque()
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        async with self._lock:
            while True:
                now = self._clock()
                while self._starts and self._starts[0] <= now - self.period:
                    self._starts.popleft()
                if len(self._starts) < self.max_calls:
                    self._starts.append(now)
                    return
                await self._sleep(self._starts[0] + self.period - now)


def _int_header(headers: Mapping[str, str], name: str) -> int | None:
    try:
        return int(headers[name])
    except (KeyError, ValueError):
        return None


def retry_after_seconds(headers: Mapping[str, str], *, now: float) -> float | None:
    """The wait a response asks for: `Retry-After`, else the reset of a spent rate limit."""
    value = headers.get("retry-after")
    if value is not None:
        if value.strip().isdigit():
            return float(value)
        try:
            return max(parsedate_to_datetime(value).timestamp() - now, 0.0)
        except (TypeError, ValueError):
            return None
    reset = _int_header(headers, "x-ratelimit-reset")
    if headers.get("x-ratelimit-remaining") == "0" and reset is not None:
        return max(reset - now, 0.0)
    return None


def error_for_status(
    provider: str, response: httpx.Response, *, what: str, now: float
) -> ProviderError | None:
    """The error a response stands for, or None for a success or a 304."""
    status = response.status_code
    if status < 400:
        return None
    if status in (404, 410):
        return ProviderNotFound(provider, f"{what} was not found", status=status)
    retry_after = retry_after_seconds(response.headers, now=now)
    limited = status == 403 and (
        "retry-after" in response.headers or response.headers.get("x-ratelimit-remaining") == "0"
    )
    if status in (408, 429) or status >= 500 or limited:
        reason = "rate limited" if status in (403, 429) else f"answered {status}"
        return ProviderTransientError(
            provider, f"{reason} for {what}", status=status, retry_after=retry_after
        )
    return ProviderError(provider, f"answered {status} for {what}", status=status)


def decode_json(provider: str, response: httpx.Response, *, what: str) -> Any:
    """The response body as JSON; a truncated or non-JSON body is a `ProviderError`."""
    try:
        return json.loads(response.content)
    except ValueError:
        raise ProviderError(
            provider, f"sent a body that is not valid JSON for {what}", status=response.status_code
        ) from None


def parse_model(provider: str, model: type[ModelT], data: Any, *, what: str) -> ModelT:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        fields = ", ".join(".".join(map(str, err["loc"])) for err in exc.errors()[:3])
        raise ProviderError(provider, f"sent an unexpected shape for {what} ({fields})") from None


def parse_models(provider: str, model: type[ModelT], data: Any, *, what: str) -> list[ModelT]:
    if not isinstance(data, list):
        raise ProviderError(provider, f"sent {type(data).__name__} where a list was expected")
    return [parse_model(provider, model, item, what=what) for item in data]


def _utc(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, tz=UTC)


class ProviderErrorInfo(BaseModel):
    """The last failure of a provider, without secrets."""

    type: str = Field(examples=["ProviderTransientError"])
    message: str = Field(examples=["rate limited for npm package left-pad"])
    status: int | None = Field(default=None, examples=[429])
    at: datetime


class RateLimitInfo(BaseModel):
    """The provider's own rate limit, as its last answer reported it."""

    limit: int | None = Field(default=None, examples=[5000])
    remaining: int | None = Field(default=None, examples=[4321])
    reset_at: datetime | None = None


class ProviderHealth(BaseModel):
    """How a data provider has been doing since this process started."""

    name: str = Field(examples=["ecosystems"])
    configured: bool = Field(description="False when a required key or token is missing.")
    capabilities: list[Capability]
    requests: int = Field(description="HTTP requests sent, retries included.")
    successes: int
    failures: int
    retries: int
    not_modified: int = Field(description="Conditional requests answered 304.")
    last_success_at: datetime | None = None
    last_error: ProviderErrorInfo | None = None
    rate_limit: RateLimitInfo


@dataclass(slots=True)
class HealthRecorder:
    """A provider's running record, shared by every copy of its client.

    A not-found answer counts as a success: the provider is healthy, the thing
    is just not there.
    """

    clock: Callable[[], float] = time.time
    requests: int = 0
    successes: int = 0
    failures: int = 0
    retries: int = 0
    not_modified: int = 0
    last_success_at: datetime | None = None
    last_error_at: datetime | None = None
    last_error_type: str | None = None
    last_error_message: str | None = None
    last_error_status: int | None = None
    rate_limit: int | None = None
    rate_limit_remaining: int | None = None
    rate_limit_reset_at: datetime | None = None
    secrets: tuple[str, ...] = field(default=())

    def request_sent(self) -> None:
        self.requests += 1

    def succeeded(self) -> None:
        self.successes += 1
        self.last_success_at = _utc(self.clock())

    def failed(self, exc: ProviderError) -> None:
        self.failures += 1
        self.last_error_at = _utc(self.clock())
        self.last_error_type = type(exc).__name__
        self.last_error_message = scrub(exc.message, self.secrets)
        self.last_error_status = exc.status

    def observe(self, headers: Mapping[str, str]) -> None:
        """Remember the rate-limit headers GitHub and ecosyste.ms send with each answer."""
        remaining = _int_header(headers, "x-ratelimit-remaining")
        if remaining is None:
            return
        self.rate_limit_remaining = remaining
        self.rate_limit = _int_header(headers, "x-ratelimit-limit")
        reset = _int_header(headers, "x-ratelimit-reset")
        self.rate_limit_reset_at = _utc(reset) if reset is not None else None

    def snapshot(
        self, *, name: str, configured: bool, capabilities: Iterable[Capability]
    ) -> ProviderHealth:
        last_error = None
        if self.last_error_at is not None:
            last_error = ProviderErrorInfo(
                type=self.last_error_type or "ProviderError",
                message=self.last_error_message or "",
                status=self.last_error_status,
                at=self.last_error_at,
            )
        return ProviderHealth(
            name=name,
            configured=configured,
            capabilities=sorted(capabilities),
            requests=self.requests,
            successes=self.successes,
            failures=self.failures,
            retries=self.retries,
            not_modified=self.not_modified,
            last_success_at=self.last_success_at,
            last_error=last_error,
            rate_limit=RateLimitInfo(
                limit=self.rate_limit,
                remaining=self.rate_limit_remaining,
                reset_at=self.rate_limit_reset_at,
            ),
        )

    def rate_limited_until(self) -> datetime | None:
        """When a spent rate limit resets, if it is spent now."""
        reset = self.rate_limit_reset_at
        if self.rate_limit_remaining == 0 and reset is not None and reset > _utc(self.clock()):
            return reset
        return None


async def with_retries(
    call: Callable[[], Awaitable[T]], *, policy: RetryPolicy, health: HealthRecorder
) -> T:
    """Run `call`, retrying `ProviderTransientError` as the policy allows."""
    attempt = 1
    while True:
        try:
            return await call()
        except ProviderTransientError as exc:
            wait = policy.delay(attempt, exc.retry_after)
            if wait is None:
                raise
            health.retries += 1
            await policy.sleep(wait)
            attempt += 1


async def recorded(call: Callable[[], Awaitable[T]], *, health: HealthRecorder) -> T:
    """Run one logical call and book its outcome in the health record."""
    try:
        result = await call()
    except ProviderNotFound:
        health.succeeded()
        raise
    except (BudgetExhausted, UnsupportedRequest):
        # Refused locally: nothing was asked of the provider.
        raise
    except ProviderError as exc:
        health.failed(exc)
        raise
    health.succeeded()
    return result


class ProviderHttp:
    """Sends one provider's requests over an injected `httpx.AsyncClient`.

    Each attempt spends one request of the budget, waits for the limiter,
    maps the answer to an error, records the rate-limit headers and is retried
    as the policy allows. A 304 is given back to the budget: GitHub does not
    count it against the rate limit either.
    """

    def __init__(
        self,
        name: str,
        client: httpx.AsyncClient,
        *,
        policy: RetryPolicy,
        health: HealthRecorder,
        budget: RequestBudget | None = None,
        limiter: SlidingWindowLimiter | None = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name
        self.client = client
        self.policy = policy
        self.health = health
        self.budget = budget or RequestBudget()
        self.limiter = limiter
        self._params = dict(params or {})
        self._headers = dict(headers or {})

    def with_budget(self, limit: int | None) -> "ProviderHttp":
        """A copy with its own budget that shares the client, limiter and health record."""
        return ProviderHttp(
            self.name,
            self.client,
            policy=self.policy,
            health=self.health,
            budget=RequestBudget(limit),
            limiter=self.limiter,
            params=self._params,
            headers=self._headers,
        )

    async def get_json(
        self,
        url: str,
        *,
        what: str,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """The decoded JSON body, retried, with the outcome in the health record."""

        async def fetch() -> Any:
            response = await self._with_retries(url, what=what, params=params, headers=headers)
            return decode_json(self.name, response, what=what)

        return await recorded(fetch, health=self.health)

    async def get(
        self,
        url: str,
        *,
        what: str,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        accept: frozenset[int] = frozenset(),
    ) -> httpx.Response:
        """The response, retried and recorded; error statuses in `accept` are returned."""
        return await recorded(
            lambda: self._with_retries(
                url, what=what, params=params, headers=headers, accept=accept
            ),
            health=self.health,
        )

    async def _with_retries(
        self,
        url: str,
        *,
        what: str,
        params: Mapping[str, Any] | None,
        headers: Mapping[str, str] | None,
        accept: frozenset[int] = frozenset(),
    ) -> httpx.Response:
        return await with_retries(
            lambda: self._send(url, what=what, params=params, headers=headers, accept=accept),
            policy=self.policy,
            health=self.health,
        )

    async def _send(
        self,
        url: str,
        *,
        what: str,
        params: Mapping[str, Any] | None,
        headers: Mapping[str, str] | None,
        accept: frozenset[int],
    ) -> httpx.Response:
        self.budget.spend(self.name)
        if self.limiter is not None:
            await self.limiter.acquire()
        self.health.request_sent()
        query = {**self._params, **{k: v for k, v in (params or {}).items() if v is not None}}
        try:
            response = await self.client.get(
                url, params=query, headers={**self._headers, **(headers or {})}
            )
        except httpx.TimeoutException:
            raise ProviderTransientError(self.name, f"timed out fetching {what}") from None
        except httpx.TransportError as exc:
            message = f"could not connect for {what} ({type(exc).__name__})"
            raise ProviderTransientError(self.name, message) from None
        self.health.observe(response.headers)
        if response.status_code == 304:
            self.budget.refund()
            self.health.not_modified += 1
        error = error_for_status(self.name, response, what=what, now=self.health.clock())
        if error is not None and response.status_code not in accept:
            raise error
        return response
