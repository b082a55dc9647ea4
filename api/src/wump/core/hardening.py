"""Response security headers and request size limits, as plain ASGI middleware.

It sits inside the request-context middleware, so its refusals carry a request
id, and outside routing, so oversized requests are refused before any work.
"""

from typing import Protocol

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from wump.core.errors import problem_body
from wump.core.middleware import send_problem

# The API returns JSON and CSV only: nothing may load or run from its responses.
API_CSP = "default-src 'none'; frame-ancestors 'none'"
# Swagger UI and ReDoc load their bundles from jsdelivr and start with an inline script.
DOCS_CSP = (
    "default-src 'none'; "
    "script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    "font-src 'self' https://fonts.gstatic.com; "
    "img-src 'self' data: https://fastapi.tiangolo.com https://cdn.redoc.ly; "
    "worker-src 'self' blob:; connect-src 'self'; frame-ancestors 'none'"
)
DOCS_PATHS = ("/docs", "/redoc")


class HasHeaders(Protocol):
    def headers(self) -> dict[str, str]: ...


class HardeningMiddleware:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int, max_url_length: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_url_length = max_url_length

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = scope.get("state", {}).get("request_id")
        url_length = len(scope.get("raw_path", b"")) + len(scope.get("query_string", b""))
        if url_length > self.max_url_length:
            detail = f"The URL is {url_length} bytes; the limit is {self.max_url_length}."
            await self._refuse(send, scope, 414, "uri-too-long", detail, request_id)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_body_bytes:
            detail = f"The body is {declared} bytes; the limit is {self.max_body_bytes}."
            await self._refuse(send, scope, 413, "content-too-large", detail, request_id)
            return
        await self._forward(scope, receive, send, request_id)

    async def _forward(
        self, scope: Scope, receive: Receive, send: Send, request_id: str | None
    ) -> None:
        received = 0
        started = False
        refused = False

        async def limited_receive() -> Message:
            nonlocal received, refused
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_body_bytes and not started:
                # Answer now, and tell the app the client has gone so it stops reading.
                refused = True
                detail = f"The body is larger than the {self.max_body_bytes}-byte limit."
                await self._refuse(send, scope, 413, "content-too-large", detail, request_id)
                return {"type": "http.disconnect"}
            return message

        async def secured_send(message: Message) -> None:
            nonlocal started
            if refused:
                return
            if message["type"] == "http.response.start":
                started = True
                _add_headers(scope, message)
            await send(message)

        await self.app(scope, limited_receive, secured_send)

    @staticmethod
    async def _refuse(
        send: Send, scope: Scope, status: int, slug: str, detail: str, request_id: str | None
    ) -> None:
        body = problem_body(
            status=status, slug=slug, detail=detail, path=scope["path"], request_id=request_id
        )
        await send_problem(send, body, request_id)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _add_headers(scope: Scope, message: Message) -> None:
    headers = MutableHeaders(scope=message)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "no-referrer")
    docs = scope["path"].startswith(DOCS_PATHS)
    headers.setdefault("Content-Security-Policy", DOCS_CSP if docs else API_CSP)
    if scope.get("scheme") == "https":
        headers.setdefault("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
    rate_limit: HasHeaders | None = scope.get("state", {}).get("rate_limit")
    if rate_limit is not None:
        for name, value in rate_limit.headers().items():
            headers[name] = value
