import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from wump.models.enums import ApiKeyTier


class Scope(StrEnum):
    READ = "read"
    ADMIN = "admin"


class ApiKeyCreate(BaseModel):
    name: str = Field(min_length=1, max_length=255, examples=["acme-dashboard"])
    tier: ApiKeyTier = ApiKeyTier.FREE
    scopes: list[Scope] = Field(default_factory=lambda: [Scope.READ], min_length=1)
    expires_in_days: int | None = Field(
        default=None, ge=1, le=3650, description="Days until the key expires; none for never."
    )
    rate_limit_per_minute: int | None = Field(
        default=None, ge=1, le=1_000_000, description="Overrides the tier's limit."
    )


class ApiKeyRotate(BaseModel):
    grace_hours: float = Field(
        default=24, ge=0, le=24 * 30, description="How long the old key keeps working."
    )


class ApiKeyRead(BaseModel):
    """A key as listed: never its secret."""

    id: uuid.UUID
    prefix: str = Field(description="The public id part of the key, `wump_<prefix>_…`.")
    name: str
    tier: ApiKeyTier
    scopes: list[str]
    rate_limit_per_minute: int | None
    created_by: str | None
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyRead):
    """A new key. `key` is shown this once and cannot be recovered: store it now."""

    key: str = Field(examples=["wump_ab12cd34_0tFh1Ck7W4u1m9yX3a5b7c9d1e3f5g7h9j1k3m5n7p9"])


class ApiKeyList(BaseModel):
    items: list[ApiKeyRead]
    total: int
