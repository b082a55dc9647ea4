from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Index, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from wump.models.base import Base, BigIntId, JSONType, TimestampMixin


class Package(TimestampMixin, Base):
    """A package in a registry, identified by its purl (`pkg:pypi/httpx`)."""

    __tablename__ = "packages"
    __table_args__ = (
        UniqueConstraint("purl"),
        UniqueConstraint("ecosystem", "normalized_name"),
        Index(None, "normalized_name"),
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
