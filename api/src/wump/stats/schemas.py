from datetime import datetime

from pydantic import BaseModel, Field

from wump.ingest.identity import Ecosystem
from wump.models import DependencySource


class EcosystemStats(BaseModel):
    ecosystem: Ecosystem
    packages: int = Field(examples=[120400])
    dependencies: int = Field(
        description="Repositories depending on its packages: the sum of the packages' "
        "`dependent_repositories_count` (edges whose owner is not deleted).",
        examples=[2100000],
    )


class SourceStats(BaseModel):
    source: DependencySource
    dependencies: int = Field(
        description="Edges this source reported (an edge may have several sources).",
        examples=[830000],
    )


class Stats(BaseModel):
    """What wump knows, in numbers."""

    packages: int = Field(examples=[310000])
    organizations: int = Field(description="Owners: organizations and users.", examples=[91000])
    repositories: int = Field(examples=[640000])
    dependencies: int = Field(
        description="Repository-to-package edges, all of them (deleted owners' included "
        "until they are purged).",
        examples=[5200000],
    )
    by_ecosystem: list[EcosystemStats]
    by_source: list[SourceStats]
    last_ingested_at: datetime | None = Field(
        description="When ingestion last recorded anything; `null` before the first run."
    )
