"""Package names in URLs: each registry's normalization, slashes, `@`, and percent-encoding."""

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.builders import (
    create_dependency,
    create_organization,
    create_registry_package,
    create_repository,
)
from wump.models import Package


async def _package_with_dependent(session: AsyncSession, ecosystem: str, name: str) -> Package:
    package = await create_registry_package(session, ecosystem=ecosystem, name=name)
    owner = await create_organization(session)
    repository = await create_repository(session, owner=owner, stars=10)
    await create_dependency(session, repository=repository, package=package)
    await session.commit()
    return package


@pytest.mark.parametrize(
    ("ecosystem", "stored", "asked"),
    [
        ("pypi", "Flask-SQLAlchemy", "Flask_SQLAlchemy"),
        ("pypi", "Flask-SQLAlchemy", "flask.sqlalchemy"),
        ("nuget", "Newtonsoft.Json", "newtonsoft.json"),
        ("composer", "Laravel/Framework", "laravel/framework"),
        ("cargo", "serde_json", "serde-json"),
        ("cargo", "tokio-util", "Tokio_Util"),
        ("npm", "@types/node", "@types/node"),
        ("npm", "@types/node", "%40types%2Fnode"),
        ("golang", "github.com/stretchr/testify", "github.com/stretchr/testify"),
        ("golang", "github.com/stretchr/testify", "github.com%2Fstretchr%2Ftestify"),
        ("maven", "org.slf4j:slf4j-api", "org.slf4j:slf4j-api"),
        ("gem", "rails", "rails"),
        ("github", "actions/checkout", "Actions/Checkout"),
    ],
)
async def test_names_are_matched_the_registry_way(
    client: httpx.AsyncClient, session: AsyncSession, ecosystem: str, stored: str, asked: str
) -> None:
    package = await _package_with_dependent(session, ecosystem, stored)

    for suffix in ("", "/dependents", "/users", "/repositories"):
        response = await client.get(f"/api/v1/packages/{ecosystem}/{asked}{suffix}")
        assert response.status_code == 200, (suffix, response.text)
    detail = (await client.get(f"/api/v1/packages/{ecosystem}/{asked}")).json()
    assert detail["purl"] == package.purl
    assert detail["name"] == stored
    dependents = (await client.get(f"/api/v1/packages/{ecosystem}/{asked}/dependents")).json()
    assert dependents["package"]["purl"] == package.purl
    assert dependents["total_repositories"] == 1


@pytest.mark.parametrize(
    ("ecosystem", "stored", "asked"),
    [
        ("golang", "github.com/Foo/bar", "github.com/foo/bar"),
        ("npm", "JSONStream", "jsonstream"),
        ("maven", "org.slf4j:slf4j-api", "org.slf4j:SLF4J-API"),
    ],
)
async def test_case_sensitive_registries_do_not_fold_case(
    client: httpx.AsyncClient, session: AsyncSession, ecosystem: str, stored: str, asked: str
) -> None:
    await _package_with_dependent(session, ecosystem, stored)

    assert (await client.get(f"/api/v1/packages/{ecosystem}/{stored}")).status_code == 200
    assert (await client.get(f"/api/v1/packages/{ecosystem}/{asked}")).status_code == 404


@pytest.mark.parametrize(
    ("alias", "ecosystem", "name"),
    [
        ("rubygems", "gem", "rails"),
        ("go", "golang", "golang.org/x/net"),
        ("crates", "cargo", "serde"),
        ("packagist", "composer", "symfony/console"),
        ("PyPI", "pypi", "httpx"),
    ],
)
async def test_ecosystem_aliases_are_accepted(
    client: httpx.AsyncClient, session: AsyncSession, alias: str, ecosystem: str, name: str
) -> None:
    package = await _package_with_dependent(session, ecosystem, name)

    response = await client.get(f"/api/v1/packages/{alias}/{name}/dependents")

    assert response.status_code == 200
    assert response.json()["package"]["purl"] == package.purl


