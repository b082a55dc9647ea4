"""Keyset pagination: opaque cursors, the typed page parameters and the one list envelope.

A list is ordered by a tuple of sort keys that ends in a unique id, so the order
is total and stable. A page ends with the last row's keys; the next page asks
for rows strictly after them (`WHERE (a, b, id) > (...)` expanded per direction),
so page 1,000 costs what page 1 costs and rows inserted meanwhile never shift a
page. The cursor is base64url JSON of those keys plus a scope: a hash of the
query (sort, filters) it belongs to. Anything malformed, tampered with or used
with a different query is a 400 problem, never a 500.
"""

import base64
import binascii
import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, TypeVar, TypeVarTuple

from fastapi import Depends, Query
from pydantic import AfterValidator, BaseModel, Field
from sqlalchemy import ColumnElement, Select, SQLColumnExpression, and_, false, or_

from wump.core.errors import BadRequest

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
MAX_CURSOR_LENGTH = 2048

T = TypeVar("T")
KeyValue = int | float | str | datetime
KeyKind = type[int] | type[float] | type[str] | type[datetime]


class Page(BaseModel, Generic[T]):
    """The envelope of every list: one page of `items` and how to get the next one."""

    items: list[T]
    total: int = Field(description="How many items match the query, over all pages.")
    limit: int = Field(description="The page size that was applied.", examples=[50])
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; `null` on the last page.",
        examples=["eyJzIjoiM2Y0YTljMmUiLCJrIjpbNDIsMTddfQ"],
    )


@dataclass(frozen=True, slots=True)
class PageParams:
    limit: int = DEFAULT_LIMIT
    cursor: str | None = None


def page_params(
    limit: Annotated[
        int,
        Query(ge=1, le=MAX_LIMIT, description=f"Page size, 1 to {MAX_LIMIT}.", examples=[50]),
    ] = DEFAULT_LIMIT,
    cursor: Annotated[
        str | None,
        Query(
            max_length=MAX_CURSOR_LENGTH,
            description="The `next_cursor` of the previous page. Omit it for the first page. "
            "A cursor only works with the same sort and filters it was issued for.",
        ),
    ] = None,
) -> PageParams:
    return PageParams(limit=limit, cursor=cursor)


PageDep = Annotated[PageParams, Depends(page_params)]


def reject_control_characters(value: str) -> str:
    # PostgreSQL refuses NUL in text; other control characters are never part of a name.
    if any(ord(char) < 32 for char in value):
        raise ValueError("must not contain control characters")
    return value


FilterText = Annotated[str, AfterValidator(reject_control_characters)]
"""A free-text query parameter (search terms, languages, logins) safe to bind in SQL."""


def _as_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("is out of range once converted to UTC") from None


FilterDatetime = Annotated[datetime, AfterValidator(_as_utc)]
"""A timestamp query parameter, in UTC; one without an offset is taken as UTC."""


@dataclass(frozen=True, slots=True)
class SortKey:
    """One column of a keyset order; the last key of every order must be unique."""

    name: str
    column: SQLColumnExpression[Any]
    descending: bool
    kind: KeyKind


@dataclass(frozen=True, slots=True)
class Keyset:
    keys: tuple[SortKey, ...]

    def order_by(self) -> list[ColumnElement[Any]]:
        return [key.column.desc() if key.descending else key.column.asc() for key in self.keys]

    def after(self, values: Sequence[KeyValue]) -> ColumnElement[bool]:
        """Rows strictly after `values` in this order (row-value comparison, expanded)."""
        clauses: list[ColumnElement[bool]] = []
        for position, key in enumerate(self.keys):
            ties = [self.keys[i].column == values[i] for i in range(position)]
            value = values[position]
            beyond = key.column < value if key.descending else key.column > value
            clauses.append(and_(*ties, beyond))
        return or_(false(), *clauses)

    @property
    def kinds(self) -> list[KeyKind]:
        return [key.kind for key in self.keys]

    def values_of(self, row: Mapping[Any, Any]) -> list[KeyValue]:
        return [_coerce(row[key.name], key.kind) for key in self.keys]


