"""Typed async builders for test data. Every argument has a sensible default."""

import itertools
from datetime import datetime
from typing import Any

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession

from wump.core.config import ScoringWeights
from wump.ingest.identity import PackageIdentity
from wump.models import (
    Dependency,
    DependencySource,
    DependencyType,
    DependentOwner,
    Organization,
    OwnerKind,
    Package,
    Repository,
)
from wump.models.base import utcnow
from wump.rollups.service import Rollups

_counter = itertools.count(1)


def _next() -> int:
    return next(_counter)


async def create_package(
    session: AsyncSession,
    *,
    ecosystem: str = "pypi",
    name: str | None = None,
    normalized_name: str | None = None,
    **fields: Any,
) -> Package:
    name = name or f"package-{_next()}"
    normalized = normalized_name or name.lower()
    package = Package(
        ecosystem=ecosystem,
        name=name,
        normalized_name=normalized,
        purl=fields.pop("purl", f"pkg:{ecosystem}/{normalized}"),
        **fields,
    )
    session.add(package)
    await session.flush()
    return package


async def create_organization(
    session: AsyncSession,
    *,
    login: str | None = None,
    kind: OwnerKind = OwnerKind.ORGANIZATION,
    **fields: Any,
) -> Organization:
    login = login or f"org-{_next()}"
    organization = Organization(
        host=fields.pop("host", "github.com"),
        login=login,
        login_key=login.lower(),
        kind=kind,
        github_url=fields.pop("github_url", f"https://github.com/{login}"),
        **fields,
    )
    session.add(organization)
    await session.flush()
    return organization


async def create_repository(
    session: AsyncSession,
    *,
    owner: Organization | None = None,
    name: str | None = None,
    stars: int = 0,
    **fields: Any,
) -> Repository:
    owner = owner or await create_organization(session)
    name = name or f"repo-{_next()}"
    full_name = f"{owner.login}/{name}"
    repository = Repository(
        host=owner.host,
        owner_id=owner.id,
        name=name,
        full_name=full_name,
        full_name_key=full_name.lower(),
        html_url=f"https://github.com/{full_name}",
        stars=stars,
        **fields,
    )
    session.add(repository)
    await session.flush()
    return repository


async def create_dependency(
    session: AsyncSession,
    *,
    repository: Repository,
    package: Package,
    dependency_type: DependencyType = DependencyType.RUNTIME,
    source: DependencySource = DependencySource.MANIFEST,
    first_seen_at: datetime | None = None,
    **fields: Any,
) -> Dependency:
    seen = first_seen_at or utcnow()
    dependency = Dependency(
        repository_id=repository.id,
        package_id=package.id,
        owner_id=repository.owner_id,
        stars=repository.stars,
        dependency_type=dependency_type,
        source=source,
        sources=fields.pop("sources", source.bit),
        first_seen_at=seen,
        last_seen_at=fields.pop("last_seen_at", seen),
        **fields,
    )
    session.add(dependency)
    await session.flush()
    await Rollups(session, ScoringWeights()).refresh({(package.id, repository.owner_id)})
    return dependency


async def refresh_rollups(session: AsyncSession) -> None:
    """Recompute edge copies, `dependent_owners` and the package counters from scratch,
    for tests that change repositories or owners behind the loader's back."""
    await session.flush()
    await session.execute(
        update(Dependency)
        .where(Dependency.repository_id == Repository.id)
        .values(owner_id=Repository.owner_id, stars=Repository.stars)
        .execution_options(synchronize_session=False)
    )
    await Rollups(session, ScoringWeights()).rebuild()
    session.expire_all()


async def create_registry_package(
    session: AsyncSession, *, ecosystem: str = "pypi", name: str | None = None, **fields: Any
) -> Package:
    """A package whose normalized name and purl follow the registry's rules, as ingestion
    stores them (`Flask_SQLAlchemy` -> `flask-sqlalchemy`, `pkg:pypi/flask-sqlalchemy`)."""
    identity = PackageIdentity.of(ecosystem, name or f"package-{_next()}")
    return await create_package(
        session,
        ecosystem=identity.ecosystem.value,
        name=identity.name,
        normalized_name=identity.normalized_name,
        purl=identity.purl,
        **fields,
    )


async def empty_graph(session: AsyncSession) -> None:
    """Start from no graph at all, inside the test's own transaction (rolled back after it).

    For tests that compare whole tables: in the integration lane, tests that run real
    worker processes commit rows that every later test can see.
    """
    for model in (DependentOwner, Dependency, Repository, Package, Organization):
        await session.execute(delete(model))
    await session.flush()
