import csv
import io
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from tests.builders import create_dependency, create_organization, create_registry_package
from tests.packages.conftest import Graph, build_graph
from wump.core.cache import Cache
from wump.models import Organization


@pytest.fixture
async def graph(session: AsyncSession) -> Graph:
    graph = await build_graph(session)
    # Profile totals come from the code host; the graph fixture leaves them at 0.
    for login, stars, repositories in (("acme", 9000, 40), ("Wayne", 60000, 12), ("jdoe", 30, 8)):
        await session.execute(
            update(Organization)
            .where(Organization.login == login)
            .values(total_stars=stars, total_repositories=repositories)
        )
    await session.commit()
    return graph


def _logins(body: dict[str, Any]) -> list[str]:
    return [item["login"] for item in body["items"]]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["Wayne", "acme", "jdoe", "initech", "encode", "hooli"]),
        ({"sort": "name"}, ["acme", "encode", "hooli", "initech", "jdoe", "Wayne"]),
        # acme uses httpx and requests; everyone else httpx only.
        ({"sort": "dependencies"}, ["acme", "Wayne", "jdoe", "initech", "encode", "hooli"]),
        ({"kind": "user"}, ["jdoe"]),
    ],
)
async def test_organizations_list_sorts_and_filters(
    client: httpx.AsyncClient, graph: Graph, params: dict[str, str], expected: list[str]
) -> None:
    response = await client.get("/api/v1/organizations", params=params)

    assert response.status_code == 200
    body = response.json()
    assert _logins(body) == expected
    assert body["total"] == len(expected)


async def test_organizations_list_items_carry_totals(
    client: httpx.AsyncClient, graph: Graph
) -> None:
    body = (await client.get("/api/v1/organizations", params={"sort": "name"})).json()

    acme = body["items"][0]
    assert acme == {
        "login": "acme",
        "name": "Acme Corp",
        "kind": "organization",
        "github_url": "https://github.com/acme",
        "website_url": "https://acme.example",
        "sponsorship_url": None,
        "is_verified": True,
        "company": None,
        "total_stars": 9000,
        "total_repositories": 40,
        "dependencies_count": 2,
    }


async def test_organizations_list_walks_all_pages(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    for index in range(23):
        await create_organization(session, login=f"walk-{index:02d}", total_stars=index % 4)
    await session.commit()
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 5} | ({"cursor": cursor} if cursor else {})
        body = (await client.get("/api/v1/organizations", params=params)).json()
        seen += _logins(body)
        cursor = body["next_cursor"]
        if cursor is None:
            break

    assert len(seen) == len(set(seen)) == 23
    whole = (await client.get("/api/v1/organizations", params={"limit": 500})).json()
    assert seen == _logins(whole)


async def test_organizations_list_exports_csv(client: httpx.AsyncClient, graph: Graph) -> None:
    response = await client.get("/api/v1/organizations", params={"format": "csv", "kind": "user"})

    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert rows == [
        {
            "login": "jdoe",
            "name": "Jane Doe",
            "kind": "user",
            "total_stars": "30",
            "total_repositories": "8",
            "dependencies_count": "1",
            "company": "",
            "website_url": "",
            "github_url": "https://github.com/jdoe",
            "sponsorship_url": "",
            "is_verified": "false",
        }
    ]


async def test_organization_detail_has_profile_signals_totals_and_repositories(
    client: httpx.AsyncClient, graph: Graph
) -> None:
    response = await client.get("/api/v1/organizations/ACME")

    assert response.status_code == 200
    assert response.headers["etag"].startswith('W/"')
    body = response.json()
    assert body["login"] == "acme"
    assert body["host"] == "github.com"
    assert body["kind"] == "organization"
    assert body["is_verified"] is True
    assert body["sponsorship"] == {
        "sponsorship_url": None,
        "has_sponsors_listing": None,
        "sponsors_others_count": 3,
    }
    assert body["total_stars"] == 9000
    assert body["known_repositories"] == 5
    assert body["dependencies_count"] == 2
    repositories = body["repositories"]
    assert [r["full_name"] for r in repositories] == [
        "acme/payments",
        "acme/httpx-fork",
        "acme/legacy",
        "acme/billing",
        "acme/tools",
    ]
    assert repositories[1]["is_fork"] is True
    assert repositories[2]["is_archived"] is True
    assert repositories[4]["primary_language"] == "Go"


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/organizations/nobody",
        "/api/v1/organizations/umbrella",  # deleted
        "/api/v1/organizations/acme?host=gitlab.com",
        "/api/v1/organizations/nobody/dependencies",
    ],
)
async def test_unknown_organization_is_a_404(
    client: httpx.AsyncClient, graph: Graph, path: str
) -> None:
    response = await client.get(path)

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


async def test_organization_dependencies_are_the_donors_view(
    client: httpx.AsyncClient, graph: Graph
) -> None:
    response = await client.get("/api/v1/organizations/acme/dependencies")

    assert response.status_code == 200
    body = response.json()
    assert body["total"] == 2
    httpx_item, requests_item = body["items"]
    assert httpx_item["package"]["purl"] == "pkg:pypi/httpx"
    assert httpx_item["repositories_count"] == 5
    assert httpx_item["dependency_types"] == ["development", "runtime"]
    assert requests_item["package"]["name"] == "requests"
    assert requests_item["repositories_count"] == 1


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"sort": "name"}, ["httpx", "requests", "zod"]),
        ({}, ["httpx", "zod", "requests"]),
        ({"ecosystem": "npm"}, ["zod"]),
        ({"ecosystem": "cargo"}, []),
    ],
)
async def test_organization_dependencies_sort_and_filter(
    client: httpx.AsyncClient,
    session: AsyncSession,
    graph: Graph,
    params: dict[str, str],
    expected: list[str],
) -> None:
    zod = await create_registry_package(session, ecosystem="npm", name="zod")
    for name in ("acme/payments", "acme/billing"):
        await create_dependency(session, repository=graph.repositories[name], package=zod)
    await session.commit()

    body = (await client.get("/api/v1/organizations/acme/dependencies", params=params)).json()

    assert [item["package"]["name"] for item in body["items"]] == expected


async def test_organization_dependencies_reject_unknown_ecosystems(
    client: httpx.AsyncClient, graph: Graph
) -> None:
    response = await client.get(
        "/api/v1/organizations/acme/dependencies", params={"ecosystem": "cpan"}
    )

    assert response.status_code == 404
    assert "supported_ecosystems" in response.json()


async def test_organization_responses_are_cached_per_organization_generation(
    client: httpx.AsyncClient, session: AsyncSession, cache: Cache, graph: Graph
) -> None:
    before = (await client.get("/api/v1/organizations/acme")).json()
    await session.execute(
        update(Organization).where(Organization.login == "acme").values(name="Acme Inc")
    )
    await session.commit()

    cached = (await client.get("/api/v1/organizations/acme")).json()
    await cache.bump("package", [graph.package.id])
    still = (await client.get("/api/v1/organizations/acme")).json()
    await cache.bump("organization", [graph.organizations["acme"].id])
    fresh = (await client.get("/api/v1/organizations/acme")).json()

    assert cached == before == still
    assert fresh["name"] == "Acme Inc"


async def test_organization_detail_answers_304(client: httpx.AsyncClient, graph: Graph) -> None:
    etag = (await client.get("/api/v1/organizations/acme")).headers["etag"]

    response = await client.get("/api/v1/organizations/acme", headers={"If-None-Match": etag})

    assert response.status_code == 304
