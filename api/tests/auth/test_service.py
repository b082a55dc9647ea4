from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.auth.conftest import KeyFactory
from wump.auth import service
from wump.auth.schemas import Scope
from wump.core.config import Settings
from wump.core.errors import NotFound
from wump.models.base import utcnow


async def test_created_key_authenticates_and_stores_only_a_hash(
    session: AsyncSession, settings: Settings, issue_key: KeyFactory
) -> None:
    issued = await issue_key()

    assert issued.plaintext not in issued.record.key_hash
    # The secret is base64url, which has underscores of its own.
    assert issued.plaintext.split("_", 2)[2] not in issued.record.key_hash
    found = await service.authenticate(session, issued.plaintext, pepper=settings.api_key_pepper)
    assert found is not None
    assert found.id == issued.record.id


async def test_wrong_secret_unknown_id_and_garbage_do_not_authenticate(
    session: AsyncSession, settings: Settings, issue_key: KeyFactory
) -> None:
    issued = await issue_key()
    key_id = issued.record.prefix
    wrong_secret = f"wump_{key_id}_{'A' * 43}"
    unknown_id = f"wump_zzzzzzzz_{issued.plaintext.split('_', 2)[2]}"

    for raw in (wrong_secret, unknown_id, "garbage", ""):
        assert await service.authenticate(session, raw, pepper=settings.api_key_pepper) is None


async def test_revoked_and_expired_keys_stop_working(
    session: AsyncSession, settings: Settings, issue_key: KeyFactory
) -> None:
    revoked = await issue_key()
    expired = await issue_key()
    await service.revoke(session, revoked.record.id)
    expired.record.expires_at = utcnow() - timedelta(seconds=1)
    await session.flush()

    for issued in (revoked, expired):
        assert (
            await service.authenticate(session, issued.plaintext, pepper=settings.api_key_pepper)
            is None
        )


async def test_rotation_keeps_the_old_key_working_until_the_grace_ends(
    session: AsyncSession, settings: Settings, issue_key: KeyFactory
) -> None:
    old = await issue_key(scopes=(Scope.READ, Scope.ADMIN))

    new = await service.rotate(
        session, old.record.id, pepper=settings.api_key_pepper, grace=timedelta(hours=24)
    )

    assert new.plaintext != old.plaintext
    assert new.record.scopes == ["admin", "read"]
    assert new.record.name == old.record.name
    assert old.record.expires_at is not None
    assert timedelta(hours=23) < old.record.expires_at - utcnow() <= timedelta(hours=24)
    for issued in (old, new):
        assert await service.authenticate(session, issued.plaintext, pepper=settings.api_key_pepper)
    old.record.expires_at = utcnow() - timedelta(seconds=1)  # the grace period has passed
    assert not await service.authenticate(session, old.plaintext, pepper=settings.api_key_pepper)
    assert await service.authenticate(session, new.plaintext, pepper=settings.api_key_pepper)


async def test_last_used_is_written_at_most_once_a_minute(
    session: AsyncSession, settings: Settings, issue_key: KeyFactory
) -> None:
    issued = await issue_key()

    first = await service.authenticate(session, issued.plaintext, pepper=settings.api_key_pepper)
    assert first is not None
    assert first.last_used_at is not None
    stamp = first.last_used_at
    again = await service.authenticate(session, issued.plaintext, pepper=settings.api_key_pepper)
    assert again is not None
    assert again.last_used_at == stamp

    again.last_used_at = stamp - service.LAST_USED_RESOLUTION
    later = await service.authenticate(session, issued.plaintext, pepper=settings.api_key_pepper)
    assert later is not None
    assert later.last_used_at is not None
    assert later.last_used_at > stamp - service.LAST_USED_RESOLUTION


async def test_missing_key_is_not_found(session: AsyncSession) -> None:
    import uuid

    with pytest.raises(NotFound):
        await service.revoke(session, uuid.uuid4())
