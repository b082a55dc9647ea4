import uuid
from datetime import timedelta

from fastapi import APIRouter, status

from wump.auth import service
from wump.auth.dependencies import CallerDep, require_scope
from wump.auth.repository import ApiKeyRepository
from wump.auth.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyList, ApiKeyRead, ApiKeyRotate
from wump.core.deps import SessionDep, SettingsDep
from wump.core.errors import problem_responses
from wump.models.base import utcnow

router = APIRouter(
    prefix="/admin/keys",
    tags=["admin"],
    dependencies=[require_scope("admin")],
    responses=problem_responses(401, 403, 429),
)


def _created(issued: service.IssuedKey) -> ApiKeyCreated:
    read = ApiKeyRead.model_validate(issued.record, from_attributes=True)
    return ApiKeyCreated(**read.model_dump(), key=issued.plaintext)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ApiKeyCreated,
    summary="Create an API key",
    responses=problem_responses(422),
)
async def create_key(
    body: ApiKeyCreate, session: SessionDep, settings: SettingsDep, caller: CallerDep
) -> ApiKeyCreated:
    """Create a key. The response is the only time the full key is shown: only a
    hash of its secret is stored, so store the `key` value now."""
    expires_at = utcnow() + timedelta(days=body.expires_in_days) if body.expires_in_days else None
    issued = await service.create(
        session,
        pepper=settings.api_key_pepper,
        name=body.name,
        tier=body.tier,
        scopes=body.scopes,
        expires_at=expires_at,
        rate_limit_per_minute=body.rate_limit_per_minute,
        created_by=f"key:{caller.key.prefix}" if caller.key else None,
    )
    return _created(issued)


@router.get("", response_model=ApiKeyList, summary="List API keys")
async def list_keys(session: SessionDep, include_revoked: bool = False) -> ApiKeyList:
    """Every key with its metadata — never its secret. Revoked keys are left out
    unless `include_revoked=true`."""
    records = await ApiKeyRepository(session).all(include_revoked=include_revoked)
    items = [ApiKeyRead.model_validate(record, from_attributes=True) for record in records]
    return ApiKeyList(items=items, total=len(items))


@router.delete(
    "/{key_id}",
    response_model=ApiKeyRead,
    summary="Revoke an API key",
    responses=problem_responses(404),
)
async def revoke_key(key_id: uuid.UUID, session: SessionDep) -> ApiKeyRead:
    """Revoke a key at once. Revoking an already revoked key changes nothing."""
    record = await service.revoke(session, key_id)
    return ApiKeyRead.model_validate(record, from_attributes=True)


@router.post(
    "/{key_id}/rotate",
    status_code=status.HTTP_201_CREATED,
    response_model=ApiKeyCreated,
    summary="Rotate an API key",
    responses=problem_responses(404, 422),
)
async def rotate_key(
    key_id: uuid.UUID, session: SessionDep, settings: SettingsDep, body: ApiKeyRotate | None = None
) -> ApiKeyCreated:
    """Issue a replacement key with the same name, tier and scopes. The old key
    keeps working until `grace_hours` (default 24) have passed, so clients can
    switch without downtime. The new key is shown once."""
    grace = timedelta(hours=(body or ApiKeyRotate()).grace_hours)
    issued = await service.rotate(session, key_id, pepper=settings.api_key_pepper, grace=grace)
    return _created(issued)
