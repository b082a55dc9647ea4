"""CSV export of list endpoints: negotiation, formula-injection safety and streaming.

Every list answers `Accept: text/csv` or `?format=csv` with the same rows and
filters as its JSON form. The export walks the keyset pages itself, each page in
a short session of its own: the request's session is already closed when a
streamed body is sent, and short sessions keep no transaction open while a slow
client reads. Memory stays bounded by one page, whatever the export's size.
"""

import csv
import io
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Annotated, TypeVar

import structlog
from fastapi import Depends, Query, Request
from fastapi.responses import StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from wump.core.pagination import MAX_LIMIT, Page, PageParams

T = TypeVar("T")
log = structlog.get_logger(__name__)

CSV_MEDIA_TYPE = "text/csv"
# A spreadsheet evaluates a cell that starts with one of these as a formula.
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")

Cell = str | int | float | bool | datetime | None
CsvRow = Sequence[Cell]
PageFetch = Callable[[AsyncSession, str | None], Awaitable[tuple[list[CsvRow], str | None]]]


class ResponseFormat(StrEnum):
    JSON = "json"
    CSV = "csv"


def _format_param(
    request: Request,
    format: Annotated[
        ResponseFormat | None,
        Query(
            description="`csv` exports every matching row as CSV (streamed), from `cursor` "
            "on. The same as sending `Accept: text/csv`. Defaults to JSON."
        ),
    ] = None,
) -> ResponseFormat:
    if format is not None:
        return format
    return negotiate(request.headers.get("accept", ""))


FormatDep = Annotated[ResponseFormat, Depends(_format_param)]


def negotiate(accept: str) -> ResponseFormat:
    """CSV when the Accept header prefers `text/csv` over JSON; JSON otherwise."""
    best_csv = best_json = 0.0
    for part in accept.split(","):
        media, _, params = part.strip().partition(";")
        quality = _quality(params)
        media = media.strip().lower()
        if media == CSV_MEDIA_TYPE:
            best_csv = max(best_csv, quality)
        elif media in ("application/json", "application/*", "*/*"):
            best_json = max(best_json, quality)
    return ResponseFormat.CSV if best_csv > best_json else ResponseFormat.JSON


def _quality(params: str) -> float:
    for param in params.split(";"):
        name, _, value = param.strip().partition("=")
        if name.strip().lower() == "q":
            try:
                return min(max(float(value), 0.0), 1.0)
            except ValueError:
                return 0.0
    return 1.0


def neutralize(value: Cell) -> str | int | float:
    """A cell value a spreadsheet shows as text, never runs as a formula."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return value
    text = value.isoformat() if isinstance(value, datetime) else value
    if text.startswith(_FORMULA_PREFIXES):
        return "'" + text
    return text


def encode_rows(rows: Sequence[CsvRow]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows([neutralize(cell) for cell in row] for row in rows)
    return buffer.getvalue().encode()


async def walk_pages(
    sessionmaker: async_sessionmaker[AsyncSession],
    fetch: PageFetch,
    *,
    first: tuple[list[CsvRow], str | None],
    max_rows: int,
) -> AsyncIterator[list[CsvRow]]:
    """Yield `first`, then the following pages, each read in a short session of its own.

    The caller fetches the first page during the request, so a bad cursor or
    filter is still reported as an error instead of a truncated download.
    """
    rows, cursor = first
    remaining = max_rows
    while True:
        yield rows[:remaining]
        remaining -= len(rows)
        if cursor is None or remaining <= 0:
            return
        async with sessionmaker() as session:
            rows, cursor = await fetch(session, cursor)


async def _body(header: CsvRow, pages: AsyncIterator[list[CsvRow]]) -> AsyncIterator[bytes]:
    yield encode_rows([header])
    try:
        async for rows in pages:
            yield encode_rows(rows)
    except Exception:
        # The status line is gone already; the client sees a truncated download.
        log.exception("csv_export_failed")
        raise


def csv_response(
    filename: str, header: CsvRow, pages: AsyncIterator[list[CsvRow]]
) -> StreamingResponse:
    safe_name = _UNSAFE_FILENAME.sub("-", filename).strip("-.") or "export"
    return StreamingResponse(
        _body(header, pages),
        media_type=f"{CSV_MEDIA_TYPE}; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{safe_name}.csv"',
            "Cache-Control": "no-store",
            "Vary": "Accept",
        },
    )


async def export(
    session: AsyncSession,
    sessionmaker: async_sessionmaker[AsyncSession],
    fetch: PageFetch,
    *,
    cursor: str | None,
    filename: str,
    header: CsvRow,
    max_rows: int,
) -> StreamingResponse:
    """Stream every page of a list as CSV, starting at `cursor`.

    The first page is read now, in the request's session, so that a bad cursor is
    still a 400; the rest are read while streaming (see `walk_pages`).
    """
    first = await fetch(session, cursor)
    pages = walk_pages(sessionmaker, fetch, first=first, max_rows=max_rows)
    return csv_response(filename, header, pages)


async def export_pages(
    session: AsyncSession,
    sessionmaker: async_sessionmaker[AsyncSession],
    compute: Callable[[AsyncSession, PageParams], Awaitable[Page[T]]],
    to_row: Callable[[T], CsvRow],
    *,
    cursor: str | None,
    filename: str,
    header: CsvRow,
    max_rows: int,
) -> StreamingResponse:
    """`export` for a list whose pages come from `compute`, one CSV row per item."""

    async def fetch(session: AsyncSession, cursor: str | None) -> tuple[list[CsvRow], str | None]:
        result = await compute(session, PageParams(MAX_LIMIT, cursor))
        return [to_row(item) for item in result.items], result.next_cursor

    return await export(
        session,
        sessionmaker,
        fetch,
        cursor=cursor,
        filename=filename,
        header=header,
        max_rows=max_rows,
    )
