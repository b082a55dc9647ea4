import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from wump.models.base import Base, JSONType, TimestampMixin
from wump.models.enums import ApiKeyTier


class ApiKey(TimestampMixin, Base):
    """An API key. Only a hash of the secret is stored; the key is shown once."""

    __tablename__ = "api_keys"
    __table_args__ = (UniqueConstraint("prefix"), UniqueConstraint("key_hash"))

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    # The public id part of the key (`wump_<prefix>_<secret>`), used for lookup.
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(255))
    tier: Mapped[ApiKeyTier] = mapped_column(String(16), default=ApiKeyTier.FREE)
    # Overrides the tier's limit when set.
    rate_limit_per_minute: Mapped[int | None] = mapped_column(Integer)
    scopes: Mapped[list[Any]] = mapped_column(JSONType, default=lambda: ["read"])
    created_by: Mapped[str | None] = mapped_column(String(255))
    expires_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
