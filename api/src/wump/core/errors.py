"""One error hierarchy and one renderer: RFC 9457 `application/problem+json`.

Services raise `WumpError` subclasses; they never know about HTTP responses.
Every error that leaves the API, including validation errors, unknown routes
and unexpected failures, is rendered here in the same shape.
"""

from http import HTTPStatus
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = structlog.get_logger(__name__)

PROBLEM_JSON = "application/problem+json"
PROBLEM_TYPE_BASE = "https://wump.dev/problems/"


class WumpError(Exception):
    """Base of every error a caller may see. `detail` is safe to show to users."""

    status: int = 500
    slug: str = "internal-error"

    def __init__(
        self,
        detail: str,
        *,
        status: int | None = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        if status is not None:
            self.status = status
        self.extra = extra or {}
        self.headers = headers or {}


class BadRequest(WumpError):
    status = 400
    slug = "bad-request"


class Unauthorized(WumpError):
    status = 401
    slug = "unauthorized"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": 'Bearer realm="wump"'})


class Forbidden(WumpError):
    status = 403
    slug = "forbidden"


class NotFound(WumpError):
    status = 404
    slug = "not-found"


class Conflict(WumpError):
    status = 409
    slug = "conflict"


class RateLimited(WumpError):
    status = 429
    slug = "rate-limited"


class Unavailable(WumpError):
    status = 503
    slug = "unavailable"


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    type: str = Field(examples=[f"{PROBLEM_TYPE_BASE}not-found"])
    title: str = Field(examples=["Not Found"])
    status: int = Field(examples=[404])
    detail: str = Field(examples=["No package pkg:pypi/nope is known to wump."])
    instance: str | None = Field(default=None, examples=["/api/v1/packages/pypi/nope"])
    request_id: str | None = Field(default=None, examples=["0b9f6f0a4c2e4c4f9d7f1e2a3b4c5d6e"])


def problem_response(
    request: Request,
    *,
    status: int,
    slug: str,
    detail: str,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = problem_body(
        status=status,
        slug=slug,
        detail=detail,
        path=request.url.path,
        request_id=getattr(request.state, "request_id", None),
    )
    body |= extra or {}
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def problem_body(
    *, status: int, slug: str, detail: str, path: str, request_id: str | None
) -> dict[str, Any]:
    return {
        "type": PROBLEM_TYPE_BASE + slug,
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": path,
        "request_id": request_id,
    }


def integrity_error_to_conflict(exc: IntegrityError) -> Conflict:
    """Map a unique/foreign-key violation to a 409, whichever database raised it."""
    message = str(exc.orig).lower()
    if "unique" in message or "duplicate key" in message:
        return Conflict("A record with the same identity already exists.")
    if "foreign key" in message:
        return Conflict("The record refers to something that does not exist.")
    return Conflict("The change conflicts with stored data.")


async def _wump_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, WumpError)
    return problem_response(
        request,
        status=exc.status,
        slug=exc.slug,
        detail=exc.detail,
        extra=exc.extra,
        headers=exc.headers,
    )


async def _integrity_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, IntegrityError)
    return await _wump_error(request, integrity_error_to_conflict(exc))


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"loc": list(err.get("loc", ())), "msg": err.get("msg", ""), "type": err.get("type", "")}
        for err in exc.errors()
    ]
    summary = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors[:5])
    return problem_response(
        request,
        status=422,
        slug="validation-error",
        detail=f"The request is not valid. {summary}",
        extra={"errors": errors},
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    slug = HTTPStatus(status).phrase.lower().replace(" ", "-")
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(status).description
    if status == 404 and detail == "Not Found":
        detail = f"No endpoint at {request.url.path}. The API reference is at /docs."
    elif status == 405:
        detail = f"{request.method} is not allowed on {request.url.path}."
    return problem_response(
        request,
        status=status,
        slug=slug,
        detail=detail,
        headers=dict(exc.headers or {}),
    )


def internal_error_body(request_id: str | None, path: str) -> dict[str, Any]:
    """The 500 document: the traceback goes to the log, never to the caller."""
    return problem_body(
        status=500,
        slug="internal-error",
        detail="An unexpected error occurred. Quote the request id when reporting it.",
        path=path,
        request_id=request_id,
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(WumpError, _wump_error)
    app.add_exception_handler(IntegrityError, _integrity_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)


class ValidationIssue(BaseModel):
    loc: list[str | int] = Field(examples=[["query", "limit"]])
    msg: str = Field(examples=["Input should be less than or equal to 500"])
    type: str = Field(examples=["less_than_equal"])


class ValidationProblem(Problem):
    """A 422: the request's parameters or body did not validate."""

    errors: list[ValidationIssue]


def document_problems(app: FastAPI) -> None:
    """Make the OpenAPI document say what is really sent for errors.

    FastAPI files response models under `application/json` and documents 422 as
    its own `HTTPValidationError`; wump sends `application/problem+json`
    documents instead, so the schema is moved and the 422 model replaced.
    """
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = generate()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for model in (Problem, ValidationIssue, ValidationProblem):
            definition = model.model_json_schema(ref_template="#/components/schemas/{model}")
            components[model.__name__] = definition
        for path in schema.get("paths", {}).values():
            for operation in path.values():
                _problem_content(operation.get("responses", {}))
        components.pop("HTTPValidationError", None)
        components.pop("ValidationError", None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


_PROBLEM_REFS = {
    "#/components/schemas/Problem",
    "#/components/schemas/HTTPValidationError",
}


def _is_problem(response: dict[str, Any]) -> bool:
    """A documented error that wump renders as a problem (not, say, the Readiness 503)."""
    refs = {media.get("schema", {}).get("$ref") for media in response.get("content", {}).values()}
    return not refs - {None} or bool(refs & _PROBLEM_REFS)


def _problem_content(responses: dict[str, Any]) -> None:
    for status, response in responses.items():
        if not status.isdigit() or int(status) < 400 or not _is_problem(response):
            continue
        model = "ValidationProblem" if status == "422" else "Problem"
        response["content"] = {PROBLEM_JSON: {"schema": {"$ref": f"#/components/schemas/{model}"}}}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries for the problem documents a route may return."""
    return {
        status: {
            "model": Problem,
            "description": HTTPStatus(status).phrase,
            "content": {PROBLEM_JSON: {}},
        }
        for status in statuses
    }
