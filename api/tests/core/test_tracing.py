import io
import json
import logging
from collections.abc import AsyncIterator

import httpx
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.logs import wump_formatter
from wump.core.config import Settings
from wump.main import create_app

TracedClient = tuple[httpx.AsyncClient, InMemorySpanExporter]


async def _traced_client(settings: Settings) -> AsyncIterator[TracedClient]:
    app = create_app(settings.model_copy(update={"otel_enabled": True, "log_format": "json"}))
    exporter = InMemorySpanExporter()
    app.state.tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client, exporter


async def test_tracing_is_off_by_default(settings: Settings) -> None:
    app = create_app(settings)
    assert app.state.tracer_provider is None


async def test_requests_and_queries_are_traced_and_logs_carry_the_trace_id(
    settings: Settings,
) -> None:
    stream = io.StringIO()
    exporter = InMemorySpanExporter()
    async for client, exporter in _traced_client(settings):  # noqa: B007
        handler = logging.StreamHandler(stream)
        handler.setFormatter(wump_formatter())
        logging.getLogger().addHandler(handler)
        try:
            response = await client.get("/health")
        finally:
            logging.getLogger().removeHandler(handler)

    assert response.status_code == 200
    spans = exporter.get_finished_spans()
    names = [span.name for span in spans]
    assert any(name.startswith("GET /health") for name in names)
    assert any(span.attributes and span.attributes.get("db.system") for span in spans)
    trace_ids = {format(span.context.trace_id, "032x") for span in spans if span.context}
    lines = [json.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{")]
    access = next(line for line in lines if line.get("event") == "request")
    assert access["trace_id"] in trace_ids
    create_app(settings)  # back to the console logging the other tests expect
