from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Index, Integer, String, Text, UniqueConstraint, false, text
from sqlalchemy.orm import Mapped, mapped_column

from wump.models.base import Base, BigIntId, JSONType, TimestampMixin


class Package(TimestampMixin, Base):
    """A package in a registry, identified by its purl (`pkg:pypi/httpx`)."""

    __tablename__ = "packages"
    __table_args__ = (
        UniqueConstraint("purl"),
        UniqueConstraint("ecosystem", "normalized_name"),
        Index(None, "normalized_name"),
        Index(None, "dependent_repositories_count", "id"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    ecosystem: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(512))
    # The registry's own canonical form (PEP 503 for PyPI, lower case for NuGet, ...).
    normalized_name: Mapped[str] = mapped_column(String(512))
    purl: Mapped[str] = mapped_column(String(1024))
    description: Mapped[str | None] = mapped_column(Text)
    repository_url: Mapped[str | None] = mapped_column(String(1024))
    homepage_url: Mapped[str | None] = mapped_column(String(1024))
    latest_version: Mapped[str | None] = mapped_column(String(256))
    funding_urls: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    # Tracked packages, and those asked about recently, are refreshed on a schedule.
    is_tracked: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    last_requested_at: Mapped[datetime | None]
    # Maintained with `dependent_owners` (see `wump.rollups`), so no read counts edges.
    # Every edge of a live owner:
    dependent_repositories_count: Mapped[int] = mapped_column(
        Integer, default=0, server_default=text("0")
    )
    dependent_organizations_count: Mapped[int] = mapped_column(
        Integer, default=0, server_default=text("0")
    )
    # The ranked view of `/dependents` (no dev/test types, forks or archived repositories):
    ranked_repositories_count: Mapped[int] = mapped_column(
        Integer, default=0, server_default=text("0")
    )
    ranked_organizations_count: Mapped[int] = mapped_column(
        Integer, default=0, server_default=text("0")
    )
