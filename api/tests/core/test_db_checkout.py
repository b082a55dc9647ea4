"""Pooled PostgreSQL connections are checked on checkout without a ping per request."""

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.proxy import SwitchableProxy
from wump.core import db
from wump.core.config import Settings

pytestmark = pytest.mark.postgres

Pings = list[DBAPIConnection]


@pytest.fixture
async def proxied(settings: Settings) -> AsyncIterator[tuple[AsyncEngine, SwitchableProxy]]:
    url = make_url(settings.database_url)
    proxy = SwitchableProxy(url.host or "127.0.0.1", url.port or 5432)
    await proxy.start()
    proxied_url = url.set(host="127.0.0.1", port=proxy.port)
    engine = db.create_engine(
        settings.model_copy(
            update={"database_url": proxied_url.render_as_string(hide_password=False)}
        )
    )
    yield engine, proxy
    await engine.dispose()
    await proxy.stop()


@pytest.fixture
def pings(
    proxied: tuple[AsyncEngine, SwitchableProxy], monkeypatch: pytest.MonkeyPatch
) -> Callable[[BaseException | None], Pings]:
    """Record the pings the engine sends, optionally making them fail."""
    engine, _ = proxied
    dialect = engine.dialect
    real_ping = dialect.do_ping

    def install(failure: BaseException | None = None) -> Pings:
        sent: Pings = []

        def do_ping(dbapi_connection: DBAPIConnection) -> bool:
            sent.append(dbapi_connection)
            if failure is not None:
                raise failure
            return real_ping(dbapi_connection)

        monkeypatch.setattr(dialect, "do_ping", do_ping)
        return sent

    return install


async def _select_one(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        return int((await connection.execute(text("SELECT 1"))).scalar_one())


async def _backend_pid(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        return int((await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def test_a_connection_in_steady_use_is_not_pinged(
    proxied: tuple[AsyncEngine, SwitchableProxy], pings: Callable[..., Pings]
) -> None:
    engine, _ = proxied
    sent = pings()

    results = [await _select_one(engine) for _ in range(5)]

    assert results == [1] * 5
    assert sent == []


async def test_a_connection_idle_past_the_threshold_is_pinged_first(
    proxied: tuple[AsyncEngine, SwitchableProxy],
    pings: Callable[..., Pings],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine, _ = proxied
    await _select_one(engine)
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 0.0)
    sent = pings()

    assert await _select_one(engine) == 1
    assert len(sent) == 1


async def test_an_idle_connection_that_fails_its_ping_is_replaced(
    proxied: tuple[AsyncEngine, SwitchableProxy],
    pings: Callable[..., Pings],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine, _ = proxied
    before = await _backend_pid(engine)
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 0.0)
    sent = pings(ConnectionResetError("gone"))

    after = await _backend_pid(engine)

    assert len(sent) == 1
    assert after != before


async def test_connections_dropped_by_the_server_are_replaced_without_an_error(
    proxied: tuple[AsyncEngine, SwitchableProxy], pings: Callable[..., Pings]
) -> None:
    # What a PostgreSQL restart looks like to a pool whose connections were just used:
    # no ping is due, but the driver has seen the sockets close.
    engine, proxy = proxied
    before = await _backend_pid(engine)
    sent = pings()

    await proxy.stop()
    await asyncio.sleep(0.1)
    await proxy.start()
    after = await _backend_pid(engine)

    assert after != before
    assert sent == []
