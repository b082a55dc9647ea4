"""A small but realistic dependency graph around one package, `pypi/httpx`.

Owners and what depends on httpx (stars, language, last push, dependency type):

- acme (verified org, website, sponsors others): payments 5000 runtime, billing 300
  runtime, tools 10 development, a fork (900) and an archived repository (700)
- wayne (org with a company): platform 50000, Go, transitive runtime
- jdoe (user): dotfiles 20, pushed 400 days ago; blog 5, test only
- initech (org): ci 100, test only
- encode (org): the package's own owner, examples 2000
- umbrella (deleted org): app 100
- hooli (org with a Sponsors listing): search 400 build, ads 200 optional, Rust

By default (no forks, archived, development or test, nor the package's owner) that
is 4 organizations with 6 repositories: acme 2, wayne 1, jdoe 1, hooli 2.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from tests.builders import (
    create_dependency,
    create_organization,
    create_registry_package,
    create_repository,
)
from wump.core.config import Settings
from wump.main import create_app
from wump.models import (
    DependencySource,
    DependencyType,
    Organization,
    OwnerKind,
    Package,
    Repository,
)

NOW = datetime.now(UTC)


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    """The app without the anonymous rate limit.

    These tests make hundreds of anonymous reads a minute, and with Redis the
    limiter's counters are shared by every test of the run.
    """
    return create_app(
        settings.model_copy(update={"rate_limit_anonymous_per_minute": 1_000_000_000})
    )


@dataclass
class Graph:
    package: Package
    other_package: Package
    organizations: dict[str, Organization]
    repositories: dict[str, Repository]


async def build_graph(session: AsyncSession) -> Graph:
    httpx = await create_registry_package(
        session,
        ecosystem="pypi",
        name="httpx",
        repository_url="https://github.com/encode/httpx",
        funding_urls=[
            "https://github.com/sponsors/encode",
            {"url": "https://opencollective.com/encode"},
        ],
    )
    requests = await create_registry_package(session, ecosystem="pypi", name="requests")
    orgs = {
        "acme": await create_organization(
            session,
            login="acme",
            name="Acme Corp",
            is_verified=True,
            website_url="https://acme.example",
            sponsors_others_count=3,
        ),
        "wayne": await create_organization(
            session, login="Wayne", name="Wayne Enterprises", company="Wayne Enterprises"
        ),
        "jdoe": await create_organization(
            session, login="jdoe", name="Jane Doe", kind=OwnerKind.USER
        ),
        "initech": await create_organization(session, login="initech"),
        "encode": await create_organization(session, login="encode"),
        "umbrella": await create_organization(session, login="umbrella", deleted_at=NOW),
        "hooli": await create_organization(session, login="hooli", has_sponsors_listing=True),
    }
    repos: dict[str, Repository] = {}

    async def uses(
        owner: str,
        name: str,
        stars: int,
        *,
        dependency_type: DependencyType = DependencyType.RUNTIME,
        language: str | None = "Python",
        pushed_days_ago: int | None = 3,
        **fields: object,
    ) -> Repository:
        is_direct = bool(fields.pop("is_direct", True))
        repository = await create_repository(
            session,
            owner=orgs[owner],
            name=name,
            stars=stars,
            primary_language=language,
            pushed_at=None if pushed_days_ago is None else NOW - timedelta(days=pushed_days_ago),
            **fields,
        )
        await create_dependency(
            session,
            repository=repository,
            package=httpx,
            dependency_type=dependency_type,
            requirement=">=0.27",
            is_direct=is_direct,
            manifest_path="pyproject.toml",
            sources=DependencySource.MANIFEST.bit | DependencySource.SBOM.bit,
        )
        repos[repository.full_name] = repository
        return repository

    await uses("acme", "payments", 5000, pushed_days_ago=1)
    await uses("acme", "billing", 300)
    await uses("acme", "tools", 10, dependency_type=DependencyType.DEVELOPMENT, language="Go")
    await uses("acme", "httpx-fork", 900, is_fork=True)
    await uses("acme", "legacy", 700, is_archived=True)
    await uses("wayne", "platform", 50000, language="Go", pushed_days_ago=5, is_direct=False)
    await uses("jdoe", "dotfiles", 20, pushed_days_ago=400)
    await uses(
        "jdoe",
        "blog",
        5,
        dependency_type=DependencyType.TEST,
        language="JavaScript",
        pushed_days_ago=None,
    )
    await uses("initech", "ci", 100, dependency_type=DependencyType.TEST)
    await uses("encode", "httpx-examples", 2000)
    await uses("umbrella", "app", 100)
    await uses(
        "hooli",
        "search",
        400,
        dependency_type=DependencyType.BUILD,
        language="Rust",
        pushed_days_ago=2,
    )
    await uses("hooli", "ads", 200, dependency_type=DependencyType.OPTIONAL, language="Rust")
    # Another package's edge, which no httpx query may count.
    await create_dependency(session, repository=repos["acme/payments"], package=requests)
    await session.commit()
    return Graph(package=httpx, other_package=requests, organizations=orgs, repositories=repos)


@pytest.fixture
async def graph(session: AsyncSession) -> Graph:
    return await build_graph(session)
