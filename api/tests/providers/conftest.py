"""Scripted HTTP answers for the provider clients. Nothing here reaches the network."""

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from wump.providers.base import HealthRecorder, RetryPolicy

FIXTURES = Path(__file__).parent.parent / "fixtures"
# A fixed "now" so rate-limit resets are exact.
NOW = 1_767_225_600.0


def load(provider: str, name: str) -> Any:
    return json.loads((FIXTURES / provider / name).read_text())


def raw(provider: str, name: str) -> bytes:
    return (FIXTURES / provider / name).read_bytes()


def ok(body: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers)


Step = httpx.Response | type[Exception] | Callable[[httpx.Request], httpx.Response]


@dataclass
class Script:
    """Answers each request with the next step and keeps every request it saw.

    A step is a response, a callable building one from the request, or an
    `httpx` exception class to raise as if the network failed.
    """

    steps: list[Step]
    requests: list[httpx.Request] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if not self.steps:
            raise AssertionError(f"unexpected request {request.method} {request.url}")
        step = self.steps.pop(0)
        if isinstance(step, httpx.Response):
            return step
        if isinstance(step, type):
            raise step(f"simulated failure for {request.url}", request=request)
        return step(request)

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]


def script(*steps: Step) -> Script:
    return Script(list(steps))


@dataclass
class Sleeps:
    """An injected `sleep` that records the waits instead of waiting."""

    delays: list[float] = field(default_factory=list)

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def policy(sleeps: Sleeps) -> RetryPolicy:
    return RetryPolicy(sleep=sleeps, random=lambda: 0.5)


@pytest.fixture
def health() -> HealthRecorder:
    return HealthRecorder(clock=lambda: NOW)


@pytest.fixture
async def http_client() -> AsyncIterator[Callable[[Script], httpx.AsyncClient]]:
    """Builds `httpx.AsyncClient`s over a script, closed after the test."""
    clients: list[httpx.AsyncClient] = []

    def build(handler: Script) -> httpx.AsyncClient:
        client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
        clients.append(client)
        return client

    yield build
    for client in clients:
        await client.aclose()
