"""The `wump` command."""

import asyncio
from typing import Annotated

import typer
import uvicorn

from wump import __version__
from wump.auth.cli import app as keys_app
from wump.core.config import Settings
from wump.core.db import create_engine
from wump.core.logging import configure_logging
from wump.ingest.cli import demo_command, ingest_app, parse_command
from wump.jobs.cli import jobs_app, scheduler_command, worker_command
from wump.rollups import cli as rollups
from wump.rollups.cli import app as rollups_app

app = typer.Typer(
    name="wump",
    help="wump: who's using my package? Serve the API, migrate the database, ingest data.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(keys_app, name="keys")
app.add_typer(ingest_app, name="ingest")
app.command("parse")(parse_command)
app.command("demo")(demo_command)
app.add_typer(jobs_app, name="jobs")
app.add_typer(rollups_app, name="rollups")
app.command("worker")(worker_command)
app.command("scheduler")(scheduler_command)


async def _migrate(settings: Settings) -> str | None:
    engine = create_engine(settings, statement_timeout=None)
    try:
        return await rollups.upgrade(engine, settings.scoring)
    finally:
        await engine.dispose()


@app.command()
def migrate() -> None:
    """Bring the database at DATABASE_URL up to the newest schema.

    Safe to run at any time: it applies only the migrations not yet applied.
    """
    settings = Settings()
    configure_logging(settings)
    revision = asyncio.run(_migrate(settings))
    typer.echo(f"database at revision {revision}")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    reload: Annotated[bool, typer.Option(help="Restart on code changes (development).")] = False,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    migrate_first: Annotated[
        bool, typer.Option("--migrate/--no-migrate", help="Apply migrations before serving.")
    ] = True,
) -> None:
    """Apply pending migrations, then serve the API with uvicorn.

    Configuration comes from the environment (see .env.example); with none,
    wump uses a SQLite file ./wump.db and an in-process cache.
    """
    settings = Settings()
    configure_logging(settings)
    if migrate_first:
        asyncio.run(_migrate(settings))
    uvicorn.run(
        "wump.main:create_app",
        factory=True,
        host=host,
        port=port,
        reload=reload,
        workers=None if reload else workers,
        log_config=None,
        access_log=False,
        proxy_headers=False,
    )


@app.command()
def version() -> None:
    """Print the installed wump version."""
    typer.echo(__version__)


def main() -> None:
    app()
