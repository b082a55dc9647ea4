import uuid
from collections.abc import Sequence

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from wump.core.repository import Repository
from wump.models import ApiKey


class ApiKeyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._base = Repository(session, ApiKey)

    def statement(self) -> Select[ApiKey]:
        return select(ApiKey).order_by(ApiKey.created_at, ApiKey.id)

    async def by_prefix(self, prefix: str) -> ApiKey | None:
        return await self._base.one_or_none(select(ApiKey).where(ApiKey.prefix == prefix))

    async def get(self, key_id: uuid.UUID) -> ApiKey | None:
        return await self._base.get(key_id)

    async def all(self, *, include_revoked: bool) -> Sequence[ApiKey]:
        statement = self.statement()
        if not include_revoked:
            statement = statement.where(ApiKey.revoked_at.is_(None))
        return await self._base.all(statement)

    async def add(self, key: ApiKey) -> ApiKey:
        return await self._base.add(key)
