"""`wump keys ...`: manage API keys from the command line."""

import asyncio
import re
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession

from wump.auth import service
from wump.auth.repository import ApiKeyRepository
from wump.auth.schemas import Scope
from wump.core import migrations
from wump.core.config import Settings
from wump.core.db import create_engine, create_sessionmaker, session_scope
from wump.core.errors import WumpError
from wump.models import ApiKeyTier
from wump.models.base import utcnow

app = typer.Typer(help="Create, list, revoke and rotate API keys.", no_args_is_help=True)
T = TypeVar("T")
_DURATION = re.compile(r"^(\d+)([dhm])$")
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}


def parse_duration(value: str) -> timedelta:
    """`90d`, `24h` or `30m`."""
    match = _DURATION.match(value.strip())
    if not match:
        raise typer.BadParameter(f"{value!r} is not a duration like 90d, 24h or 30m")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def _run(work: Callable[[AsyncSession, Settings], Awaitable[T]]) -> T:
    settings = Settings()

    async def main() -> T:
        engine = create_engine(settings)
        try:
            await migrations.upgrade(engine)
            async with session_scope(create_sessionmaker(engine)) as session:
                return await work(session, settings)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(main())
    except WumpError as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        raise typer.Exit(1) from None


def _show_new_key(issued: service.IssuedKey) -> None:
    typer.echo(f"id:      {issued.record.id}")
    typer.echo(f"name:    {issued.record.name}")
    typer.echo(f"tier:    {issued.record.tier}")
    typer.echo(f"scopes:  {','.join(issued.record.scopes)}")
    expires = issued.record.expires_at.isoformat() if issued.record.expires_at else "never"
    typer.echo(f"expires: {expires}")
    typer.echo("")
    typer.echo(issued.plaintext)
    typer.echo("")
    typer.echo("Store this key now: it is shown once and cannot be recovered.", err=True)


@app.command()
def create(
    name: Annotated[str, typer.Option(help="What the key is for, e.g. 'acme-dashboard'.")],
    tier: Annotated[ApiKeyTier, typer.Option(help="Rate-limit tier.")] = ApiKeyTier.FREE,
    scopes: Annotated[str, typer.Option(help="Comma-separated: read, admin.")] = "read",
    expires: Annotated[
        str | None, typer.Option(help="Lifetime such as 90d or 12h; never expires if unset.")
    ] = None,
) -> None:
    """Create a key and print it once. Only a hash of it is stored."""
    try:
        scope_list = [Scope(part.strip()) for part in scopes.split(",") if part.strip()]
    except ValueError:
        raise typer.BadParameter("scopes are read and/or admin", param_hint="--scopes") from None
    lifetime = parse_duration(expires) if expires else None

    async def work(session: AsyncSession, settings: Settings) -> service.IssuedKey:
        return await service.create(
            session,
            pepper=settings.api_key_pepper,
            name=name,
            tier=tier,
            scopes=scope_list,
            expires_at=utcnow() + lifetime if lifetime else None,
            created_by="cli",
        )

    _show_new_key(_run(work))


@app.command("list")
def list_keys(
    include_revoked: Annotated[bool, typer.Option(help="Show revoked keys too.")] = False,
) -> None:
    """List keys (never their secrets)."""

    async def work(session: AsyncSession, _settings: Settings) -> Table:
        table = Table("id", "prefix", "name", "tier", "scopes", "expires", "last used", "revoked")
        for key in await ApiKeyRepository(session).all(include_revoked=include_revoked):
            table.add_row(
                str(key.id),
                key.prefix,
                key.name,
                key.tier,
                ",".join(key.scopes),
                key.expires_at.isoformat(timespec="minutes") if key.expires_at else "-",
                key.last_used_at.isoformat(timespec="minutes") if key.last_used_at else "-",
                key.revoked_at.isoformat(timespec="minutes") if key.revoked_at else "-",
            )
        return table

    Console(width=200).print(_run(work))


@app.command()
def revoke(key_id: Annotated[uuid.UUID, typer.Argument(help="The key's id.")]) -> None:
    """Revoke a key at once."""

    async def work(session: AsyncSession, _settings: Settings) -> None:
        await service.revoke(session, key_id)

    _run(work)
    typer.echo(f"revoked {key_id}")


@app.command()
def rotate(
    key_id: Annotated[uuid.UUID, typer.Argument(help="The key's id.")],
    grace: Annotated[str, typer.Option(help="How long the old key keeps working.")] = "24h",
) -> None:
    """Issue a replacement key; the old one works until the grace period ends."""
    grace_period = parse_duration(grace)

    async def work(session: AsyncSession, settings: Settings) -> service.IssuedKey:
        return await service.rotate(
            session, key_id, pepper=settings.api_key_pepper, grace=grace_period
        )

    _show_new_key(_run(work))
