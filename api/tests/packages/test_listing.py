"""The flat repository list, the package detail and the package list."""

from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.builders import create_registry_package
from tests.packages.conftest import Graph

REPOSITORIES = "/api/v1/packages/pypi/httpx/repositories"


def _names(body: dict[str, Any]) -> list[str]:
    return [item["full_name"] for item in body["items"]]


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        (
            "stars",
            [
                "Wayne/platform",
                "acme/payments",
                "hooli/search",
                "acme/billing",
                "hooli/ads",
                "jdoe/dotfiles",
            ],
        ),
        (
            "name",
            [
                "acme/billing",
                "acme/payments",
                "hooli/ads",
                "hooli/search",
                "jdoe/dotfiles",
                "Wayne/platform",
            ],
        ),
        # billing and ads were pushed at the same moment: the newer row comes first.
        (
            "recent",
            [
                "acme/payments",
                "hooli/search",
                "hooli/ads",
                "acme/billing",
                "Wayne/platform",
                "jdoe/dotfiles",
            ],
        ),
    ],
)
async def test_repositories_are_a_flat_list_in_every_sort(
    client: httpx.AsyncClient, graph: Graph, sort: str, expected: list[str]
) -> None:
    response = await client.get(REPOSITORIES, params={"sort": sort})

    assert response.status_code == 200
    body = response.json()
    assert _names(body) == expected
    assert body["total"] == 6
    assert body["limit"] == 50
    assert body["next_cursor"] is None


async def test_repositories_share_the_dependents_filters(
    client: httpx.AsyncClient, graph: Graph
) -> None:
    body = (
        await client.get(REPOSITORIES, params={"min_stars": 1000, "include_package_owner": True})
    ).json()

    assert _names(body) == ["Wayne/platform", "acme/payments", "encode/httpx-examples"]
    platform = body["items"][0]
    assert platform["owner"] == {"login": "Wayne", "kind": "organization"}
    assert platform["is_direct"] is False
    assert platform["sources"] == ["sbom", "manifest"]


async def test_package_detail_counts_every_edge(client: httpx.AsyncClient, graph: Graph) -> None:
    response = await client.get("/api/v1/packages/pypi/httpx")

    assert response.status_code == 200
    body = response.json()
    assert body["purl"] == "pkg:pypi/httpx"
    assert body["repository_url"] == "https://github.com/encode/httpx"
    assert body["funding_urls"] == [
        "https://github.com/sponsors/encode",
        "https://opencollective.com/encode",
    ]
    # 13 edges, minus the deleted owner's.
    assert body["dependent_repositories_count"] == 12
    assert body["dependent_organizations_count"] == 6
    assert body["dependency_types"] == {
        "runtime": 7,
        "development": 1,
        "test": 2,
        "build": 1,
        "optional": 1,
    }
    assert body["first_seen_at"] is not None
    assert body["last_seen_at"] >= body["first_seen_at"]


async def test_package_detail_of_an_unused_package_has_zero_counts(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    await create_registry_package(session, ecosystem="cargo", name="serde_json")
    await session.commit()

    body = (await client.get("/api/v1/packages/cargo/serde-json")).json()

    assert body["dependent_repositories_count"] == 0
    assert body["dependent_organizations_count"] == 0
    assert body["dependency_types"] == {}
    assert body["first_seen_at"] is None
    assert body["last_seen_at"] is None


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, [("httpx", 12, 6), ("requests", 1, 1)]),
        ({"sort": "name"}, [("httpx", 12, 6), ("requests", 1, 1)]),
        ({"q": "REQ"}, [("requests", 1, 1)]),
        ({"ecosystem": "pypi", "q": "ttp"}, [("httpx", 12, 6)]),
        ({"ecosystem": "npm"}, []),
    ],
)
async def test_package_list_carries_dependent_counts(
    client: httpx.AsyncClient,
    graph: Graph,
    params: dict[str, str],
    expected: list[tuple[str, int, int]],
) -> None:
    response = await client.get("/api/v1/packages", params=params)

    assert response.status_code == 200
    body = response.json()
    assert [
        (i["name"], i["dependent_repositories_count"], i["dependent_organizations_count"])
        for i in body["items"]
    ] == expected
    assert body["total"] == len(expected)


async def test_package_list_with_an_unknown_ecosystem_is_a_404(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/api/v1/packages", params={"ecosystem": "cpan"})

    assert response.status_code == 404
    assert "pypi" in response.json()["supported_ecosystems"]
