"""Who is calling, and may they? Applied to every `/api/v1` route.

The guard resolves the caller (an API key from `X-API-Key` or
`Authorization: Bearer`, or an anonymous client IP), enforces `AUTH_MODE`,
charges the request against the caller's rate limit, and leaves the limit's
headers for the middleware to put on the response.
"""

import ipaddress
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Security, params
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from wump.auth import service
from wump.auth.ratelimit import (
    COST_CSV_EXPORT,
    COST_DEFAULT,
    COST_EXTENSION,
    Decision,
    RateLimiter,
)
from wump.core.config import AuthMode, Settings
from wump.core.deps import ResourcesDep, SessionDep
from wump.core.errors import Forbidden, RateLimited, Unauthorized
from wump.models import ApiKey, ApiKeyTier

api_key_header = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    scheme_name="ApiKey",
    description="An API key, `wump_<id>_<secret>`. Create one with `wump keys create`.",
)
bearer = HTTPBearer(
    auto_error=False,
    scheme_name="Bearer",
    description="The same API key sent as `Authorization: Bearer wump_<id>_<secret>`.",
)
# Longer values are refused before any lookup: no key is this long.
MAX_CREDENTIAL_LENGTH = 128
UNAUTHORIZED_DETAIL = "A valid API key is required. Send it as X-API-Key or a Bearer token."


@dataclass(frozen=True, slots=True)
class Caller:
    key: ApiKey | None
    identity: str
    per_minute: int

    @property
    def scopes(self) -> frozenset[str]:
        return frozenset(self.key.scopes) if self.key else frozenset()


def client_ip(request: Request, trusted_proxies: list[str]) -> str:
    """The caller's address; `X-Forwarded-For` counts only when a trusted proxy sent it."""
    peer = request.client.host if request.client else "unknown"
    if not trusted_proxies or not _is_trusted(peer, trusted_proxies):
        return peer
    forwarded = [part.strip() for part in request.headers.get("x-forwarded-for", "").split(",")]
    # Walk from the nearest hop back; the first address we don't trust is the client.
    for address in reversed([part for part in forwarded if part]):
        if not _is_trusted(address, trusted_proxies):
            return address if _is_ip(address) else peer
    return peer


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _is_trusted(address: str, trusted: list[str]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(network, strict=False) for network in trusted)


def _tier_limit(settings: Settings, key: ApiKey) -> int:
    if key.rate_limit_per_minute:
        return key.rate_limit_per_minute
    limits = {
        ApiKeyTier.FREE: settings.rate_limit_free_per_minute,
        ApiKeyTier.STANDARD: settings.rate_limit_standard_per_minute,
        ApiKeyTier.PREMIUM: settings.rate_limit_premium_per_minute,
    }
    return limits[ApiKeyTier(key.tier)]


def request_cost(request: Request) -> int:
    route = request.scope.get("route")
    declared = getattr(route, "openapi_extra", None) or {}
    if COST_EXTENSION in declared:
        return int(declared[COST_EXTENSION])
    wants_csv = request.query_params.get("format") == "csv" or "text/csv" in request.headers.get(
        "accept", ""
    )
    return COST_CSV_EXPORT if wants_csv else COST_DEFAULT


def _credential(
    header_key: str | None, bearer_credentials: HTTPAuthorizationCredentials | None
) -> str | None:
    if header_key:
        return header_key
    return bearer_credentials.credentials if bearer_credentials else None


async def current_caller(
    request: Request,
    session: SessionDep,
    resources: ResourcesDep,
    header_key: Annotated[str | None, Security(api_key_header)],
    bearer_credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
) -> Caller:
    settings = resources.settings
    raw = _credential(header_key, bearer_credentials)
    if raw is None:
        if settings.auth_mode is AuthMode.KEYS:
            raise Unauthorized(UNAUTHORIZED_DETAIL)
        ip = client_ip(request, settings.trusted_proxies)
        caller = Caller(None, f"ip:{ip}", settings.rate_limit_anonymous_per_minute)
    else:
        key = None
        if len(raw) <= MAX_CREDENTIAL_LENGTH:
            key = await service.authenticate(session, raw, pepper=settings.api_key_pepper)
        if key is None:
            raise Unauthorized(UNAUTHORIZED_DETAIL)
        caller = Caller(key, f"key:{key.prefix}", _tier_limit(settings, key))
    await _charge(request, resources.limiter, caller)
    return caller


async def _charge(request: Request, limiter: RateLimiter, caller: Caller) -> None:
    decision: Decision = await limiter.hit(
        caller.identity, per_minute=caller.per_minute, cost=request_cost(request)
    )
    request.state.rate_limit = decision
    if not decision.allowed:
        raise RateLimited(
            f"Rate limit of {decision.limit} requests per minute exceeded. "
            f"Retry in {decision.reset_seconds} s, or use a key of a higher tier.",
            headers={"Retry-After": str(max(1, decision.reset_seconds))},
        )


CallerDep = Annotated[Caller, Depends(current_caller)]


def require_scope(scope: str) -> params.Depends:
    """A route dependency that lets only keys holding `scope` through."""

    async def check(caller: CallerDep) -> Caller:
        if caller.key is None:
            raise Unauthorized(UNAUTHORIZED_DETAIL)
        if scope not in caller.scopes:
            raise Forbidden(f"This API key lacks the '{scope}' scope.")
        return caller

    dependency: params.Depends = Depends(check)
    return dependency
