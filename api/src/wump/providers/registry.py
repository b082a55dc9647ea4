"""The named data providers, what each can answer, and fallback between them.

`fetch_with_fallback` asks the providers that declare a capability in the
configured order and moves on to the next one when a provider fails (after
its own retries), is rate limited, is not configured, or has no data. The
caller's `call` receives each provider in turn and returns its data, or None
when it cannot use that provider.
"""

from collections.abc import Awaitable, Callable, Iterable, Sequence, Sized
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, Literal, Protocol, TypeVar, cast

import httpx
from githubkit import GitHub

from wump.core.config import Settings
from wump.providers.base import (
    Capability,
    ProviderError,
    ProviderHealth,
    ProviderNotFound,
    ProviderTransientError,
    RateLimitInfo,
    RequestBudget,
    RetryPolicy,
)
from wump.providers.depsdev import DepsDevProvider
from wump.providers.ecosystems import EcosystemsProvider
from wump.providers.github import GitHubProvider, build_github_client
from wump.providers.librariesio import LibrariesIoProvider

T = TypeVar("T")

Outcome = Literal["ok", "empty", "not_found", "transient", "error", "skipped"]


class Provider(Protocol):
    """What the registry needs of a provider client."""

    @property
    def name(self) -> str: ...

    @property
    def capabilities(self) -> frozenset[Capability]: ...

    @property
    def configured(self) -> bool: ...

    def health(self) -> ProviderHealth: ...


@dataclass(frozen=True, slots=True)
class Attempt:
    provider: str
    outcome: Outcome
    detail: str = ""


@dataclass(frozen=True, slots=True)
class FallbackResult(Generic[T]):
    """The first useful answer, who gave it, and what every provider asked said.

    `value` and `provider` are None when no provider had data.
    """

    value: T | None
    provider: str | None
    attempts: tuple[Attempt, ...] = field(default=())


def _is_empty(value: object) -> bool:
    return value is None or (isinstance(value, Sized) and len(value) == 0)


class ProviderRegistry:
    """Providers by name, asked in the fallback order."""

    def __init__(self, providers: Iterable[Provider], *, order: Sequence[str] = ()) -> None:
        self._providers = {provider.name: provider for provider in providers}
        unknown = [name for name in order if name not in self._providers]
        if unknown:
            raise ValueError(f"unknown providers in the fallback order: {', '.join(unknown)}")
        # Providers left out of the order are asked last, in registration order.
        self.order = list(dict.fromkeys([*order, *self._providers]))

    def __getitem__(self, name: str) -> Provider:
        return self._providers[name]

    def providers_for(self, capability: Capability) -> list[Provider]:
        candidates = (self._providers[name] for name in self.order)
        return [provider for provider in candidates if capability in provider.capabilities]

    def health(self) -> list[ProviderHealth]:
        """Every provider's health record, in the fallback order."""
        return [self._providers[name].health() for name in self.order]

    def with_budget(self, limit: int | None) -> "ProviderRegistry":
        """A copy for one job: every provider gets its own budget of `limit` requests.

        The copies share the HTTP clients, limiters and health records.
        """
        providers = [_budgeted(self._providers[name], limit) for name in self.order]
        return ProviderRegistry(providers, order=self.order)

    def requests_used(self) -> dict[str, int]:
        """Requests each provider sent through this registry's budgets (retries included)."""
        used: dict[str, int] = {}
        for name in self.order:
            budget = getattr(self._providers[name], "budget", None)
            if isinstance(budget, RequestBudget) and budget.used:
                used[name] = budget.used
        return used

    async def aclose(self) -> None:
        """Close what the providers opened themselves (GitHub's connection pool).

        The shared `httpx.AsyncClient` belongs to whoever passed it in.
        """
        for provider in self._providers.values():
            close = getattr(provider, "aclose", None)
            if close is not None:
                await close()

    async def fetch_with_fallback(
        self, capability: Capability, call: Callable[[Any], Awaitable[T | None]]
    ) -> FallbackResult[T]:
        """Ask each capable provider in turn until one has data.

        Raises only when no provider answered at all: `ProviderTransientError`
        if any failure was transient (worth retrying later), `ProviderNotFound`
        if every provider said the thing does not exist, else the last error.
        """
        attempts: list[Attempt] = []
        errors: list[ProviderError] = []
        for provider in self.providers_for(capability):
            skip = _skip_reason(provider)
            if skip:
                attempts.append(Attempt(provider.name, "skipped", skip))
                continue
            try:
                value = await call(provider)
            except ProviderError as exc:
                attempts.append(Attempt(provider.name, _outcome(exc), exc.message))
                errors.append(exc)
                continue
            if _is_empty(value):
                attempts.append(Attempt(provider.name, "empty"))
                continue
            attempts.append(Attempt(provider.name, "ok"))
            return FallbackResult(value, provider.name, tuple(attempts))
        answered = any(attempt.outcome == "empty" for attempt in attempts)
        if errors and not answered:
            raise _summary_error(capability, errors)
        return FallbackResult(None, None, tuple(attempts))


