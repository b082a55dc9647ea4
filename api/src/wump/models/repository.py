from datetime import datetime

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from wump.models.base import Base, BigIntId, TimestampMixin
from wump.models.organization import Organization


class Repository(TimestampMixin, Base):
    """A source repository; its dependencies are the edges of the graph."""

    __tablename__ = "repositories"
    __table_args__ = (
        UniqueConstraint("host", "full_name_key"),
        Index(None, "owner_id", "stars"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    host: Mapped[str] = mapped_column(String(64), default="github.com")
    owner_id: Mapped[int] = mapped_column(
        BigIntId, ForeignKey("organizations.id", ondelete="CASCADE")
    )
    name: Mapped[str] = mapped_column(String(255))
    full_name: Mapped[str] = mapped_column(String(512))
    full_name_key: Mapped[str] = mapped_column(String(512))
    html_url: Mapped[str | None] = mapped_column(String(1024))
    description: Mapped[str | None] = mapped_column(Text)
    stars: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    forks: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    is_fork: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    is_archived: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    primary_language: Mapped[str | None] = mapped_column(String(64))
    pushed_at: Mapped[datetime | None]
    default_branch: Mapped[str | None] = mapped_column(String(255))
    # The last ETag seen from the host, for conditional (free) refreshes.
    etag: Mapped[str | None] = mapped_column(String(255))
    scanned_at: Mapped[datetime | None]

    owner: Mapped[Organization] = relationship(lazy="raise")
