from datetime import datetime

from sqlalchemy import Boolean, Index, Integer, String, Text, UniqueConstraint, false, text
from sqlalchemy.orm import Mapped, mapped_column

from wump.models.base import Base, BigIntId, TimestampMixin
from wump.models.enums import OwnerKind


class Organization(TimestampMixin, Base):
    """The owner of repositories on a code host: a GitHub organization or a user."""

    __tablename__ = "organizations"
    __table_args__ = (
        # Logins are case-insensitive on GitHub; `login` keeps the owner's own spelling.
        UniqueConstraint("host", "login_key"),
        Index(None, "total_stars"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    host: Mapped[str] = mapped_column(String(64), default="github.com")
    login: Mapped[str] = mapped_column(String(255))
    login_key: Mapped[str] = mapped_column(String(255))
    kind: Mapped[OwnerKind] = mapped_column(String(16), default=OwnerKind.ORGANIZATION)

    name: Mapped[str | None] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    company: Mapped[str | None] = mapped_column(String(255))
    website_url: Mapped[str | None] = mapped_column(String(1024))
    email: Mapped[str | None] = mapped_column(String(320))
    location: Mapped[str | None] = mapped_column(String(255))
    is_verified: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    github_url: Mapped[str | None] = mapped_column(String(1024))

    sponsorship_url: Mapped[str | None] = mapped_column(String(1024))
    # None means "not known yet", which the ranking treats differently from False.
    has_sponsors_listing: Mapped[bool | None] = mapped_column(Boolean)
    sponsors_others_count: Mapped[int | None] = mapped_column(Integer)

    followers: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    public_repos: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    total_repositories: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    total_stars: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))

    enriched_at: Mapped[datetime | None]
    deleted_at: Mapped[datetime | None]
