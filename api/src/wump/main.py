"""The application factory. `create_app(settings)` builds a self-contained app."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware

from wump import __version__
from wump.api import api_router
from wump.auth.dependencies import current_caller
from wump.auth.ratelimit import RateLimiter, shared_storage
from wump.auth.router import router as admin_keys_router
from wump.core.cache import Cache, MemoryBackend, RedisBackend, redis_client
from wump.core.config import Settings
from wump.core.db import create_engine, create_sessionmaker
from wump.core.deps import Resources
from wump.core.errors import document_problems, install_error_handlers, problem_responses
from wump.core.hardening import HardeningMiddleware
from wump.core.logging import configure_logging
from wump.core.middleware import RequestContextMiddleware
from wump.core.tracing import (
    create_tracer_provider,
    instrument_app,
    instrument_resources,
    shutdown_tracing,
)
from wump.health.router import router as health_router
from wump.jobs.broker import attach, build_queue
from wump.jobs.router import router as jobs_router
from wump.providers.registry import build_registry
from wump.providers.router import router as providers_router

DESCRIPTION = """
**wump** answers the question every open-source maintainer has:
*which organizations depend on my package, and which of them should I ask for sponsorship?*

It rolls the repositories that depend on a package up into the organizations
behind them, ranks them for sponsorship outreach, and explains each ranking.

Errors are [RFC 9457](https://www.rfc-editor.org/rfc/rfc9457) `application/problem+json`
documents, and every response carries an `X-Request-ID` to quote in reports.
"""


def build_cache(settings: Settings) -> Cache:
    if settings.valkey_url:
        client = redis_client(
            settings.valkey_url, timeout_seconds=settings.health_check_timeout_seconds
        )
        return Cache(RedisBackend(client), prefix=settings.cache_prefix)
    return Cache(MemoryBackend(), prefix=settings.cache_prefix)


def build_http_client(settings: Settings) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=settings.http_timeout_seconds,
        headers={"User-Agent": f"wump/{__version__} (+https://github.com/wump-dev/wump)"},
        follow_redirects=True,
    )


def build_limiter(settings: Settings) -> RateLimiter:
    if not settings.valkey_url:
        return RateLimiter()
    timeout = settings.health_check_timeout_seconds
    return RateLimiter(shared_storage(settings.valkey_url, timeout_seconds=timeout))


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    engine = create_engine(settings)
    http = build_http_client(settings)
    resources = Resources(
        settings=settings,
        engine=engine,
        sessionmaker=create_sessionmaker(engine),
        cache=build_cache(settings),
        http=http,
        limiter=build_limiter(settings),
        providers=build_registry(settings, http),
        jobs=build_queue(settings),
    )
    provider = app.state.tracer_provider
    if provider is not None:
        instrument_resources(provider, engine, resources.http)
    app.state.resources = resources
    # Jobs this process runs (the in-process queue) use the app's current resources.
    attach(resources.jobs, lambda: app.state.resources)
    await resources.jobs.startup()
    try:
        yield
    finally:
        await resources.jobs.shutdown()
        await resources.providers.aclose()
        await resources.http.aclose()
        await resources.cache.close()
        await resources.limiter.close()
        await engine.dispose()
        if provider is not None:
            shutdown_tracing(provider)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    configure_logging(settings)
    app = FastAPI(
        title="wump API",
        version=__version__,
        summary="Who's using my package? Dependents rolled up into organizations, "
        "ranked for sponsorship.",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url="/redoc",
        openapi_url="/openapi.json",
    )
    app.state.settings = settings
    install_error_handlers(app)
    document_problems(app)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            # Credentials are never combined with a wildcard origin.
            allow_credentials="*" not in settings.cors_origins,
            allow_methods=["GET", "POST", "DELETE", "OPTIONS"],
            allow_headers=["Authorization", "X-API-Key", "Content-Type", "If-None-Match"],
            expose_headers=[
                "X-Request-ID",
                "ETag",
                "Retry-After",
                "X-RateLimit-Limit",
                "X-RateLimit-Remaining",
                "X-RateLimit-Reset",
            ],
        )
    app.add_middleware(
        HardeningMiddleware,
        max_body_bytes=settings.max_request_body_bytes,
        max_url_length=settings.max_url_length,
    )
    # Added last, so outermost: its request id is on every response, refusals included.
    app.add_middleware(RequestContextMiddleware)
    app.state.tracer_provider = create_tracer_provider(settings)
    if app.state.tracer_provider is not None:
        instrument_app(app, app.state.tracer_provider)
    app.include_router(health_router)
    guarded = [Depends(current_caller)]
    access_errors = problem_responses(401, 413, 414, 429)
    app.include_router(api_router, dependencies=guarded, responses=access_errors)
    app.include_router(
        admin_keys_router, prefix=api_router.prefix, dependencies=guarded, responses=access_errors
    )
    app.include_router(
        jobs_router, prefix=api_router.prefix, dependencies=guarded, responses=access_errors
    )
    app.include_router(
        providers_router, prefix=api_router.prefix, dependencies=guarded, responses=access_errors
    )
    return app
