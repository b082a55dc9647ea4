"""`wump worker`, `wump scheduler`, `wump jobs run` and `wump jobs list`."""

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from wump.core import migrations
from wump.core.config import Settings
from wump.core.db import session_scope
from wump.core.logging import configure_logging
from wump.core.pagination import PageParams
from wump.core.progress import track
from wump.jobs import catalog, runner, service
from wump.jobs.broker import attach, build_queue
from wump.jobs.catalog import JobDefinition, UnknownJobType
from wump.jobs.queue import enqueue
from wump.jobs.schemas import JobArgs, JobRead, JobType
from wump.jobs.worker import WorkerResources, run_scheduler, run_worker
from wump.models import JobStatus

jobs_app = typer.Typer(help="Run background jobs here and now, or list what ran.")

ArgsArgument = Annotated[
    list[str] | None,
    typer.Argument(
        metavar="[ARGS]...",
        help="The job's arguments: values in order (`pkg:pypi/requests`) or NAME=VALUE.",
    ),
]


def worker_command(
    concurrency: Annotated[
        int | None,
        typer.Option(min=1, help="Jobs run at the same time (default: JOB_CONCURRENCY)."),
    ] = None,
) -> None:
    """Run background jobs from the Valkey queue until stopped (SIGTERM or Ctrl-C).

    Start as many workers as you like: each job goes to one of them. A job whose
    worker dies is handed to another after JOB_REDELIVERY_SECONDS. Needs VALKEY_URL;
    without it, `wump serve` runs jobs itself.
    """
    settings = _settings()
    _need_queue(settings)
    asyncio.run(run_worker(settings, concurrency=concurrency))


def scheduler_command() -> None:
    """Send the scheduled jobs to the queue when they are due (times in UTC).

    refresh.tracked daily at 02:00, enrich.organizations on Sundays at 03:00 and
    cleanup on the 1st of each month at 04:00. Run exactly one scheduler. Needs VALKEY_URL.
    """
    settings = _settings()
    _need_queue(settings)
    asyncio.run(run_scheduler(settings))


@jobs_app.command("run")
def run_command(
    job_type: Annotated[
        str, typer.Argument(metavar="TYPE", help=f"One of: {', '.join(catalog.JOBS)}.")
    ],
    args: ArgsArgument = None,
    queue_it: Annotated[
        bool,
        typer.Option("--enqueue", help="Send it to the Valkey queue for a worker instead."),
    ] = False,
) -> None:
    """Run one job in this process, with a progress bar, and record it like a worker would.

    Examples: `wump jobs run discover.dependents pkg:pypi/requests`,
    `wump jobs run scan.repository pallets/flask`,
    `wump jobs run enrich.organizations stale_after=P1D`. Transient failures are
    retried (JOB_MAX_ATTEMPTS); the exit code is 1 when the job fails. Follow-up jobs
    go to the Valkey queue when VALKEY_URL is set, else they run here before it exits.
    """
    settings = _settings()
    definition = _definition(job_type)
    raw = _arguments(definition, args or [])
    if queue_it:
        _need_queue(settings)
        job_id = asyncio.run(_enqueue(settings, definition, raw))
        typer.echo(f"queued {definition.name.value} as job {job_id}")
        return
    outcome = asyncio.run(_run(settings, definition, raw))
    typer.echo(
        f"{definition.name.value} {outcome.status.value}: {outcome.records} {definition.unit}, "
        f"{outcome.attempts} attempt(s), job {outcome.job_id}"
    )
    follow_ups = outcome.metadata.get("follow_ups") or {}
    if follow_ups:
        queued = ", ".join(f"{count} {name}" for name, count in follow_ups.items())
        typer.echo(f"follow-up jobs: {queued}")


