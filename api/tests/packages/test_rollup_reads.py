"""The ranked view is read from `dependent_owners` and the package counters.

Every filter that only picks owners is answered by the precomputed rows; these
tests force the live GROUP BY path on the same data and require identical pages,
totals and cursors, and show which path answers by tampering with the rollup.
"""

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from tests.builders import (
    create_dependency,
    create_organization,
    create_registry_package,
    create_repository,
)
from tests.packages.conftest import Graph
from wump.core.config import Settings
from wump.core.pagination import PageParams
from wump.models import DependencyType, DependentOwner, OwnerKind, Package
from wump.packages import service
from wump.packages.schemas import DependentFilters, DependentSort, RepositorySort

DEPENDENTS = "/api/v1/packages/pypi/httpx/dependents"
OWNER_FILTERS: list[dict[str, Any]] = [
    {},
    {"kind": OwnerKind.USER},
    {"kind": OwnerKind.ORGANIZATION},
    {"exclude_owner": ["ACME", "nobody"]},
    {"include_package_owner": True},
    {"include_package_owner": True, "exclude_owner": ["hooli"], "kind": OwnerKind.ORGANIZATION},
]


async def _walk(
    session: AsyncSession,
    package: Package,
    settings: Settings,
    filters: DependentFilters,
    sort: DependentSort,
    *,
    limit: int,
) -> list[dict[str, Any]]:
    """Every page of one query, as the API would serialize them."""
    pages: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        query = service.DependentsQuery(filters, sort, 2, PageParams(limit, cursor))
        body = await service.dependents(session, package, query, settings=settings)
        pages.append(body.model_dump(mode="json"))
        cursor = body.next_cursor
        if cursor is None:
            return pages


