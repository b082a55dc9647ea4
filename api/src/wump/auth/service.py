"""Key lifecycle and authentication. Decisions live here; callers commit."""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from wump.auth import keys
from wump.auth.repository import ApiKeyRepository
from wump.auth.schemas import Scope
from wump.core.errors import NotFound
from wump.models import ApiKey, ApiKeyTier
from wump.models.base import utcnow

# `last_used_at` is refreshed at most this often, so reads don't become writes.
LAST_USED_RESOLUTION = timedelta(minutes=1)
# Compared against when the id is unknown, so a miss costs what a hit costs.
_DUMMY_HASH = keys.hash_secret("x" * 43, "timing")


@dataclass(frozen=True, slots=True)
class IssuedKey:
    record: ApiKey
    plaintext: str


async def create(
    session: AsyncSession,
    *,
    pepper: str,
    name: str,
    tier: ApiKeyTier,
    scopes: list[Scope],
    expires_at: datetime | None = None,
    rate_limit_per_minute: int | None = None,
    created_by: str | None = None,
) -> IssuedKey:
    repository = ApiKeyRepository(session)
    new = keys.generate()
    while await repository.by_prefix(new.key_id) is not None:  # 36^8 ids: rare, but possible
        new = keys.generate()
    record = await repository.add(
        ApiKey(
            prefix=new.key_id,
            key_hash=keys.hash_secret(new.secret, pepper),
            name=name,
            tier=tier,
            scopes=sorted({scope.value for scope in scopes}),
            expires_at=expires_at,
            rate_limit_per_minute=rate_limit_per_minute,
            created_by=created_by,
        )
    )
    return IssuedKey(record=record, plaintext=new.plaintext)


async def get(session: AsyncSession, key_id: uuid.UUID) -> ApiKey:
    record = await ApiKeyRepository(session).get(key_id)
    if record is None:
        raise NotFound(f"No API key with id {key_id}.")
    return record


async def revoke(session: AsyncSession, key_id: uuid.UUID) -> ApiKey:
    record = await get(session, key_id)
    if record.revoked_at is None:
        record.revoked_at = utcnow()
        await session.flush()
    return record


async def rotate(
    session: AsyncSession, key_id: uuid.UUID, *, pepper: str, grace: timedelta
) -> IssuedKey:
    """Issue a replacement; the old key keeps working until the grace period ends."""
    old = await get(session, key_id)
    if old.revoked_at is not None:
        raise NotFound(f"API key {key_id} is revoked and cannot be rotated.")
    issued = await create(
        session,
        pepper=pepper,
        name=old.name,
        tier=ApiKeyTier(old.tier),
        scopes=[Scope(scope) for scope in old.scopes],
        expires_at=old.expires_at,
        rate_limit_per_minute=old.rate_limit_per_minute,
        created_by=old.created_by,
    )
    grace_end = utcnow() + grace
    old.expires_at = min(old.expires_at, grace_end) if old.expires_at else grace_end
    await session.flush()
    return issued


def is_active(record: ApiKey, now: datetime) -> bool:
    if record.revoked_at is not None:
        return False
    return record.expires_at is None or record.expires_at > now


async def authenticate(session: AsyncSession, raw: str, *, pepper: str) -> ApiKey | None:
    """The active key for `raw`, or None. Every failure looks and takes the same."""
    parts = keys.split(raw)
    key_id, secret = parts if parts else ("", "x" * 43)
    # A malformed key is looked up too (as an id that cannot exist), so that it
    # takes as long to refuse as an unknown one.
    record = await ApiKeyRepository(session).by_prefix(key_id)
    valid = keys.matches(secret, record.key_hash if record else _DUMMY_HASH, pepper)
    now = utcnow()
    if record is None or not valid or not is_active(record, now):
        return None
    if record.last_used_at is None or now - record.last_used_at >= LAST_USED_RESOLUTION:
        record.last_used_at = now
        await session.flush()
    return record
