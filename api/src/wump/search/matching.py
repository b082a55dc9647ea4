"""Case-insensitive text matching that ranks exact, then prefix, then substring matches.

Plain `LIKE` over `lower(...)` so it behaves the same on SQLite and PostgreSQL;
a trigram or full-text index can replace it later without changing callers.
"""

import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, case, false, func, or_

_ESCAPE = "\\"
_SEPARATORS = re.compile(r"[-_.]+")


def escape_like(text: str) -> str:
    return (
        text.replace(_ESCAPE, _ESCAPE * 2).replace("%", _ESCAPE + "%").replace("_", _ESCAPE + "_")
    )


def like_any(column: Any, patterns: Sequence[str]) -> ColumnElement[bool]:
    """`column LIKE p` for any of the (already escaped) patterns."""
    return or_(false(), *(column.like(pattern, escape=_ESCAPE) for pattern in patterns))


def search_terms(query: str) -> list[str]:
    """The query lower-cased, plus its form with `-`, `_` and `.` folded (PEP 503 style)."""
    term = query.strip().lower()
    folded = _SEPARATORS.sub("-", term)
    return [term] if folded == term else [term, folded]


def text_match(
    columns: Sequence[Any], terms: Sequence[str]
) -> tuple[ColumnElement[bool], ColumnElement[int]]:
    """(matches anywhere, rank): rank 0 is an exact match, 1 a prefix, 2 a substring."""
    lowered = [func.lower(column) for column in columns]
    exact = or_(false(), *(column == term for column in lowered for term in terms))
    prefixes = [escape_like(term) + "%" for term in terms]
    substrings = ["%" + escape_like(term) + "%" for term in terms]
    prefix = or_(false(), *(like_any(column, prefixes) for column in lowered))
    anywhere = or_(false(), *(like_any(column, substrings) for column in lowered))
    rank = case((exact, 0), (prefix, 1), else_=2)
    return anywhere, rank
