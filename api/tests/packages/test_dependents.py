import math
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.packages.conftest import NOW, Graph

URL = "/api/v1/packages/pypi/httpx/dependents"


async def _get(client: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    response = await client.get(URL, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _logins(body: dict[str, Any]) -> list[str]:
    return [item["organization"]["login"] for item in body["dependents"]]


async def test_dependents_are_grouped_by_organization_with_exact_totals(
    client: httpx.AsyncClient, graph: Graph
) -> None:
    body = await _get(client)

    assert body["package"]["purl"] == "pkg:pypi/httpx"
    assert body["total_organizations"] == 4
    assert body["total"] == 4
    assert body["total_repositories"] == 6
    assert body["limit"] == 50
    assert body["next_cursor"] is None
    by_login = {item["organization"]["login"]: item for item in body["dependents"]}
    assert set(by_login) == {"acme", "Wayne", "jdoe", "hooli"}
    acme = by_login["acme"]
    assert acme["total_repositories"] == 2
    assert acme["total_stars"] == 5300
    assert [r["full_name"] for r in acme["repositories"]] == ["acme/payments", "acme/billing"]
    assert acme["organization"] == {
        "login": "acme",
        "name": "Acme Corp",
        "kind": "organization",
        "github_url": "https://github.com/acme",
        "website_url": "https://acme.example",
        "sponsorship_url": None,
        "is_verified": True,
        "company": None,
    }


async def test_dependent_repository_carries_the_evidence(
    client: httpx.AsyncClient, graph: Graph
) -> None:
    body = await _get(client)

    wayne = next(i for i in body["dependents"] if i["organization"]["login"] == "Wayne")
    [platform] = wayne["repositories"]
    assert platform["full_name"] == "Wayne/platform"
    assert platform["html_url"] == "https://github.com/Wayne/platform"
    assert platform["stars"] == 50000
    assert platform["primary_language"] == "Go"
    assert platform["is_fork"] is False
    assert platform["is_archived"] is False
    assert platform["dependency_type"] == "runtime"
    assert platform["requirement"] == ">=0.27"
    assert platform["is_direct"] is False
    assert platform["manifest_path"] == "pyproject.toml"
    assert platform["source"] == "manifest"
    assert platform["sources"] == ["sbom", "manifest"]
    assert platform["first_seen_at"]
    assert datetime.fromisoformat(platform["pushed_at"]) == NOW - timedelta(days=5)


async def test_default_sort_is_score_with_explained_factors(
    client: httpx.AsyncClient, graph: Graph
) -> None:
    body = await _get(client)

    assert _logins(body) == ["acme", "Wayne", "hooli", "jdoe"]
    scores = [item["score"] for item in body["dependents"]]
    assert scores == sorted(scores, reverse=True)
    acme, wayne, hooli, jdoe = body["dependents"]
    assert acme["score_factors"] == {
        "repositories": pytest.approx(30 * math.log(3) / math.log(101), abs=0.01),
        "stars": pytest.approx(25 * math.log(5301) / math.log(100_001), abs=0.01),
        "organization": 10.0,
        "verified": 5.0,
        "contact": 5.0,
        "recent_activity": 10.0,
        "runtime": 10.0,
        "sponsorship": 5.0,
    }
    # A user, no profile signals, last pushed 400 days ago: only usage and runtime count.
    assert jdoe["score_factors"]["organization"] == 0.0
    assert jdoe["score_factors"]["contact"] == 0.0
    assert jdoe["score_factors"]["recent_activity"] == 0.0
    assert jdoe["score_factors"]["runtime"] == 10.0
    # A company counts as contact information; a Sponsors listing as a sponsorship signal.
    assert wayne["score_factors"]["contact"] == 5.0
    assert wayne["score_factors"]["sponsorship"] == 0.0
    assert hooli["score_factors"]["sponsorship"] == 5.0
    # Build and optional dependencies ship with the software: they count as runtime use.
    assert hooli["score_factors"]["runtime"] == 10.0
    for item in body["dependents"]:
        assert 0 <= item["score"] <= 100
        assert item["score"] == pytest.approx(sum(item["score_factors"].values()), abs=0.05)


async def test_only_development_use_earns_no_runtime_points(
    client: httpx.AsyncClient, graph: Graph
) -> None:
    body = await _get(client, dependency_type=["test"])

    assert sorted(_logins(body)) == ["initech", "jdoe"]
    for item in body["dependents"]:
        assert item["score_factors"]["runtime"] == 0.0


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("score", ["acme", "Wayne", "hooli", "jdoe"]),
        ("stars", ["Wayne", "acme", "hooli", "jdoe"]),
        # Ties (2 repositories each, then 1) go to the owner seen last (highest id first).
        ("repositories", ["hooli", "acme", "jdoe", "Wayne"]),
        ("name", ["acme", "hooli", "jdoe", "Wayne"]),
        ("recent", ["acme", "hooli", "Wayne", "jdoe"]),
    ],
)
async def test_every_sort_orders_organizations(
    client: httpx.AsyncClient, graph: Graph, sort: str, expected: list[str]
) -> None:
    assert _logins(await _get(client, sort=sort)) == expected