async def _both_paths(
    monkeypatch: pytest.MonkeyPatch,
    session: AsyncSession,
    package: Package,
    settings: Settings,
    filters: DependentFilters,
    sort: DependentSort,
    *,
    limit: int,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    assert service.uses_rollup(filters)
    rollup = await _walk(session, package, settings, filters, sort, limit=limit)
    with monkeypatch.context() as patched:
        patched.setattr(service, "uses_rollup", lambda filters: False)
        live = await _walk(session, package, settings, filters, sort, limit=limit)
    return rollup, live


@pytest.mark.parametrize("sort", list(DependentSort))
@pytest.mark.parametrize("owner_filters", OWNER_FILTERS)
async def test_rollup_pages_equal_the_live_grouping(
    monkeypatch: pytest.MonkeyPatch,
    session: AsyncSession,
    settings: Settings,
    graph: Graph,
    sort: DependentSort,
    owner_filters: dict[str, Any],
) -> None:
    filters = DependentFilters(**owner_filters)

    rollup, live = await _both_paths(
        monkeypatch, session, graph.package, settings, filters, sort, limit=2
    )

    assert rollup == live
    assert sum(len(page["dependents"]) for page in rollup) == rollup[0]["total_organizations"]


@pytest.fixture
async def crowded(session: AsyncSession) -> Package:
    """31 owners whose inputs collide (scores, stars, counts, pushes), so ties decide pages."""
    package = await create_registry_package(session, ecosystem="npm", name="is-odd")
    pushed = datetime.now(UTC) - timedelta(days=1)
    for index in range(31):
        owner = await create_organization(
            session,
            login=f"crowd-{index:02d}",
            kind=OwnerKind.USER if index % 4 == 0 else OwnerKind.ORGANIZATION,
        )
        for number in range(1 + index % 3):
            repository = await create_repository(
                session,
                owner=owner,
                stars=(index % 2) * 10,
                pushed_at=None if index % 5 == 0 else pushed - timedelta(days=200 * (index % 2)),
                is_fork=number == 2 and index % 2 == 0,
            )
            await create_dependency(
                session,
                repository=repository,
                package=package,
                dependency_type=DependencyType.TEST if index % 7 == 0 else DependencyType.RUNTIME,
            )
    await session.commit()
    return package


@pytest.mark.parametrize("sort", list(DependentSort))
async def test_rollup_and_live_break_ties_alike_across_pages(
    monkeypatch: pytest.MonkeyPatch,
    session: AsyncSession,
    settings: Settings,
    crowded: Package,
    sort: DependentSort,
) -> None:
    rollup, live = await _both_paths(
        monkeypatch, session, crowded, settings, DependentFilters(), sort, limit=4
    )

    assert rollup == live
    logins = [item["organization"]["login"] for page in rollup for item in page["dependents"]]
    # Owners with only test dependencies (every 7th) have an empty ranked view.
    assert len(logins) == len(set(logins)) == 31 - 5


async def test_excluded_logins_are_subtracted_on_every_code_host(
    monkeypatch: pytest.MonkeyPatch, session: AsyncSession, settings: Settings, graph: Graph
) -> None:
    elsewhere = await create_organization(session, login="acme", host="gitlab.com")
    repository = await create_repository(session, owner=elsewhere, stars=5)
    await create_dependency(session, repository=repository, package=graph.package)
    await session.commit()
    package = await service.resolve(session, "pypi", "httpx")
    filters = DependentFilters(exclude_owner=["acme"])

    rollup, live = await _both_paths(
        monkeypatch, session, package, settings, filters, DependentSort.SCORE, limit=50
    )
    everyone = await _walk(
        session, package, settings, DependentFilters(), DependentSort.SCORE, limit=50
    )

    assert rollup == live
    assert (everyone[0]["total_organizations"], everyone[0]["total_repositories"]) == (5, 7)
    assert (rollup[0]["total_organizations"], rollup[0]["total_repositories"]) == (3, 4)


async def test_the_ranked_view_is_read_from_the_rollup_rows(
    client: httpx.AsyncClient, session: AsyncSession, graph: Graph
) -> None:
    """Tampered rollup rows show through the default view, not through other filters."""
    jdoe = graph.organizations["jdoe"]
    await session.execute(
        update(DependentOwner)
        .where(DependentOwner.package_id == graph.package.id, DependentOwner.owner_id == jdoe.id)
        .values(score=99.0, repositories=40)
    )
    await session.execute(
        update(Package)
        .where(Package.id == graph.package.id)
        .values(ranked_organizations_count=1000, ranked_repositories_count=5000)
    )
    await session.commit()

    ranked = (await client.get(DEPENDENTS)).json()
    live = (await client.get(DEPENDENTS, params={"include_archived": "true"})).json()

    assert ranked["dependents"][0]["organization"]["login"] == "jdoe"
    assert ranked["dependents"][0]["total_repositories"] == 40
    # The counters, minus the package's own owner (encode, 1 repository).
    assert (ranked["total_organizations"], ranked["total_repositories"]) == (999, 4999)
    assert live["dependents"][-1]["organization"]["login"] == "jdoe"
    assert (live["total_organizations"], live["total_repositories"]) == (4, 7)


async def test_owners_without_ranked_repositories_are_left_out(
    client: httpx.AsyncClient, graph: Graph
) -> None:
    """initech only tests with the package: its rollup row exists but ranks nothing."""
    body = (await client.get(DEPENDENTS, params={"include_package_owner": "true"})).json()
    flat = (
        await client.get(
            DEPENDENTS.replace("dependents", "repositories"),
            params={"include_package_owner": "true"},
        )
    ).json()

    logins = [item["organization"]["login"] for item in body["dependents"]]
    assert "initech" not in logins
    assert (body["total_organizations"], body["total_repositories"]) == (5, 7)
    assert flat["total"] == 7 == len(flat["items"])


@pytest.mark.parametrize("sort", list(RepositorySort))
@pytest.mark.parametrize("owner_filters", OWNER_FILTERS)
async def test_flat_list_totals_from_counters_equal_a_count(
    monkeypatch: pytest.MonkeyPatch,
    session: AsyncSession,
    graph: Graph,
    sort: RepositorySort,
    owner_filters: dict[str, Any],
) -> None:
    filters = DependentFilters(**owner_filters)
    page = PageParams(limit=3)

    counted = await service.dependent_repositories(session, graph.package, filters, sort, page)
    with monkeypatch.context() as patched:
        patched.setattr(service, "uses_rollup", lambda filters: False)
        live = await service.dependent_repositories(session, graph.package, filters, sort, page)

    assert counted.model_dump() == live.model_dump()
    assert counted.total >= len(counted.items)
