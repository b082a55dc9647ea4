"""The `wump parse`, `wump ingest ...` and `wump demo` commands.

`ingest` commands read DATABASE_URL (and VALKEY_URL, to invalidate a running
server's cache), apply pending migrations, load their input batch by batch, and
print a summary. Inputs that fail are named with file and line on stderr; the
others are loaded, and the exit code is 1. Nothing in the input is executed.
"""

import asyncio
import json
from pathlib import Path
from typing import Annotated, Any

import typer
import uvicorn

from wump.core.config import Settings
from wump.core.db import create_engine, create_sessionmaker
from wump.core.logging import configure_logging
from wump.core.progress import track
from wump.ingest import parsers
from wump.ingest.parsers import ManifestError, ParsedDependency
from wump.ingest.sources import IngestSummary, Source, run
from wump.ingest.sources.environment import EnvironmentSource
from wump.ingest.sources.librariesio_dump import LibrariesioDumpSource
from wump.ingest.sources.path import PathSource
from wump.ingest.sources.sbom import SbomSource
from wump.main import build_cache, create_app
from wump.rollups import cli as rollups

ingest_app = typer.Typer(
    help="Load dependency data (checkouts, SBOMs, a Libraries.io dump, this environment).",
    no_args_is_help=True,
)

DEMO_DATABASE = Path("wump-demo.db")
# How many failures and warnings a summary lists before it only counts them.
SHOWN_MESSAGES = 50

RepoOption = Annotated[
    str | None,
    typer.Option(
        "--repo",
        metavar="OWNER/NAME",
        help="The repository, when the input does not say (no origin remote, no SBOM metadata).",
    ),
]


@ingest_app.command("path")
def ingest_path(
    checkouts: Annotated[list[Path], typer.Argument(help="Checkouts (working trees) to scan.")],
    repo: RepoOption = None,
) -> None:
    """Scan local checkouts for manifests and lockfiles; one snapshot per checkout.

    Vendored and generated folders (node_modules, .venv, vendor, dist, ...) and
    whatever .gitignore ignores are skipped. The repository is read from the
    checkout's `origin` remote unless --repo names it.
    """
    _ingest(lambda: PathSource(checkouts, repository=repo))


@ingest_app.command("sbom")
def ingest_sbom(
    files: Annotated[list[Path], typer.Argument(help="SPDX 2.x or CycloneDX JSON files.")],
    repo: RepoOption = None,
) -> None:
    """Load SBOM files; the repository comes from the document, else from --repo."""
    _ingest(lambda: SbomSource(files, repository=repo))


@ingest_app.command("librariesio-dump")
def ingest_librariesio_dump(
    directory: Annotated[
        Path, typer.Argument(help="Folder with the unpacked Libraries.io Open Data CSV files.")
    ],
) -> None:
    """Stream a Libraries.io Open Data release into the database.

    Reads the repository_dependencies, repositories and projects CSV files of the
    release, in batches, so any size fits in the same memory.
    """
    _ingest(lambda: LibrariesioDumpSource(directory))


@ingest_app.command("environment")
def ingest_environment() -> None:
    """Load the Python distributions installed in this environment.

    Each distribution's GitHub repository gets its Requires-Dist as dependencies:
    real data, offline, on any machine.
    """
    _ingest(EnvironmentSource)


def parse_command(
    files: Annotated[list[Path], typer.Argument(help="Manifests, lockfiles or SBOMs.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list.")] = False,
) -> None:
    """Show what wump sees in each file, without touching any database."""
    found: list[ParsedDependency] = []
    failed = False
    for path in files:
        try:
            found += _parse_one(path)
        except ManifestError as exc:
            typer.echo(str(exc), err=True)
            failed = True
    if as_json:
        typer.echo(json.dumps([_as_dict(dependency) for dependency in found], indent=2))
    else:
        _print_table(found)
    if failed:
        raise typer.Exit(1)


def _parse_one(path: Path) -> list[ParsedDependency]:
    if not path.is_file():
        raise ManifestError(str(path), "no such file")
    try:
        return parsers.parse_file(path).dependencies
    except OSError as exc:
        raise ManifestError(str(path), exc.strerror or str(exc)) from None