async def test_suffix_named_packages_are_reachable_by_their_own_routes(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    # An npm package literally called "dependents" must not be mistaken for the suffix.
    await _package_with_dependent(session, "npm", "dependents")
    await _package_with_dependent(session, "npm", "@scope/users")

    assert (await client.get("/api/v1/packages/npm/dependents")).json()["name"] == "dependents"
    listed = await client.get("/api/v1/packages/npm/dependents/dependents")
    assert listed.json()["package"]["name"] == "dependents"
    scoped = await client.get("/api/v1/packages/npm/@scope/users/users")
    assert scoped.json()["package"]["name"] == "@scope/users"
    # The one ambiguous form: "@scope/users" reads as the users of "@scope". The 404 points
    # at the lookup route, which reaches the package.
    ambiguous = await client.get("/api/v1/packages/npm/@scope/users")
    assert ambiguous.status_code == 404
    lookup = "/api/v1/packages/lookup?purl=pkg%3Anpm%2F%2540scope%2Fusers"
    assert ambiguous.json()["package_url"] == lookup
    found = await client.get(ambiguous.json()["package_url"])
    assert found.json()["name"] == "@scope/users"


async def test_unknown_ecosystem_is_a_404_listing_the_supported_ones(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/api/v1/packages/cpan/Moose/dependents")

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert "cpan" in body["detail"]
    assert body["supported_ecosystems"] == [
        "pypi",
        "npm",
        "cargo",
        "golang",
        "gem",
        "maven",
        "nuget",
        "composer",
        "github",
    ]


async def test_unknown_package_is_a_404_with_close_matches(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    for name in ("requests", "requests-oauthlib", "flask", "django"):
        await create_registry_package(session, ecosystem="pypi", name=name)
    await create_registry_package(session, ecosystem="npm", name="request")
    await session.commit()

    response = await client.get("/api/v1/packages/pypi/reqeusts/dependents")

    assert response.status_code == 404
    body = response.json()
    assert body["suggestions"][0] == "requests"
    assert "request" not in body["suggestions"]  # the npm one
    assert "flask" not in body["suggestions"]
    assert "Did you mean: requests" in body["detail"]
    assert "pkg:pypi/reqeusts" in body["detail"]


async def test_unknown_package_without_close_matches_suggests_nothing(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/api/v1/packages/pypi/zzzz-nothing-like-it")

    assert response.status_code == 404
    assert response.json()["suggestions"] == []


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/packages/maven/no-colon-here",
        "/api/v1/packages/npm/not/scoped/dependents",
        "/api/v1/packages/pypi/%00",
        "/api/v1/packages/composer/single",
    ],
)
async def test_impossible_names_are_404_not_500(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    "purl",
    [
        "pkg:npm/%40types/node",
        "pkg:npm/%40types/node@20.1.0",
        "pkg:npm/@types/node",
    ],
)
async def test_lookup_resolves_a_purl(
    client: httpx.AsyncClient, session: AsyncSession, purl: str
) -> None:
    package = await _package_with_dependent(session, "npm", "@types/node")

    response = await client.get("/api/v1/packages/lookup", params={"purl": purl})

    assert response.status_code == 200
    assert response.json()["purl"] == package.purl
    assert response.json()["dependent_repositories_count"] == 1


async def test_lookup_normalizes_pypi_names(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    await _package_with_dependent(session, "pypi", "Flask-SQLAlchemy")

    response = await client.get("/api/v1/packages/lookup?purl=pkg:pypi/Flask_SQLAlchemy")

    assert response.json()["normalized_name"] == "flask-sqlalchemy"


@pytest.mark.parametrize(
    ("purl", "status"),
    [
        ("not-a-purl", 400),
        ("pkg:cpan/Moose", 404),
        ("pkg:pypi/never-heard-of-it", 404),
        ("pkg:maven/just-a-name", 400),
    ],
)
async def test_lookup_errors_are_problems(
    client: httpx.AsyncClient, purl: str, status: int
) -> None:
    response = await client.get("/api/v1/packages/lookup", params={"purl": purl})

    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
