"""The small base that entity repositories hold (composition, not inheritance).

Entity repositories build statements; this executes them. The one piece of
dialect-specific SQL, the bulk upsert, is here with a path for each database.
"""

from collections.abc import Sequence
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from wump.models.base import Base

M = TypeVar("M", bound=Base)

# SQLite allows 32,766 bound parameters per statement; stay well under it.
_SQLITE_MAX_PARAMS = 30_000


class Repository(Generic[M]):
    def __init__(self, session: AsyncSession, model: type[M]) -> None:
        self.session = session
        self.model = model

    @property
    def dialect(self) -> str:
        return self.session.get_bind().dialect.name

    async def one_or_none(self, statement: Select[M]) -> M | None:
        result = await self.session.execute(statement)
        return result.scalars().unique().one_or_none()

    async def all(self, statement: Select[M]) -> Sequence[M]:
        result = await self.session.execute(statement)
        return result.scalars().unique().all()

    async def count(self, statement: Select[Any]) -> int:
        counted = select(func.count()).select_from(statement.order_by(None).subquery())
        return int((await self.session.execute(counted)).scalar_one())

    async def get(self, id_: object) -> M | None:
        return await self.session.get(self.model, id_)

    async def add(self, instance: M) -> M:
        self.session.add(instance)
        await self.session.flush()
        return instance

    async def upsert_many(
        self,
        rows: Sequence[dict[str, Any]],
        *,
        conflict_columns: Sequence[str],
        update_columns: Sequence[str],
    ) -> None:
        """INSERT ... ON CONFLICT DO UPDATE on either database, batched for SQLite."""
        if not rows:
            return
        insert = postgresql.insert if self.dialect == "postgresql" else sqlite.insert
        batch = max(1, _SQLITE_MAX_PARAMS // max(1, len(rows[0])))
        for start in range(0, len(rows), batch):
            statement = insert(self.model).values(list(rows[start : start + batch]))
            excluded = statement.excluded
            if update_columns:
                statement = statement.on_conflict_do_update(
                    index_elements=list(conflict_columns),
                    set_={column: excluded[column] for column in update_columns},
                )
            else:
                statement = statement.on_conflict_do_nothing(index_elements=list(conflict_columns))
            await self.session.execute(statement)
