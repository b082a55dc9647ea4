"""Engine and session handling: the one place that commits.

A request (or job) gets one `AsyncSession`. Services and repositories only
`flush()`; `session_scope` commits once at the end, or rolls back on error.
Work that must only happen after a successful commit (cache invalidation,
enqueueing jobs) is registered with `after_commit` and runs once the commit
has succeeded.
"""

import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import structlog
from sqlalchemy import Connection, event, exc
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection, StaticPool

from wump.core.config import Settings

log = structlog.get_logger(__name__)

AfterCommit = Callable[[], Awaitable[None]]
_AFTER_COMMIT_KEY = "wump.after_commit"
# A pooled connection back from use more recently than this is not pinged.
PING_AFTER_IDLE_SECONDS = 1.0
_CHECKED_IN_AT = "wump.checked_in_at"


def is_memory_sqlite(url: str) -> bool:
    if not url.startswith("sqlite"):
        return False
    return ":memory:" in url or url.rstrip("/").endswith(":")


# What a statement may take on the API's path before the driver gives up on it.
REQUEST_STATEMENT_TIMEOUT = 60.0


def create_engine(
    settings: Settings, *, statement_timeout: float | None = REQUEST_STATEMENT_TIMEOUT
) -> AsyncEngine:
    """The engine for `settings`. Bulk commands pass `statement_timeout=None`: rebuilding
    the rollups of ten million edges is one statement of a few minutes."""
    url = settings.database_url
    kwargs: dict[str, Any] = {"echo": settings.database_echo}
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
                "command_timeout": statement_timeout,
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
    else:
        _check_connections_on_checkout(engine)
    return engine


def _check_connections_on_checkout(engine: AsyncEngine) -> None:
    """Hand out only live connections, without a ping per request.

    `pool_pre_ping` would cost every request a transaction of its own (BEGIN, ping,
    ROLLBACK: three round trips). Instead a connection the driver knows is closed (a
    server restart or a dropped socket) is replaced at no cost, and a ping is spent
    only on one idle for longer than `PING_AFTER_IDLE_SECONDS`, which may have died
    silently. Either failure invalidates the pool, as a failed pre-ping would.
    """
    dialect = engine.dialect

    def checkin(dbapi_connection: DBAPIConnection | None, record: ConnectionPoolEntry) -> None:
        if dbapi_connection is not None:  # None: invalidated, reconnects on checkout
            record.info[_CHECKED_IN_AT] = time.monotonic()

    def checkout(
        dbapi_connection: DBAPIConnection,
        record: ConnectionPoolEntry,
        _proxy: PoolProxiedConnection,
    ) -> None:
        checked_in_at = record.info.get(_CHECKED_IN_AT)
        if checked_in_at is None:
            return  # just connected
        is_closed = getattr(record.driver_connection, "is_closed", None)
        if callable(is_closed) and is_closed():
            raise exc.InvalidatePoolError("the connection was closed while pooled")
        if time.monotonic() - checked_in_at < PING_AFTER_IDLE_SECONDS:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as error:
            raise exc.InvalidatePoolError("the pooled connection failed its ping") from error

    event.listen(engine.sync_engine, "checkin", checkin)
    event.listen(engine.sync_engine, "checkout", checkout)


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