def _budgeted(provider: Provider, limit: int | None) -> Provider:
    with_budget = getattr(provider, "with_budget", None)
    return cast(Provider, with_budget(limit)) if with_budget is not None else provider


def _skip_reason(provider: Provider) -> str:
    if not provider.configured:
        return "not configured"
    limit = provider.health().rate_limit
    if limit.remaining == 0 and limit.reset_at is not None and limit.reset_at > datetime.now(UTC):
        return f"rate limited until {limit.reset_at.isoformat()}"
    return ""


def _outcome(exc: ProviderError) -> Outcome:
    if isinstance(exc, ProviderNotFound):
        return "not_found"
    if isinstance(exc, ProviderTransientError):
        return "transient"
    return "error"


def _summary_error(capability: Capability, errors: list[ProviderError]) -> ProviderError:
    transient = [exc for exc in errors if isinstance(exc, ProviderTransientError)]
    if transient:
        waits = [exc.retry_after for exc in transient if exc.retry_after is not None]
        return ProviderTransientError(
            "registry",
            f"no provider could answer {capability.value} now",
            retry_after=min(waits) if waits else None,
        )
    if all(isinstance(exc, ProviderNotFound) for exc in errors):
        return ProviderNotFound("registry", f"no provider knows it ({capability.value})")
    return errors[-1]


def build_registry(
    settings: Settings,
    client: httpx.AsyncClient,
    *,
    github: GitHub[Any] | None = None,
    policy: RetryPolicy | None = None,
) -> ProviderRegistry:
    """Every provider, built from the settings over one shared `httpx.AsyncClient`."""
    policy = policy or RetryPolicy(
        attempts=settings.provider_max_attempts,
        max_wait=settings.provider_max_retry_wait_seconds,
    )
    providers: list[Provider] = [
        EcosystemsProvider.from_settings(settings, client, policy=policy),
        LibrariesIoProvider.from_settings(settings, client, policy=policy),
        DepsDevProvider.from_settings(settings, client, policy=policy),
        GitHubProvider(
            github or build_github_client(settings), token=settings.github_token, policy=policy
        ),
    ]
    return ProviderRegistry(providers, order=settings.provider_fallback_order)


def merge_health(records: Iterable[Sequence[ProviderHealth]]) -> list[ProviderHealth]:
    """One health record per provider from several processes' records (API and workers).

    Counts add up; the newest success and error win; the rate limit shown is the
    one from the newest window, and within it the lowest remaining allowance,
    which is the latest the provider reported.
    """
    by_name: dict[str, list[ProviderHealth]] = {}
    for record in records:
        for health in record:
            by_name.setdefault(health.name, []).append(health)
    return [_merge_one(name, healths) for name, healths in by_name.items()]


def _merge_one(name: str, healths: list[ProviderHealth]) -> ProviderHealth:
    successes = [h.last_success_at for h in healths if h.last_success_at is not None]
    errors = [h.last_error for h in healths if h.last_error is not None]
    return ProviderHealth(
        name=name,
        configured=any(h.configured for h in healths),
        capabilities=sorted({c for h in healths for c in h.capabilities}),
        requests=sum(h.requests for h in healths),
        successes=sum(h.successes for h in healths),
        failures=sum(h.failures for h in healths),
        retries=sum(h.retries for h in healths),
        not_modified=sum(h.not_modified for h in healths),
        last_success_at=max(successes, default=None),
        last_error=max(errors, key=lambda error: error.at, default=None),
        rate_limit=_latest_rate_limit([h.rate_limit for h in healths]),
    )


def _latest_rate_limit(limits: list[RateLimitInfo]) -> RateLimitInfo:
    known = [limit for limit in limits if limit.remaining is not None]
    if not known:
        return RateLimitInfo()
    epoch = datetime.min.replace(tzinfo=UTC)
    newest = max(limit.reset_at or epoch for limit in known)
    window = [limit for limit in known if (limit.reset_at or epoch) == newest]
    return min(window, key=lambda limit: limit.remaining or 0)
