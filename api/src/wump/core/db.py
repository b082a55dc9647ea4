"""Engine and session handling: the one place that commits.

A request (or job) gets one `AsyncSession`. Services and repositories only
`flush()`; `session_scope` commits once at the end, or rolls back on error.
Work that must only happen after a successful commit (cache invalidation,
enqueueing jobs) is registered with `after_commit` and runs once the commit
has succeeded.
"""

import math
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import structlog
from sqlalchemy import Connection, event
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry, StaticPool

from wump.core.config import Settings

log = structlog.get_logger(__name__)

AfterCommit = Callable[[], Awaitable[None]]
_AFTER_COMMIT_KEY = "wump.after_commit"


def is_memory_sqlite(url: str) -> bool:
    if not url.startswith("sqlite"):
        return False
    return ":memory:" in url or url.rstrip("/").endswith(":")


def create_engine(settings: Settings) -> AsyncEngine:
    url = settings.database_url
    kwargs: dict[str, Any] = {
        "echo": settings.database_echo,
        "pool_pre_ping": not settings.is_sqlite,
    }
    if is_memory_sqlite(url):
        # One shared connection, or every checkout would see its own empty database.
        kwargs |= {"poolclass": StaticPool, "connect_args": {"check_same_thread": False}}
    elif settings.is_sqlite:
        kwargs |= {"connect_args": {"timeout": 30}}
    else:
        kwargs |= {
            "pool_size": settings.database_pool_size,
            "max_overflow": settings.database_max_overflow,
            "pool_timeout": 10,
            # A short connect timeout keeps health checks and requests from hanging
            # on a PostgreSQL that is down.
            "connect_args": {
                "timeout": 5,
                "command_timeout": 60,
                # The graph is heavily skewed (a few packages and owners hold most
                # edges) and asyncpg prepares statements: after five runs PostgreSQL
                # may switch to a generic plan that suits small packages and ruins
                # large ones (seen: 40 s instead of 50 ms for 10,000 dependents).
                "server_settings": {"plan_cache_mode": "force_custom_plan"},
            },
        }
    engine = create_async_engine(url, **kwargs)
    if settings.is_sqlite:
        event.listen(engine.sync_engine, "connect", _configure_sqlite)
        event.listen(engine.sync_engine, "begin", _begin_sqlite)
    return engine


def _configure_sqlite(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    # The sqlite3 driver's own transaction handling breaks SAVEPOINT; turn it off
    # and let SQLAlchemy emit BEGIN itself (see `_begin_sqlite`).
    dbapi_connection.isolation_level = None
    # Rankings use ln(); SQLite builds without the math functions lack it.
    dbapi_connection.create_function("ln", 1, _ln, deterministic=True)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _ln(value: float | None) -> float | None:
    return math.log(value) if value is not None and value > 0 else None


def _begin_sqlite(connection: Connection) -> None:
    connection.exec_driver_sql("BEGIN")


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


def after_commit(session: AsyncSession, callback: AfterCommit) -> None:
    """Run `callback` once the surrounding unit of work has committed."""
    session.info.setdefault(_AFTER_COMMIT_KEY, []).append(callback)


async def _run_after_commit(session: AsyncSession) -> None:
    callbacks: list[AfterCommit] = session.info.pop(_AFTER_COMMIT_KEY, [])
    for callback in callbacks:
        try:
            await callback()
        except Exception:
            # The data is committed; a failed side effect (a cache bump, say) must
            # not turn a successful request into an error.
            log.exception("after_commit_callback_failed")


async def commit(session: AsyncSession) -> None:
    """Commit and then run the after-commit callbacks. The only commit site."""
    await session.commit()
    await _run_after_commit(session)


@asynccontextmanager
async def session_scope(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """One unit of work: commit on success, roll back (and drop callbacks) on error."""
    async with sessionmaker() as session:
        try:
            yield session
        except BaseException:
            session.info.pop(_AFTER_COMMIT_KEY, None)
            await session.rollback()
            raise
        await commit(session)