@jobs_app.command("list")
def list_command(
    status: Annotated[
        JobStatus | None, typer.Option(help="Only jobs in this state (failed: dead letters).")
    ] = None,
    job_type: Annotated[JobType | None, typer.Option("--type", help="Only this job.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500, help="How many, newest first.")] = 20,
) -> None:
    """List recorded jobs, newest first. A `running` job whose worker died is shown as
    `running (stale)`: no worker will finish it, and the monthly cleanup fails it."""
    settings = _settings()
    jobs = asyncio.run(_list(settings, status, job_type, limit))
    table = Table("id", "type", "status", "attempts", "records", "created (UTC)", "error")
    for job in jobs:
        state = f"{job.status.value} (stale)" if job.stale else job.status.value
        table.add_row(
            str(job.id),
            job.type,
            state,
            str(job.attempts),
            str(job.records_processed),
            job.created_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
            (job.error_message or "")[:80],
        )
    Console(width=200).print(table)


def _settings() -> Settings:
    settings = Settings()
    configure_logging(settings)
    return settings


def _need_queue(settings: Settings) -> None:
    if not settings.valkey_url:
        typer.echo(
            "VALKEY_URL is not set: there is no shared queue. `wump serve` runs jobs "
            "in its own process, and `wump jobs run` runs one here.",
            err=True,
        )
        raise typer.Exit(2)


def _definition(job_type: str) -> JobDefinition[Any]:
    try:
        return catalog.definition(job_type)
    except UnknownJobType as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None


def _arguments(definition: JobDefinition[Any], values: list[str]) -> dict[str, str]:
    """`value` fills the job's arguments in order; `name=value` names one."""
    names = list(definition.args.model_fields)
    raw: dict[str, str] = {}
    positional = iter(names)
    for value in values:
        name, sep, named = value.partition("=")
        if sep and name in names:
            raw[name] = named
            continue
        try:
            raw[next(positional)] = value
        except StopIteration:
            typer.echo(f"{definition.name.value} takes no more arguments ({value!r})", err=True)
            raise typer.Exit(2) from None
    try:
        parsed: JobArgs = definition.parse(raw)
    except ValidationError as exc:
        detail = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        typer.echo(f"invalid arguments for {definition.name.value}: {detail}", err=True)
        raise typer.Exit(2) from None
    return parsed.message()


async def _run(
    settings: Settings, definition: JobDefinition[Any], raw: dict[str, str]
) -> runner.Outcome:
    resources = await _open(settings)
    try:
        with track(definition.name.value, unit=definition.unit) as progress:
            try:
                outcome = await runner.run_inline(
                    resources, definition.name.value, raw, progress=progress
                )
            except runner.JobFailed as exc:
                typer.echo(f"{definition.name.value} failed: {exc} (job {exc.job_id})", err=True)
                raise typer.Exit(1) from None
        # In-process follow-ups (no Valkey) finish before the command does.
        await resources.jobs.drain()
        return outcome
    finally:
        await resources.jobs.shutdown()
        await resources.close()


async def _enqueue(
    settings: Settings, definition: JobDefinition[Any], raw: dict[str, str]
) -> uuid.UUID:
    resources = await _open(settings)
    try:
        async with session_scope(resources.sessionmaker) as session:
            execution = await enqueue(
                session,
                resources.sessionmaker,
                resources.jobs,
                definition.name.value,
                raw,
                metadata={"queued_by": "cli"},
            )
        return execution.id
    finally:
        await resources.jobs.shutdown()
        await resources.close()


async def _list(
    settings: Settings, status: JobStatus | None, job_type: JobType | None, limit: int
) -> list[JobRead]:
    resources = await _open(settings)
    try:
        async with session_scope(resources.sessionmaker) as session:
            page = await service.list_jobs(
                session,
                status=status,
                job_type=job_type,
                page=PageParams(limit=limit),
                settings=settings,
                now=datetime.now(UTC),
            )
        return page.items
    finally:
        await resources.jobs.shutdown()
        await resources.close()


async def _open(settings: Settings) -> WorkerResources:
    """The database (migrated first, as every command does), cache, providers and queue."""
    queue = build_queue(settings)
    resources = WorkerResources.open(settings, queue)
    await migrations.upgrade(resources.engine)
    attach(queue, lambda: resources)
    await queue.startup()
    return resources
