"""`wump rollups`: recompute the precomputed dependents by hand, and migrations that need to."""

import asyncio

import typer
from sqlalchemy.ext.asyncio import AsyncEngine

from wump.core import migrations
from wump.core.config import ScoringWeights, Settings
from wump.core.db import create_engine, create_sessionmaker, session_scope
from wump.core.logging import configure_logging
from wump.ingest.initial import restore_edge_indexes
from wump.rollups.service import Rollups

# The revision that introduced `dependent_owners`: a database migrated across it has
# edges but no rollups yet.
ROLLUPS_REVISION = "0002"

app = typer.Typer(
    help="The precomputed dependents (`dependent_owners`) and package counters.",
    no_args_is_help=True,
)


async def upgrade(engine: AsyncEngine, weights: ScoringWeights) -> str | None:
    """Apply pending migrations; fill the rollups when this run created them for old data,
    and restore edge indexes that a killed initial load left off."""
    before = await migrations.current_revision(engine)
    await migrations.upgrade(engine)
    await restore_edge_indexes(engine)
    if before is not None and before < ROLLUPS_REVISION:
        await _run(engine, weights, rebuild=True)
    return await migrations.current_revision(engine)


async def _run(engine: AsyncEngine, weights: ScoringWeights, *, rebuild: bool) -> int:
    async with session_scope(create_sessionmaker(engine)) as session:
        rollups = Rollups(session, weights)
        return await (rollups.rebuild() if rebuild else rollups.rescore_stale())


async def _command(settings: Settings, *, rebuild: bool) -> int:
    engine = create_engine(settings, statement_timeout=None)
    try:
        await migrations.upgrade(engine)
        return await _run(engine, settings.scoring, rebuild=rebuild)
    finally:
        await engine.dispose()


@app.command()
def rebuild() -> None:
    """Recompute every row and counter from the edges.

    Run it after changing a `SCORING__*` weight: stored scores use the weights they
    were computed with. It takes one pass over the edges (about a minute for ten
    million on PostgreSQL) inside one transaction, so readers see old or new, never half.
    """
    settings = Settings()
    configure_logging(settings)
    rows = asyncio.run(_command(settings, rebuild=True))
    typer.echo(f"rebuilt {rows} dependent-owner rows")


@app.command()
def rescore() -> None:
    """Take recent-activity points off owners whose last push left the window.

    The scheduler runs this daily (`rollups.rescore`); run it by hand without one.
    """
    settings = Settings()
    configure_logging(settings)
    rows = asyncio.run(_command(settings, rebuild=False))
    typer.echo(f"rescored {rows} dependent-owner rows")
