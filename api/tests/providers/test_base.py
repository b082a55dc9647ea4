from datetime import UTC, datetime
from email.utils import format_datetime

import httpx
import pytest

from tests.providers.conftest import NOW
from wump.providers.base import (
    BudgetExhausted,
    Capability,
    HealthRecorder,
    ProviderError,
    ProviderNotFound,
    ProviderTransientError,
    RequestBudget,
    RetryPolicy,
    SlidingWindowLimiter,
    error_for_status,
    retry_after_seconds,
)


def test_backoff_doubles_with_jitter_between_half_and_full() -> None:
    low = RetryPolicy(attempts=5, random=lambda: 0.0)
    high = RetryPolicy(attempts=5, random=lambda: 1.0)

    assert [low.delay(n, None) for n in (1, 2, 3)] == [0.5, 1.0, 2.0]
    assert [high.delay(n, None) for n in (1, 2, 3)] == [1.0, 2.0, 4.0]


def test_backoff_is_capped() -> None:
    policy = RetryPolicy(attempts=20, max_delay=30.0, random=lambda: 1.0)

    assert policy.delay(10, None) == 30.0


def test_no_delay_after_the_last_attempt() -> None:
    policy = RetryPolicy(attempts=3)

    assert policy.delay(3, None) is None
    assert policy.delay(3, 1.0) is None


def test_provider_wait_is_honoured_up_to_the_cap() -> None:
    policy = RetryPolicy(max_wait=60.0)

    assert policy.delay(1, 45.0) == 45.0
    assert policy.delay(1, 61.0) is None


def test_retry_after_in_seconds() -> None:
    assert retry_after_seconds({"retry-after": "120"}, now=NOW) == 120.0


def test_retry_after_as_http_date() -> None:
    when = datetime.fromtimestamp(NOW + 90, tz=UTC)

    assert retry_after_seconds({"retry-after": format_datetime(when, usegmt=True)}, now=NOW) == 90.0


def test_spent_rate_limit_waits_until_reset() -> None:
    headers = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW) + 42)}

    assert retry_after_seconds(headers, now=NOW) == 42.0


def test_reset_is_ignored_while_requests_remain() -> None:
    headers = {"x-ratelimit-remaining": "12", "x-ratelimit-reset": str(int(NOW) + 42)}

    assert retry_after_seconds(headers, now=NOW) is None


@pytest.mark.parametrize(
    ("status", "headers", "expected"),
    [
        (200, {}, None),
        (304, {}, None),
        (404, {}, ProviderNotFound),
        (410, {}, ProviderNotFound),
        (429, {}, ProviderTransientError),
        (500, {}, ProviderTransientError),
        (502, {}, ProviderTransientError),
        (503, {}, ProviderTransientError),
        (408, {}, ProviderTransientError),
        (403, {"retry-after": "60"}, ProviderTransientError),
        (403, {"x-ratelimit-remaining": "0"}, ProviderTransientError),
        (403, {}, ProviderError),
        (401, {}, ProviderError),
        (400, {}, ProviderError),
    ],
)
def test_status_mapping(
    status: int, headers: dict[str, str], expected: type[ProviderError] | None
) -> None:
    error = error_for_status("p", httpx.Response(status, headers=headers), what="x", now=NOW)

    if expected is None:
        assert error is None
    else:
        assert type(error) is expected
        assert error is not None
        assert error.status == status


def test_budget_refuses_once_spent_and_takes_refunds() -> None:
    budget = RequestBudget(2)
    budget.spend("p")
    budget.spend("p")

    with pytest.raises(BudgetExhausted, match="budget of 2"):
        budget.spend("p")
    budget.refund()
    budget.spend("p")
    assert budget.remaining == 0


def test_unlimited_budget() -> None:
    budget = RequestBudget()
    for _ in range(1000):
        budget.spend("p")

    assert budget.remaining is None


async def test_limiter_lets_a_burst_through_then_waits_for_the_window() -> None:
    clock = [100.0]
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        clock[0] += seconds

    limiter = SlidingWindowLimiter(3, 60.0, clock=lambda: clock[0], sleep=sleep)
    for _ in range(3):
        await limiter.acquire()
    assert waits == []

    clock[0] += 10.0
    await limiter.acquire()

    assert waits == [50.0]


def test_health_records_rate_limit_headers_and_spent_limits() -> None:
    health = HealthRecorder(clock=lambda: NOW)

    health.observe(
        {
            "x-ratelimit-limit": "60",
            "x-ratelimit-remaining": "0",
            "x-ratelimit-reset": str(int(NOW) + 30),
        }
    )

    assert health.rate_limit == 60
    assert health.rate_limited_until() == datetime.fromtimestamp(NOW + 30, tz=UTC)


def test_health_ignores_answers_without_rate_limit_headers() -> None:
    health = HealthRecorder(clock=lambda: NOW)
    health.observe({"x-ratelimit-remaining": "10"})

    health.observe({"content-type": "application/json"})

    assert health.rate_limit_remaining == 10
    assert health.rate_limited_until() is None


def test_health_snapshot_reports_the_last_error_without_secrets() -> None:
    secret = "ghp_" + "Q" * 36
    health = HealthRecorder(clock=lambda: NOW, secrets=(secret,))
    health.request_sent()
    health.succeeded()

    health.failed(ProviderTransientError("github", f"retry with token {secret}", status=502))
    snapshot = health.snapshot(
        name="github", configured=True, capabilities=[Capability.REPOSITORY_SCAN]
    )

    assert snapshot.requests == 1
    assert snapshot.successes == 1
    assert snapshot.failures == 1
    assert snapshot.last_error is not None
    assert snapshot.last_error.type == "ProviderTransientError"
    assert snapshot.last_error.status == 502
    assert secret not in snapshot.model_dump_json()
    assert snapshot.last_success_at == datetime.fromtimestamp(NOW, tz=UTC)
