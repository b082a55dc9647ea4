"""The database side: the API's own statements replayed raw, the naive approach, EXPLAIN.

The statements are captured, not rewritten: the service functions run in-process
against the benchmark database while a cursor hook records every statement and
its parameters; asyncpg then replays exactly those, which is the floor any API
answer built on them can reach.
"""

import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bench.perf.driver import percentile
from bench.perf.ingest import connect
from wump.core.config import Settings
from wump.core.pagination import PageParams
from wump.models import Dependency, DependencyType, Organization, Repository
from wump.packages import service
from wump.packages.schemas import DependentFilters, DependentSort, RepositorySort

PAGE = 50
DEFAULT_TYPES = [
    t.value for t in DependencyType if t not in (DependencyType.DEVELOPMENT, DependencyType.TEST)
]


@dataclass
class Captured:
    statements: list[tuple[str, tuple[Any, ...]]]
    next_cursor: str | None
    seconds: float
    cursor: str | None = None


async def capture(
    engine: AsyncEngine, settings: Settings, name: str, endpoint: str, cursor: str | None
) -> Captured:
    """Run the service for one page as the router does, recording the SQL it sends."""
    recorded: list[tuple[str, tuple[Any, ...]]] = []

    def record(conn: Any, cursor_: Any, statement: str, parameters: Any, *_: Any) -> None:
        recorded.append((statement, tuple(parameters or ())))

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        async with AsyncSession(engine, expire_on_commit=False) as session:
            started = time.perf_counter()
            next_cursor = await service_page(session, settings, name, endpoint, cursor)
            elapsed = time.perf_counter() - started
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)
    return Captured(recorded, next_cursor, elapsed, cursor)


async def service_page(
    session: AsyncSession, settings: Settings, name: str, endpoint: str, cursor: str | None
) -> str | None:
    """One page through wump's service functions, as the router calls them; its next cursor."""
    package = await service.resolve(session, "pypi", name)
    page = PageParams(PAGE, cursor)
    if endpoint == "dependents":
        query = service.DependentsQuery(DependentFilters(), DependentSort.SCORE, 5, page)
        return (await service.dependents(session, package, query, settings=settings)).next_cursor
    listing = await service.dependent_repositories(
        session, package, DependentFilters(), RepositorySort.STARS, page
    )
    return listing.next_cursor


async def replay(
    url: str, statements: list[tuple[str, tuple[Any, ...]]], rounds: int
) -> dict[str, Any]:
    """Per-answer DB time: all of the answer's statements back to back, `rounds` times."""
    connection = await connect(url)
    totals: list[float] = []
    slowest: dict[int, float] = {}
    try:
        for _ in range(rounds):
            total = 0.0
            for index, (sql, params) in enumerate(statements):
                started = time.perf_counter()
                await connection.fetch(sql, *params)
                took = time.perf_counter() - started
                slowest[index] = slowest.get(index, 0.0) + took
                total += took
            totals.append(total * 1000)
    finally:
        await connection.close()
    heaviest = max(slowest, key=slowest.__getitem__) if slowest else 0
    return {
        "statements": len(statements),
        "p50_ms": round(statistics.median(totals), 3),
        "p99_ms": round(percentile(totals, 0.99), 3),
        "heaviest_statement": heaviest,
    }


async def explain(url: str, sql: str, params: tuple[Any, ...]) -> str:
    connection = await connect(url)
    try:
        rows = await connection.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", *params)
    finally:
        await connection.close()
    return "\n".join(row[0] for row in rows)


def _edges_of(package_id: int) -> list[Any]:
    return [
        Dependency.package_id == package_id,
        Dependency.dependency_type.in_(DEFAULT_TYPES),
        Repository.is_fork.is_(False),
        Repository.is_archived.is_(False),
    ]


async def naive_dependents(session: AsyncSession, package_id: int, offset: int) -> int:
    """A live GROUP BY over the fan-out, OFFSET paging, then each organization's ORM rows."""
    conditions = _edges_of(package_id)
    grouped = (
        select(Organization, func.count(Repository.id), func.sum(Repository.stars))
        .join(Repository, Repository.owner_id == Organization.id)
        .join(Dependency, Dependency.repository_id == Repository.id)
        .where(*conditions)
        .group_by(Organization.id)
    )
    total = (await session.execute(select(func.count()).select_from(grouped.subquery()))).scalar()
    page = (
        await session.execute(
            grouped.order_by(func.sum(Repository.stars).desc(), Organization.id)
            .offset(offset)
            .limit(PAGE)
        )
    ).all()
    for organization, _, _ in page:
        # N+1: each organization's repositories that use the package, as ORM objects.
        (
            await session.scalars(
                select(Repository)
                .join(Dependency, Dependency.repository_id == Repository.id)
                .where(*conditions, Repository.owner_id == organization.id)
                .order_by(Repository.stars.desc())
                .limit(5)
            )
        ).all()
    return int(total or 0)


async def naive_repositories(session: AsyncSession, package_id: int, offset: int) -> int:
    """ORM rows of the dependent repositories, OFFSET paging, a COUNT(*) for the total."""
    conditions = _edges_of(package_id)
    base = select(Repository).join(Dependency, Dependency.repository_id == Repository.id)
    total = (
        await session.execute(select(func.count()).select_from(base.where(*conditions).subquery()))
    ).scalar()
    (
        await session.scalars(
            base.where(*conditions)
            .order_by(Repository.stars.desc(), Repository.id)
            .offset(offset)
            .limit(PAGE)
        )
    ).all()
    return int(total or 0)


async def timed(
    engine: AsyncEngine, call: Callable[[AsyncSession], Awaitable[object]], rounds: int
) -> dict[str, float]:
    times = []
    for _ in range(rounds):
        async with AsyncSession(engine, expire_on_commit=False) as session:
            started = time.perf_counter()
            await call(session)
            times.append((time.perf_counter() - started) * 1000)
    return {"p50_ms": round(statistics.median(times), 3), "p99_ms": round(max(times), 3)}
