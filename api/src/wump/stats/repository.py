"""Catalogue-wide counts: table counts, and the packages' counters per ecosystem.

The per-source counts and the last ingestion time still read every edge; the
body is cached under the global generation, so that happens at most every 15 minutes.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from wump.models import (
    Dependency,
    DependencySource,
    JobExecution,
    JobStatus,
    Organization,
    Package,
    Repository,
)


def _count(model: Any, *conditions: Any) -> Any:
    return select(func.count()).select_from(model).where(*conditions).scalar_subquery()


class StatsRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def totals(self) -> RowMapping:
        statement = select(
            _count(Package).label("packages"),
            _count(Organization, Organization.deleted_at.is_(None)).label("organizations"),
            _count(Repository).label("repositories"),
            _count(Dependency).label("dependencies"),
        )
        return (await self.session.execute(statement)).mappings().one()

    async def by_ecosystem(self) -> dict[str, tuple[int, int]]:
        """Packages and their dependent repositories per ecosystem, from the counters."""
        statement = select(
            Package.ecosystem,
            func.count(),
            func.coalesce(func.sum(Package.dependent_repositories_count), 0),
        ).group_by(Package.ecosystem)
        rows = await self.session.execute(statement)
        return {ecosystem: (int(p), int(d)) for ecosystem, p, d in rows}

    async def by_source(self) -> dict[DependencySource, int]:
        sums = [
            func.coalesce(
                func.sum(case((Dependency.sources.bitwise_and(source.bit) != 0, 1), else_=0)), 0
            ).label(source.value)
            for source in DependencySource
        ]
        row = (await self.session.execute(select(*sums))).mappings().one()
        return {source: int(row[source.value]) for source in DependencySource}

    async def last_ingested_at(self) -> datetime | None:
        statement = select(
            select(func.max(Dependency.last_seen_at)).scalar_subquery(),
            select(func.max(Repository.scanned_at)).scalar_subquery(),
            select(func.max(JobExecution.completed_at))
            .where(
                JobExecution.job_type.like("ingest%"),
                JobExecution.status == JobStatus.COMPLETED.value,
            )
            .scalar_subquery(),
        )
        moments = (await self.session.execute(statement)).one()
        known = [moment for moment in moments if moment is not None]
        return max(known) if known else None