def _coerce(value: Any, kind: KeyKind) -> KeyValue:
    if kind is float:
        return float(value)
    if kind is int:
        return int(value)
    if kind is datetime:
        assert isinstance(value, datetime)
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return str(value)


@dataclass(frozen=True, slots=True)
class Cursor:
    """A decoded cursor: the last row's sort keys, and context the query pinned."""

    keys: list[KeyValue]
    context: dict[str, str] = field(default_factory=dict)


def query_scope(*parts: object) -> str:
    """A short hash of everything that shapes a list's order and content."""
    text = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def encode_cursor(
    scope: str, values: Sequence[KeyValue], context: Mapping[str, str] | None = None
) -> str:
    keys = [value.isoformat() if isinstance(value, datetime) else value for value in values]
    payload: dict[str, Any] = {"s": scope, "k": keys}
    if context:
        payload["c"] = dict(context)
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(token: str, *, scope: str, kinds: Sequence[KeyKind]) -> Cursor:
    """Parse and validate a cursor for this query. Raises `BadRequest` (400) when it can't.

    `kinds` are the types of the query's sort keys, in order (`Keyset.kinds`).
    """
    payload = _load(token)
    if payload.get("s") != scope:
        raise BadRequest("The cursor belongs to a different query (sort or filters changed).")
    raw_keys = payload.get("k")
    if not isinstance(raw_keys, list) or len(raw_keys) != len(kinds):
        raise _malformed()
    keys = [_parse_key(value, kind) for value, kind in zip(raw_keys, kinds, strict=True)]
    context = payload.get("c", {})
    if not isinstance(context, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in context.items()
    ):
        raise _malformed()
    return Cursor(keys=keys, context=context)


def page_cursor(page: PageParams, *, scope: str, kinds: Sequence[KeyKind]) -> Cursor | None:
    """The page's decoded cursor, or None on the first page."""
    if page.cursor is None:
        return None
    return decode_cursor(page.cursor, scope=scope, kinds=kinds)


def _malformed() -> BadRequest:
    return BadRequest("The cursor is malformed. Use the `next_cursor` of a previous page as is.")


def _load(token: str) -> dict[str, Any]:
    if len(token) > MAX_CURSOR_LENGTH:
        raise _malformed()
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        payload = json.loads(raw, parse_constant=_refuse_constant)
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError):
        raise _malformed() from None
    if not isinstance(payload, dict):
        raise _malformed()
    return payload


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a valid sort key")


def _parse_key(value: object, kind: KeyKind) -> KeyValue:
    if kind is int and type(value) is int and abs(value) < 2**63:
        return value
    if kind is float and type(value) in (int, float):
        number = float(value)  # type: ignore[arg-type]
        if math.isfinite(number):
            return number
    if kind is str and isinstance(value, str) and len(value) <= 1024:
        return value
    if kind is datetime and isinstance(value, str):
        return _parse_datetime(value)
    raise _malformed()


def _parse_datetime(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise _malformed() from None
    if parsed.tzinfo is None:
        raise _malformed()
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise _malformed() from None


Ts = TypeVarTuple("Ts")


def paged(statement: Select[*Ts], keyset: Keyset, cursor: Cursor | None, limit: int) -> Select[*Ts]:
    """Order `statement` by the keyset, start after the cursor, fetch one extra row."""
    if cursor is not None:
        statement = statement.where(keyset.after(cursor.keys))
    return statement.order_by(*keyset.order_by()).limit(limit + 1)


def split_page(
    rows: Sequence[Mapping[Any, Any]],
    *,
    limit: int,
    keyset: Keyset,
    scope: str,
    context: Mapping[str, str] | None = None,
) -> tuple[list[Mapping[Any, Any]], str | None]:
    """The page's rows and the cursor to the next page (None when this is the last)."""
    if len(rows) <= limit:
        return list(rows), None
    page = list(rows[:limit])
    return page, encode_cursor(scope, keyset.values_of(page[-1]), context)
