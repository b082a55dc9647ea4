"""The catalogue in numbers, cached under the global generation that ingestion bumps."""

from sqlalchemy.ext.asyncio import AsyncSession

from wump.ingest.identity import Ecosystem
from wump.models import DependencySource
from wump.stats.repository import StatsRepository
from wump.stats.schemas import EcosystemStats, SourceStats, Stats


async def stats(session: AsyncSession) -> Stats:
    repository = StatsRepository(session)
    totals = await repository.totals()
    ecosystems = await repository.by_ecosystem()
    sources = await repository.by_source()
    return Stats(
        packages=totals["packages"],
        organizations=totals["organizations"],
        repositories=totals["repositories"],
        dependencies=totals["dependencies"],
        by_ecosystem=[
            EcosystemStats(
                ecosystem=ecosystem,
                packages=ecosystems.get(ecosystem.value, (0, 0))[0],
                dependencies=ecosystems.get(ecosystem.value, (0, 0))[1],
            )
            for ecosystem in Ecosystem
        ],
        by_source=[
            SourceStats(source=source, dependencies=sources[source]) for source in DependencySource
        ],
        last_ingested_at=await repository.last_ingested_at(),
    )
