import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.builders import create_package
from wump.core.errors import BadRequest
from wump.core.pagination import (
    Cursor,
    KeyKind,
    Keyset,
    SortKey,
    decode_cursor,
    encode_cursor,
    paged,
    query_scope,
    split_page,
)
from wump.models import Package

KEYSET = Keyset(
    (
        SortKey("ecosystem", Package.ecosystem, descending=True, kind=str),
        SortKey("latest_version", Package.latest_version, descending=False, kind=str),
        SortKey("id", Package.id, descending=False, kind=int),
    )
)


def _raw(payload: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


def test_cursor_round_trips_keys_and_context() -> None:
    keyset = Keyset(
        (
            SortKey("score", Package.id, descending=True, kind=float),
            SortKey("pushed", Package.id, descending=True, kind=datetime),
            SortKey("id", Package.id, descending=False, kind=int),
        )
    )
    pushed = datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)
    token = encode_cursor("scope1", [71.23456789012345, pushed, 42], {"as_of": "2026-03-02"})

    cursor = decode_cursor(token, scope="scope1", kinds=keyset.kinds)

    assert cursor == Cursor(keys=[71.23456789012345, pushed, 42], context={"as_of": "2026-03-02"})
    assert "=" not in token


def test_cursor_from_another_query_is_rejected() -> None:
    token = encode_cursor("scope-a", ["npm", "1.0", 3])
    with pytest.raises(BadRequest, match="different query"):
        decode_cursor(token, scope="scope-b", kinds=KEYSET.kinds)


@pytest.mark.parametrize(
    "token",
    [
        "not base64 at all!",
        "Zm9v",  # "foo": not JSON
        _raw(["a", "list"]),
        _raw({"s": "s", "k": ["npm", "1.0"]}),  # too few keys
        _raw({"s": "s", "k": ["npm", "1.0", "3"]}),  # id as a string
        _raw({"s": "s", "k": ["npm", "1.0", True]}),  # bool is not an id
        _raw({"s": "s", "k": ["npm", "1.0", 2**70]}),  # beyond BIGINT
        _raw({"s": "s", "k": ["npm", "1.0", 3], "c": ["x"]}),
        "x" * 3000,
    ],
)
def test_malformed_cursor_is_a_bad_request(token: str) -> None:
    with pytest.raises(BadRequest) as raised:
        decode_cursor(token, scope="s", kinds=KEYSET.kinds)
    assert raised.value.status == 400


@pytest.mark.parametrize(
    ("key", "kind"),
    [
        (float("nan"), float),
        (float("inf"), float),
        ("NaN", float),
        ("2026-01-01T00:00:00", datetime),  # naive
        ("yesterday", datetime),
        ("0001-01-01T00:00:00+05:00", datetime),  # before year 1 in UTC
    ],
)
def test_cursor_rejects_non_finite_scores_and_bad_datetimes(key: object, kind: KeyKind) -> None:
    keyset = Keyset((SortKey("k", Package.id, descending=True, kind=kind),))
    with pytest.raises(BadRequest):
        decode_cursor(_raw({"s": "s", "k": [key]}), scope="s", kinds=keyset.kinds)


def test_query_scope_depends_on_every_part() -> None:
    base = query_scope("dependents", 1, {"sort": "score", "min_stars": 0})
    assert base == query_scope("dependents", 1, {"min_stars": 0, "sort": "score"})
    assert base != query_scope("dependents", 1, {"sort": "score", "min_stars": 1})
    assert base != query_scope("dependents", 2, {"sort": "score", "min_stars": 0})


async def test_keyset_walk_with_mixed_directions_has_no_gaps_or_duplicates(
    session: AsyncSession,
) -> None:
    # Many ties on the first two keys, so the id tie-breaker does real work.
    for index in range(37):
        await create_package(
            session,
            ecosystem=["npm", "pypi", "cargo"][index % 3],
            name=f"keyset-{index}",
            latest_version=f"{index % 4}.0",
        )
    base = select(
        Package.ecosystem, Package.latest_version, Package.id.label("id"), Package.name
    ).where(Package.name.like("keyset-%"))
    expected = sorted(
        (await session.execute(base)).mappings().all(),
        key=lambda row: (_desc(row["ecosystem"]), row["latest_version"], row["id"]),
    )

    seen: list[int] = []
    cursor: Cursor | None = None
    pages = 0
    while True:
        rows = (await session.execute(paged(base, KEYSET, cursor, 5))).mappings().all()
        page, token = split_page(rows, limit=5, keyset=KEYSET, scope="walk")
        seen.extend(row["id"] for row in page)
        pages += 1
        if token is None:
            break
        cursor = decode_cursor(token, scope="walk", kinds=KEYSET.kinds)

    assert seen == [row["id"] for row in expected]
    assert len(set(seen)) == 37
    assert pages == 8


def _desc(text: str) -> tuple[int, ...]:
    return tuple(-ord(char) for char in text)


def test_split_page_has_no_cursor_on_the_last_page() -> None:
    rows = [{"ecosystem": "npm", "latest_version": "1", "id": i} for i in range(3)]
    page, token = split_page(rows, limit=3, keyset=KEYSET, scope="s")
    assert len(page) == 3
    assert token is None


def test_datetime_keys_are_normalized_to_utc() -> None:
    keyset = Keyset((SortKey("k", Package.id, descending=True, kind=datetime),))
    token = _raw({"s": "s", "k": ["2026-01-01T14:00:00+02:00"]})
    [key] = decode_cursor(token, scope="s", kinds=keyset.kinds).keys
    assert key == datetime(2026, 1, 1, 12, tzinfo=UTC)
    assert isinstance(key, datetime)
    assert key.utcoffset() == timedelta(0)
