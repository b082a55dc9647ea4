"""Adding up provider health records from the API process and the workers."""

from datetime import UTC, datetime

from wump.providers.base import Capability, ProviderErrorInfo, ProviderHealth, RateLimitInfo
from wump.providers.registry import merge_health


def at(hour: int) -> datetime:
    return datetime(2026, 1, 1, hour, tzinfo=UTC)


def github(**fields: object) -> ProviderHealth:
    values: dict[str, object] = {
        "name": "github",
        "configured": False,
        "capabilities": [Capability.REPOSITORY_SCAN],
        "requests": 0,
        "successes": 0,
        "failures": 0,
        "retries": 0,
        "not_modified": 0,
        "rate_limit": RateLimitInfo(),
        **fields,
    }
    return ProviderHealth.model_validate(values)


def test_counts_add_up_and_the_newest_events_win() -> None:
    api = github(requests=2, successes=2, last_success_at=at(1))
    worker = github(
        configured=True,
        requests=10,
        successes=7,
        failures=1,
        retries=2,
        not_modified=3,
        last_success_at=at(3),
        last_error=ProviderErrorInfo(type="ProviderTransientError", message="x", at=at(2)),
    )
    older_worker = github(
        requests=1,
        failures=1,
        last_error=ProviderErrorInfo(type="ProviderError", message="y", at=at(1)),
    )

    [merged] = merge_health([[api], [worker], [older_worker]])

    assert (merged.requests, merged.successes, merged.failures) == (13, 9, 2)
    assert (merged.retries, merged.not_modified) == (2, 3)
    assert merged.configured is True
    assert merged.last_success_at == at(3)
    assert merged.last_error is not None
    assert merged.last_error.type == "ProviderTransientError"


def test_the_rate_limit_shown_is_the_newest_windows_lowest() -> None:
    old_window = github(rate_limit=RateLimitInfo(limit=5000, remaining=10, reset_at=at(1)))
    new_window = github(rate_limit=RateLimitInfo(limit=5000, remaining=4900, reset_at=at(2)))
    same_window_later = github(rate_limit=RateLimitInfo(limit=5000, remaining=4100, reset_at=at(2)))
    unknown = github()

    [merged] = merge_health([[old_window], [new_window], [same_window_later], [unknown]])

    assert merged.rate_limit == RateLimitInfo(limit=5000, remaining=4100, reset_at=at(2))


def test_a_process_that_never_asked_a_provider_adds_nothing() -> None:
    [merged] = merge_health([[github(requests=4, successes=4)], [github()]])

    assert (merged.requests, merged.successes) == (4, 4)
    assert merged.rate_limit == RateLimitInfo()