@pytest.mark.parametrize(
    ("params", "organizations", "repositories"),
    [
        ({"include_forks": "true"}, {"acme": 3, "Wayne": 1, "jdoe": 1, "hooli": 2}, 7),
        ({"include_archived": "true"}, {"acme": 3, "Wayne": 1, "jdoe": 1, "hooli": 2}, 7),
        (
            {"dependency_type": "all"},
            {"acme": 3, "Wayne": 1, "jdoe": 2, "hooli": 2, "initech": 1},
            9,
        ),
        ({"dependency_type": ["build", "optional"]}, {"hooli": 2}, 2),
        ({"direct_only": "true"}, {"acme": 2, "jdoe": 1, "hooli": 2}, 5),
        ({"kind": "user"}, {"jdoe": 1}, 1),
        ({"kind": "organization"}, {"acme": 2, "Wayne": 1, "hooli": 2}, 5),
        ({"min_stars": 500}, {"acme": 1, "Wayne": 1}, 2),
        ({"language": "python"}, {"acme": 2, "jdoe": 1}, 3),
        (
            {"pushed_after": (NOW.replace(tzinfo=None) - timedelta(days=30)).isoformat()},
            {"acme": 2, "Wayne": 1, "hooli": 2},
            5,
        ),
        ({"exclude_owner": ["ACME", "hooli"]}, {"Wayne": 1, "jdoe": 1}, 2),
        (
            {"include_package_owner": "true"},
            {"acme": 2, "Wayne": 1, "jdoe": 1, "hooli": 2, "encode": 1},
            7,
        ),
    ],
)
async def test_every_filter_narrows_repositories_and_totals(
    client: httpx.AsyncClient,
    graph: Graph,
    params: dict[str, Any],
    organizations: dict[str, int],
    repositories: int,
) -> None:
    body = await _get(client, **params)

    assert {i["organization"]["login"]: i["total_repositories"] for i in body["dependents"]} == (
        organizations
    )
    assert body["total_organizations"] == len(organizations)
    assert body["total_repositories"] == repositories


async def test_deleted_organizations_never_appear(client: httpx.AsyncClient, graph: Graph) -> None:
    body = await _get(
        client,
        dependency_type="all",
        include_forks="true",
        include_archived="true",
        include_package_owner="true",
    )

    assert "umbrella" not in _logins(body)
    assert body["total_repositories"] == 12


async def test_nested_repositories_are_capped_but_totals_stay_exact(
    client: httpx.AsyncClient, graph: Graph
) -> None:
    one = await _get(client, repositories_per_organization=1, include_forks="true")
    none = await _get(client, repositories_per_organization=0)

    acme = one["dependents"][0]
    assert acme["organization"]["login"] == "acme"
    assert [r["full_name"] for r in acme["repositories"]] == ["acme/payments"]
    assert acme["total_repositories"] == 3
    assert acme["total_stars"] == 6200
    assert all(item["repositories"] == [] for item in none["dependents"])
    assert none["total_repositories"] == 6


async def test_users_is_the_same_query_as_dependents(
    client: httpx.AsyncClient, graph: Graph
) -> None:
    params: dict[str, str | int] = {"sort": "stars", "min_stars": 100}
    dependents = await client.get(URL, params=params)
    users = await client.get("/api/v1/packages/pypi/httpx/users", params=params)

    assert users.status_code == 200
    assert users.json() == dependents.json()


async def test_other_packages_edges_are_not_counted(
    client: httpx.AsyncClient, graph: Graph
) -> None:
    body = await _get(client, dependency_type="all")
    other = await client.get("/api/v1/packages/pypi/requests/dependents")

    assert body["total_repositories"] == 9
    assert other.json()["total_repositories"] == 1
    assert _logins(other.json()) == ["acme"]


@pytest.mark.parametrize(
    "params",
    [
        {"min_stars": -1},
        {"min_stars": "many"},
        {"min_stars": 2**40},
        {"dependency_type": "bogus"},
        {"kind": "robot"},
        {"pushed_after": "last tuesday"},
        {"pushed_after": "0001-01-01T00:00:00+05:00"},
        {"sort": "popularity"},
        {"limit": 0},
        {"limit": 501},
        {"repositories_per_organization": 101},
        {"language": "py\x00thon"},
        {"include_forks": "maybe"},
    ],
)
async def test_bad_filter_values_are_422_problems(
    client: httpx.AsyncClient, graph: Graph, params: dict[str, Any]
) -> None:
    response = await client.get(URL, params=params)

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith("/validation-error")


async def test_package_without_dependents_has_an_empty_first_page(
    client: httpx.AsyncClient, graph: Graph
) -> None:
    response = await client.get(
        "/api/v1/packages/pypi/requests/dependents", params={"kind": "user"}
    )

    assert response.status_code == 200
    assert response.json()["dependents"] == []
    assert response.json()["total_organizations"] == 0
    assert response.json()["total_repositories"] == 0
    assert response.json()["next_cursor"] is None
