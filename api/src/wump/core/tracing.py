"""OpenTelemetry tracing, off unless `OTEL_ENABLED=true`.

Spans go to the OTLP/HTTP endpoint when one is configured, and to the console
otherwise (useful in development). FastAPI, SQLAlchemy, redis and httpx are
instrumented, so one request shows its queries, cache calls and provider calls.
"""

import httpx
from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.instrumentation.redis import RedisInstrumentor
from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from sqlalchemy.ext.asyncio import AsyncEngine

from wump import __version__
from wump.core.config import Settings


def _exporter(settings: Settings) -> SpanExporter:
    if settings.otel_exporter_otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        endpoint = settings.otel_exporter_otlp_endpoint.rstrip("/") + "/v1/traces"
        return OTLPSpanExporter(endpoint=endpoint)
    return ConsoleSpanExporter()


def create_tracer_provider(
    settings: Settings, *, processor: SpanProcessor | None = None
) -> TracerProvider | None:
    if not settings.otel_enabled:
        return None
    resource = Resource.create(
        {"service.name": settings.otel_service_name, "service.version": __version__}
    )
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(processor or BatchSpanProcessor(_exporter(settings)))
    # The first provider wins process-wide; later apps (tests) pass theirs explicitly.
    trace.set_tracer_provider(provider)
    return provider


def instrument_app(app: FastAPI, provider: TracerProvider) -> None:
    """Must run before the app first starts, while middleware can still be added."""
    FastAPIInstrumentor.instrument_app(app, tracer_provider=provider, excluded_urls="health/live")


def instrument_resources(
    provider: TracerProvider, engine: AsyncEngine, http_client: httpx.AsyncClient
) -> None:
    # The instrumentation works with SQLAlchemy 2.1 but its declared range still stops at 2.0.
    SQLAlchemyInstrumentor().instrument(
        engine=engine.sync_engine, tracer_provider=provider, skip_dep_check=True
    )
    RedisInstrumentor().instrument(tracer_provider=provider)
    HTTPXClientInstrumentor.instrument_client(http_client, tracer_provider=provider)


def shutdown_tracing(provider: TracerProvider) -> None:
    RedisInstrumentor().uninstrument()
    provider.shutdown()
