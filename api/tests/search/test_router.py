import csv
import io
from datetime import UTC, datetime
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


@pytest.fixture
async def catalogue(session: AsyncSession) -> None:
    names = {
        "pypi": ["flask", "Flask-SQLAlchemy", "quart-flask-patch", "django", "100%_pure"],
        "npm": ["flask-mock", "@types/flask"],
    }
    for ecosystem, packages in names.items():
        for name in packages:
            await create_registry_package(session, ecosystem=ecosystem, name=name)
    owners = {
        "stripe": 5000,
        "Stripe-Samples": 900,
        "mystripe": 10,
        "acme": 1,
    }
    for login, stars in owners.items():
        await create_organization(session, login=login, total_stars=stars)
    await create_organization(session, login="pallets", name="Stripe Friends", total_stars=50)
    await create_organization(session, login="stripe-gone", deleted_at=datetime.now(UTC))
    await session.commit()


def _names(body: dict[str, Any]) -> list[str]:
    return [item["name"] for item in body["items"]]


async def test_package_search_ranks_exact_then_prefix_then_substring(
    client: httpx.AsyncClient, catalogue: None
) -> None:
    response = await client.get("/api/v1/search/packages", params={"q": "FLASK"})

    assert response.status_code == 200
    body = response.json()
    assert _names(body) == [
        "flask",
        "flask-mock",
        "Flask-SQLAlchemy",
        "@types/flask",
        "quart-flask-patch",
    ]
    assert body["total"] == 5


async def test_package_search_folds_separators_and_filters_by_ecosystem(
    client: httpx.AsyncClient, catalogue: None
) -> None:
    folded = await client.get("/api/v1/search/packages", params={"q": "flask_sqlalchemy"})
    npm = await client.get("/api/v1/search/packages", params={"q": "flask", "ecosystem": "npm"})

    assert _names(folded.json()) == ["Flask-SQLAlchemy"]
    assert _names(npm.json()) == ["flask-mock", "@types/flask"]


async def test_like_wildcards_in_the_query_are_literal(
    client: httpx.AsyncClient, catalogue: None
) -> None:
    percent = await client.get("/api/v1/search/packages", params={"q": "100%"})
    underscore = await client.get("/api/v1/search/packages", params={"q": "_"})

    assert _names(percent.json()) == ["100%_pure"]
    # "_" is folded to "-" as well, so it finds names with either separator, not everything.
    assert "flask" not in _names(underscore.json())


async def test_package_search_items_carry_dependent_counts(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    package = await create_registry_package(session, ecosystem="cargo", name="serde")
    for _ in range(3):
        await create_dependency(
            session, repository=await create_repository(session), package=package
        )
    await session.commit()

    [item] = (await client.get("/api/v1/search/packages", params={"q": "serde"})).json()["items"]

    assert item["dependent_repositories_count"] == 3
    assert item["dependent_organizations_count"] == 3


async def test_package_search_pages_cover_every_match_once(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    for index in range(17):
        await create_registry_package(session, ecosystem="npm", name=f"left-pad-{index:02d}")
    await create_registry_package(session, ecosystem="npm", name="left-pad")
    await session.commit()
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"q": "left-pad", "limit": 4} | (
            {"cursor": cursor} if cursor else {}
        )
        body = (await client.get("/api/v1/search/packages", params=params)).json()
        seen += _names(body)
        cursor = body["next_cursor"]
        if cursor is None:
            break

    assert seen[0] == "left-pad"
    assert seen[1:] == [f"left-pad-{index:02d}" for index in range(17)]


async def test_organization_search_matches_login_or_name_most_starred_first(
    client: httpx.AsyncClient, catalogue: None
) -> None:
    response = await client.get("/api/v1/search/organizations", params={"q": "stripe"})

    body = response.json()
    # Exact, then prefixes (by stars), then substrings (by stars); deleted owners never.
    assert [item["login"] for item in body["items"]] == [
        "stripe",
        "Stripe-Samples",
        "pallets",
        "mystripe",
    ]
    assert body["items"][0]["total_stars"] == 5000


async def test_search_exports_csv(client: httpx.AsyncClient, catalogue: None) -> None:
    response = await client.get(
        "/api/v1/search/organizations", params={"q": "stripe", "format": "csv"}
    )

    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [row["login"] for row in rows] == ["stripe", "Stripe-Samples", "pallets", "mystripe"]


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("/api/v1/search/packages", {}, 422),
        ("/api/v1/search/packages", {"q": "   "}, 422),
        ("/api/v1/search/packages", {"q": "x" * 201}, 422),
        ("/api/v1/search/packages", {"q": "a\x00b"}, 422),
        ("/api/v1/search/packages", {"q": "flask", "ecosystem": "cpan"}, 404),
        ("/api/v1/search/organizations", {"q": "stripe", "cursor": "nope"}, 400),
    ],
)
async def test_bad_search_requests_are_problems(
    client: httpx.AsyncClient, path: str, params: dict[str, str], status: int
) -> None:
    response = await client.get(path, params=params)

    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
