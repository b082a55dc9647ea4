import csv
import io
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.builders import create_dependency, create_organization, create_repository
from tests.packages.conftest import Graph
from wump.core.csv_export import ResponseFormat, negotiate, neutralize

DEPENDENTS = "/api/v1/packages/pypi/httpx/dependents"


def _rows(response: httpx.Response) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(response.text)))


@pytest.mark.parametrize(
    ("headers", "params"),
    [({"Accept": "text/csv"}, {}), ({}, {"format": "csv"}), ({"Accept": "*/*"}, {"format": "csv"})],
)
async def test_dependents_export_as_csv_with_the_same_rows(
    client: httpx.AsyncClient, graph: Graph, headers: dict[str, str], params: dict[str, str]
) -> None:
    response = await client.get(DEPENDENTS, headers=headers, params=params)
    as_json = (await client.get(DEPENDENTS)).json()

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == (
        'attachment; filename="pypi-httpx-dependents.csv"'
    )
    rows = _rows(response)
    assert [row["login"] for row in rows] == ["acme", "Wayne", "hooli", "jdoe"]
    acme = rows[0]
    expected = as_json["dependents"][0]
    assert float(acme["score"]) == expected["score"]
    assert acme["total_repositories"] == "2"
    assert acme["total_stars"] == "5300"
    assert acme["is_verified"] == "true"
    assert acme["website_url"] == "https://acme.example"
    assert acme["repositories"] == "acme/payments acme/billing"
    assert float(acme["factor_sponsorship"]) == expected["score_factors"]["sponsorship"]
    assert acme["company"] == ""


async def test_csv_export_applies_the_filters(client: httpx.AsyncClient, graph: Graph) -> None:
    response = await client.get(DEPENDENTS, params={"format": "csv", "kind": "user"})

    assert [row["login"] for row in _rows(response)] == ["jdoe"]


async def test_csv_cells_are_neutralized_against_formula_injection(
    client: httpx.AsyncClient, session: AsyncSession, graph: Graph
) -> None:
    owner = await create_organization(
        session,
        login="evil",
        name='=HYPERLINK("https://evil.example","click")',
        company="+1-555-0100",
        website_url="@import",
    )
    repository = await create_repository(session, owner=owner, stars=1)
    await create_dependency(
        session, repository=repository, package=graph.package, requirement="-1;cmd"
    )
    await session.commit()

    dependents = _rows(
        await client.get(DEPENDENTS, params={"format": "csv", "kind": "organization"})
    )
    repositories = _rows(
        await client.get("/api/v1/packages/pypi/httpx/repositories", headers={"Accept": "text/csv"})
    )

    evil = next(row for row in dependents if row["login"] == "evil")
    assert evil["name"] == '\'=HYPERLINK("https://evil.example","click")'
    assert evil["company"] == "'+1-555-0100"
    assert evil["website_url"] == "'@import"
    assert next(r for r in repositories if r["owner"] == "evil")["requirement"] == "'-1;cmd"


async def test_repositories_and_packages_export_as_csv(
    client: httpx.AsyncClient, graph: Graph
) -> None:
    repositories = await client.get(
        "/api/v1/packages/pypi/httpx/repositories", params={"format": "csv", "sort": "name"}
    )
    packages = await client.get("/api/v1/packages", headers={"Accept": "text/csv"})

    repository_rows = _rows(repositories)
    assert [row["full_name"] for row in repository_rows][:2] == ["acme/billing", "acme/payments"]
    assert len(repository_rows) == 6
    assert repository_rows[0]["sources"] == "sbom manifest"
    assert [(row["name"], row["dependent_repositories_count"]) for row in _rows(packages)] == [
        ("httpx", "12"),
        ("requests", "1"),
    ]


async def test_csv_starts_at_the_given_cursor(client: httpx.AsyncClient, graph: Graph) -> None:
    first = (await client.get(DEPENDENTS, params={"limit": 2})).json()

    response = await client.get(
        DEPENDENTS, params={"format": "csv", "cursor": first["next_cursor"]}
    )

    assert [row["login"] for row in _rows(response)] == ["hooli", "jdoe"]


async def test_csv_with_a_bad_cursor_is_a_problem_not_a_broken_download(
    client: httpx.AsyncClient, graph: Graph
) -> None:
    response = await client.get(DEPENDENTS, params={"format": "csv", "cursor": "garbage"})

    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"


async def test_json_is_preferred_unless_csv_is_asked_for(
    client: httpx.AsyncClient, graph: Graph
) -> None:
    weighted = await client.get(DEPENDENTS, headers={"Accept": "text/csv;q=0.5, application/json"})
    explicit = await client.get(
        DEPENDENTS, headers={"Accept": "text/csv"}, params={"format": "json"}
    )

    assert weighted.headers["content-type"] == "application/json"
    assert explicit.headers["content-type"] == "application/json"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+2", "'=1+2"),
        ("+49 30", "'+49 30"),
        ("-x", "'-x"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tindent", "'\tindent"),
        ("\rline", "'\rline"),
        ("plain", "plain"),
        ("a=b", "a=b"),
        (None, ""),
        (True, "true"),
        (False, "false"),
        (-5, -5),
        (2.5, 2.5),
        (datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), "2026-01-02T03:04:05+00:00"),
    ],
)
def test_neutralize(value: str | int | float | bool | datetime | None, expected: object) -> None:
    assert neutralize(value) == expected


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("", ResponseFormat.JSON),
        ("*/*", ResponseFormat.JSON),
        ("text/csv", ResponseFormat.CSV),
        ("text/csv, */*;q=0.1", ResponseFormat.CSV),
        ("application/json, text/csv", ResponseFormat.JSON),
        ("application/json;q=0.2, text/csv", ResponseFormat.CSV),
        ("text/csv;q=bogus", ResponseFormat.JSON),
        ("TEXT/CSV", ResponseFormat.CSV),
    ],
)
def test_accept_negotiation(accept: str, expected: ResponseFormat) -> None:
    assert negotiate(accept) is expected
