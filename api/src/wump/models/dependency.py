from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, text, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from wump.models.base import Base, BigIntId, utcnow
from wump.models.enums import DependencySource, DependencyType
from wump.models.package import Package
from wump.models.repository import Repository


class Dependency(Base):
    """The edge repository -> package. One row per pair, so a repository counts once.

    `sources` is a bit mask of every source that reported the edge (see
    `DependencySource.bit`); `source` names the one whose details (requirement,
    type, manifest) are stored. Re-scanning one source clears only its own bit.
    """

    __tablename__ = "dependencies"
    __table_args__ = (
        # Backward scans serve the flat list, most starred first, and its keyset pages.
        Index(None, "package_id", "stars", "repository_id"),
        # One owner's edges of a package: the repositories nested in a dependents page,
        # and the rows a rollup refresh reads.
        Index(None, "package_id", "owner_id", "stars", "repository_id"),
        # Every re-ingest rewrites each edge it sees (`last_seen_at`): free room on
        # the page lets the update stay there, with no new index entries (migration
        # 0003 explains the figures).
        {"postgresql_with": {"fillfactor": 70}},
    )

    repository_id: Mapped[int] = mapped_column(
        BigIntId, ForeignKey("repositories.id", ondelete="CASCADE"), primary_key=True
    )
    package_id: Mapped[int] = mapped_column(
        BigIntId, ForeignKey("packages.id", ondelete="CASCADE"), primary_key=True
    )
    requirement: Mapped[str | None] = mapped_column(String(512))
    dependency_type: Mapped[DependencyType] = mapped_column(
        String(16), default=DependencyType.RUNTIME
    )
    is_direct: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    manifest_path: Mapped[str | None] = mapped_column(String(1024))
    source: Mapped[DependencySource] = mapped_column(String(32))
    sources: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Copies of the repository's owner and stars, so that a package's edges sort and
    # group without a join: the loader writes them and keeps `stars` current.
    owner_id: Mapped[int] = mapped_column(BigIntId)
    stars: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))

    repository: Mapped[Repository] = relationship(lazy="raise")
    package: Mapped[Package] = relationship(lazy="raise")
