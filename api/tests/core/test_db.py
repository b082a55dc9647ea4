"""The one-commit-per-request contract of `SessionDep` and `session_scope`."""

from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from wump.core.config import Settings
from wump.core.db import after_commit, create_engine, is_memory_sqlite, session_scope
from wump.core.deps import SessionDep
from wump.core.errors import Conflict
from wump.models import Package


def _package(name: str) -> Package:
    return Package(ecosystem="pypi", name=name, normalized_name=name, purl=f"pkg:pypi/{name}")


async def _exists(session: AsyncSession, name: str) -> bool:
    found = await session.scalar(select(Package.id).where(Package.normalized_name == name))
    return found is not None


@pytest.fixture
def routes(app: FastAPI) -> list[str]:
    events: list[str] = []

    async def record() -> None:
        events.append("after_commit")

    @app.post("/t/ok")
    async def ok(session: SessionDep) -> dict[str, str]:
        session.add(_package("committed"))
        after_commit(session, record)
        return {"ok": "yes"}

    @app.post("/t/fails")
    async def fails(session: SessionDep) -> None:
        session.add(_package("rolled-back"))
        await session.flush()
        after_commit(session, record)
        raise Conflict("nope")

    return events


async def test_request_commits_when_handler_succeeds(
    routes: list[str], client: httpx.AsyncClient, session: AsyncSession
) -> None:
    response = await client.post("/t/ok")

    assert response.status_code == 200
    assert await _exists(session, "committed")
    assert routes == ["after_commit"]


async def test_request_rolls_back_and_drops_callbacks_when_handler_fails(
    routes: list[str], client: httpx.AsyncClient, session: AsyncSession
) -> None:
    response = await client.post("/t/fails")

    assert response.status_code == 409
    assert not await _exists(session, "rolled-back")
    assert routes == []


async def test_failing_after_commit_callback_does_not_undo_the_commit(
    sessionmaker: async_sessionmaker[AsyncSession], session: AsyncSession
) -> None:
    async def broken() -> None:
        raise RuntimeError("cache down")

    async with session_scope(sessionmaker) as scoped:
        scoped.add(_package("kept"))
        after_commit(scoped, broken)

    assert await _exists(session, "kept")


async def test_session_scope_reraises_and_rolls_back(
    sessionmaker: async_sessionmaker[AsyncSession], session: AsyncSession
) -> None:
    async def write_then_fail() -> None:
        async with session_scope(sessionmaker) as scoped:
            scoped.add(_package("half-written"))
            await scoped.flush()
            raise ValueError("bad row")

    with pytest.raises(ValueError, match="bad row"):
        await write_then_fail()

    assert not await _exists(session, "half-written")


@pytest.mark.parametrize(
    ("url", "memory"),
    [
        ("sqlite+aiosqlite://", True),
        ("sqlite+aiosqlite:///:memory:", True),
        ("sqlite+aiosqlite:///./wump.db", False),
        ("postgresql+asyncpg://u@h/db", False),
    ],
)
def test_memory_sqlite_detection(url: str, memory: bool) -> None:
    assert is_memory_sqlite(url) is memory


async def test_sqlite_file_engine_enforces_foreign_keys_and_wal(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, database_url=f"sqlite+aiosqlite:///{tmp_path}/x.db")
    engine = create_engine(settings)
    async with engine.connect() as connection:
        foreign_keys = (await connection.exec_driver_sql("PRAGMA foreign_keys")).scalar()
        journal = (await connection.exec_driver_sql("PRAGMA journal_mode")).scalar()
    await engine.dispose()
    assert foreign_keys == 1
    assert journal == "wal"