def _as_dict(dependency: ParsedDependency) -> dict[str, Any]:
    return {
        "ecosystem": dependency.ecosystem.value,
        "name": dependency.name,
        "requirement": dependency.requirement,
        "dependency_type": dependency.dependency_type.value,
        "is_direct": dependency.is_direct,
        "manifest_path": dependency.manifest_path,
    }


def _print_table(found: list[ParsedDependency]) -> None:
    rows = [
        (
            d.ecosystem.value,
            d.name,
            d.requirement,
            d.dependency_type.value,
            "direct" if d.is_direct else "indirect",
            d.manifest_path,
        )
        for d in found
    ]
    header = ("ECOSYSTEM", "NAME", "REQUIREMENT", "TYPE", "DIRECT", "MANIFEST")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        typer.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))


def demo_command(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Checkouts to load as well (optional).")
    ] = None,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    database: Annotated[
        Path, typer.Option(help="The demo's SQLite file, recreated on every start.")
    ] = DEMO_DATABASE,
) -> None:
    """Try wump in one command: load this environment into a fresh database and serve it.

    The database is a new SQLite file (--database) filled with the Python packages
    installed here and any checkouts given. DATABASE_URL is never touched.
    """
    settings = demo_settings(database)
    configure_logging(settings)
    summaries = asyncio.run(prepare_demo(settings, paths or []))
    for summary in summaries:
        _print_summary("demo", summary)
    base = f"http://{host}:{port}"
    typer.echo(f"\nwump demo at {base} (database {database.resolve()})")
    for path in ("/health", "/api/v1/packages/pypi/pydantic/dependents", "/docs"):
        typer.echo(f"  {base}{path}")
    typer.echo("Press Ctrl+C to stop.\n")
    uvicorn.run(create_app(settings), host=host, port=port, log_config=None, access_log=False)


def demo_settings(database: Path) -> Settings:
    path = database.resolve()
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return Settings(database_url=f"sqlite+aiosqlite:///{path}", valkey_url="")


async def prepare_demo(settings: Settings, paths: list[Path]) -> list[IngestSummary]:
    """Migrate the demo database and load this environment (and `paths`) into it."""
    sources: list[Source] = [EnvironmentSource()]
    if paths:
        sources.append(PathSource(paths))
    return [await _run(settings, source) for source in sources]


def _ingest(make_source: Any) -> None:
    settings = Settings()
    configure_logging(settings)
    try:
        source: Source = make_source()
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    summary = asyncio.run(_run(settings, source))
    _print_summary(source.job_type, summary)
    if not summary.ok:
        raise typer.Exit(1)


async def _run(settings: Settings, source: Source) -> IngestSummary:
    engine = create_engine(settings, statement_timeout=None)
    cache = build_cache(settings)
    try:
        await rollups.upgrade(engine, settings.scoring)
        sessionmaker = create_sessionmaker(engine)
        with track(source.job_type, total=source.total, unit=source.unit) as progress:
            return await run(
                sessionmaker, source, cache=cache, progress=progress, weights=settings.scoring
            )
    finally:
        await cache.close()
        await engine.dispose()


def _print_summary(name: str, summary: IngestSummary) -> None:
    for failure in summary.failures[:SHOWN_MESSAGES]:
        typer.echo(f"failed: {failure}", err=True)
    for warning in summary.invalid[:SHOWN_MESSAGES]:
        typer.echo(f"skipped: {warning}", err=True)
    hidden = max(len(summary.failures) - SHOWN_MESSAGES, 0)
    if hidden:
        typer.echo(f"... and {hidden} more failures", err=True)
    at_least = "at least " if summary.capped else ""
    typer.echo(
        f"{name}: {at_least}{summary.repositories} repositories, {summary.packages} packages "
        f"({summary.packages_new} new), {summary.edges} edges ({summary.edges_removed} removed), "
        f"{len(summary.failures)} failed, {len(summary.invalid)} invalid names skipped"
    )
    for note, count in sorted(summary.notes.items()):
        typer.echo(f"  {note.replace('_', ' ')}: {count}")
