"""Walking every page of every list gives each row exactly once, in the one-page order."""

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.builders import (
    create_dependency,
    create_organization,
    create_registry_package,
    create_repository,
)
from wump.models import DependencyType, OwnerKind, Package

DEPENDENTS = "/api/v1/packages/npm/left-pad/dependents"
REPOSITORIES = "/api/v1/packages/npm/left-pad/repositories"


@pytest.fixture
async def many_ties(session: AsyncSession) -> Package:
    """43 owners whose scores, stars, counts and push dates collide a lot."""
    package = await create_registry_package(session, ecosystem="npm", name="left-pad")
    pushed = datetime(2026, 1, 1, tzinfo=UTC)
    for index in range(43):
        owner = await create_organization(
            session,
            login=f"owner-{index:02d}",
            kind=OwnerKind.USER if index % 5 == 0 else OwnerKind.ORGANIZATION,
            is_verified=index % 7 == 0,
        )
        for number in range(1 + index % 3):
            repository = await create_repository(
                session,
                owner=owner,
                stars=(index % 4) * 10,
                pushed_at=None if index % 6 == 0 else pushed - timedelta(days=index % 2),
            )
            await create_dependency(
                session,
                repository=repository,
                package=package,
                dependency_type=DependencyType.RUNTIME if number else DependencyType.PEER,
            )
    await session.commit()
    return package


async def _walk(
    client: httpx.AsyncClient, url: str, key: str, params: dict[str, Any], limit: int
) -> tuple[list[Any], int]:
    seen: list[Any] = []
    cursor: str | None = None
    pages = 0
    while True:
        query = {**params, "limit": limit} | ({"cursor": cursor} if cursor else {})
        response = await client.get(url, params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        seen.extend(body[key])
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return seen, pages


@pytest.mark.parametrize("sort", ["score", "stars", "repositories", "name", "recent"])
async def test_dependents_pages_have_no_duplicates_or_gaps(
    client: httpx.AsyncClient, many_ties: Package, sort: str
) -> None:
    whole = (await client.get(DEPENDENTS, params={"sort": sort, "limit": 500})).json()
    walked, pages = await _walk(client, DEPENDENTS, "dependents", {"sort": sort}, limit=4)

    logins = [item["organization"]["login"] for item in walked]
    assert logins == [item["organization"]["login"] for item in whole["dependents"]]
    assert len(set(logins)) == 43 == whole["total_organizations"]
    assert pages == 11


@pytest.mark.parametrize("sort", ["stars", "recent", "name"])
async def test_repository_pages_have_no_duplicates_or_gaps(
    client: httpx.AsyncClient, many_ties: Package, sort: str
) -> None:
    whole = (await client.get(REPOSITORIES, params={"sort": sort, "limit": 500})).json()
    walked, _ = await _walk(client, REPOSITORIES, "items", {"sort": sort}, limit=7)

    names = [item["full_name"] for item in walked]
    assert names == [item["full_name"] for item in whole["items"]]
    assert len(set(names)) == whole["total"] == 85


async def test_every_page_reports_the_same_totals(
    client: httpx.AsyncClient, many_ties: Package
) -> None:
    first = (await client.get(DEPENDENTS, params={"limit": 10})).json()
    second = (
        await client.get(DEPENDENTS, params={"limit": 10, "cursor": first["next_cursor"]})
    ).json()

    assert (first["total_organizations"], first["total_repositories"]) == (43, 85)
    assert (second["total_organizations"], second["total_repositories"]) == (43, 85)
    assert second["limit"] == 10


async def test_rows_added_after_page_one_do_not_shift_later_pages(
    client: httpx.AsyncClient, session: AsyncSession, many_ties: Package
) -> None:
    first = (await client.get(DEPENDENTS, params={"sort": "name", "limit": 5})).json()
    # A new owner that sorts before everything already paged past.
    newcomer = await create_organization(session, login="aaa-newcomer")
    repository = await create_repository(session, owner=newcomer)
    await create_dependency(session, repository=repository, package=many_ties)
    await session.commit()

    second = (
        await client.get(
            DEPENDENTS, params={"sort": "name", "limit": 5, "cursor": first["next_cursor"]}
        )
    ).json()

    assert [i["organization"]["login"] for i in second["dependents"]] == [
        f"owner-{n:02d}" for n in range(5, 10)
    ]
    assert second["total_organizations"] == 44


def _tamper(cursor: str, change: dict[str, Any]) -> str:
    payload = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    payload |= change
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


async def test_cursor_with_other_filters_or_sort_is_a_400(
    client: httpx.AsyncClient, many_ties: Package
) -> None:
    cursor = (await client.get(DEPENDENTS, params={"limit": 3})).json()["next_cursor"]

    other_sort = await client.get(DEPENDENTS, params={"sort": "stars", "cursor": cursor})
    other_filter = await client.get(DEPENDENTS, params={"min_stars": 5, "cursor": cursor})
    other_list = await client.get(REPOSITORIES, params={"cursor": cursor})

    for response in (other_sort, other_filter, other_list):
        assert response.status_code == 400
        assert response.headers["content-type"] == "application/problem+json"
        assert "different query" in response.json()["detail"]


@pytest.mark.parametrize(
    "change",
    [
        {"k": ["not a score", 1]},
        {"k": [1.5]},
        {"k": [1.5, 2, 3]},
        {"k": "scalar"},
        {"c": {"as_of": "not a date"}},
        {"c": "context"},
    ],
)
async def test_tampered_cursor_is_a_400(
    client: httpx.AsyncClient, many_ties: Package, change: dict[str, Any]
) -> None:
    cursor = (await client.get(DEPENDENTS, params={"limit": 3})).json()["next_cursor"]

    response = await client.get(DEPENDENTS, params={"cursor": _tamper(cursor, change)})

    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("cursor", ["!!!", "e30", "bnVsbA", "x" * 2048])
async def test_garbage_cursor_is_a_400_on_every_list(
    client: httpx.AsyncClient, many_ties: Package, cursor: str
) -> None:
    for url in (DEPENDENTS, REPOSITORIES, "/api/v1/packages"):
        response = await client.get(url, params={"cursor": cursor})
        assert response.status_code == 400, url
