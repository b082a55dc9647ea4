"""The worker and scheduler processes.

`wump worker` runs `run_worker`: one process that reads the Valkey stream and
runs up to `JOB_CONCURRENCY` jobs at a time. Start as many as you like, on as
many machines as you like; each job goes to one of them. taskiq's own CLI works
too, with its process supervisor: `taskiq worker wump.jobs.worker:create_broker
--workers 4` (the factory builds everything from the environment, as an ASGI
app factory does).

`wump scheduler` runs `run_scheduler`: it sends the scheduled jobs
(`wump.jobs.schedules`) to the queue when they are due. Run exactly one.
"""

import asyncio
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx
import structlog
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from taskiq import AsyncBroker, TaskiqEvents, TaskiqState
from taskiq.acks import AcknowledgeType
from taskiq.api import run_scheduler_task
from taskiq.receiver import Receiver
from taskiq_redis import RedisStreamBroker

from wump.core.cache import Cache, redis_client
from wump.core.config import Settings
from wump.core.db import create_engine, create_sessionmaker
from wump.core.logging import configure_logging
from wump.jobs import monitor
from wump.jobs.broker import attach, build_queue
from wump.jobs.queue import JobQueue
from wump.jobs.schedules import CRONS, build_scheduler
from wump.providers.registry import ProviderRegistry, build_registry

log = structlog.get_logger(__name__)

# Jobs still running when a worker is told to stop get this long to finish; the
# rest are left unacknowledged, so another worker takes them again.
SHUTDOWN_GRACE_SECONDS = 30.0


class QueueNotConfigured(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class WorkerResources:
    """What a worker (or `wump jobs run`) opens for its jobs, and closes at the end."""

    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    cache: Cache
    http: httpx.AsyncClient
    providers: ProviderRegistry
    jobs: JobQueue

    @classmethod
    def open(cls, settings: Settings, queue: JobQueue) -> "WorkerResources":
        # Imported here: wump.main imports the routers, which a worker does not need
        # at import time.
        from wump.main import build_cache, build_http_client

        # A job may run as long as JOB_TIMEOUT_SECONDS, and so may its statements.
        engine = create_engine(settings, statement_timeout=settings.job_timeout_seconds)
        http = build_http_client(settings)
        return cls(
            settings=settings,
            engine=engine,
            sessionmaker=create_sessionmaker(engine),
            cache=build_cache(settings),
            http=http,
            providers=build_registry(settings, http),
            jobs=queue,
        )

    async def close(self) -> None:
        await self.providers.aclose()
        await self.http.aclose()
        await self.cache.close()
        await self.engine.dispose()


def create_broker(settings: Settings | None = None) -> AsyncBroker:
    """The worker's broker, built from the environment: the entry point of a worker
    process. Its startup opens the database, cache and provider clients and starts
    the heartbeat; its shutdown closes them."""
    settings = settings or Settings()
    configure_logging(settings)
    queue = build_queue(settings)
    counts = monitor.WorkerCounts()
    queue.broker.add_middlewares(counts)
    queue.broker.add_event_handler(TaskiqEvents.WORKER_STARTUP, _startup(settings, queue, counts))
    queue.broker.add_event_handler(TaskiqEvents.WORKER_SHUTDOWN, _shutdown)
    return queue.broker


def _startup(
    settings: Settings, queue: JobQueue, counts: monitor.WorkerCounts
) -> Callable[[TaskiqState], Awaitable[None]]:
    async def startup(state: TaskiqState) -> None:
        resources = WorkerResources.open(settings, queue)
        attach(queue, lambda: resources)
        state.worker_resources = resources
        state.heartbeat = None
        if settings.valkey_url:
            redis = redis_client(settings.valkey_url, timeout_seconds=5.0)
            state.heartbeat_redis = redis
            beat = monitor.heartbeat(redis, queue, settings, counts, resources.providers)
            state.heartbeat = asyncio.create_task(beat)
        log.info("worker_started", queue=queue.name, worker=monitor.worker_id(queue))

    return startup


async def _shutdown(state: TaskiqState) -> None:
    heartbeat: asyncio.Task[None] | None = state.heartbeat
    if heartbeat is not None:
        heartbeat.cancel()
        await asyncio.gather(heartbeat, return_exceptions=True)
        await state.heartbeat_redis.aclose()
    resources: WorkerResources = state.worker_resources
    await resources.close()
    log.info("worker_stopped")


def _stop_on_signals(stop: Callable[[], None]) -> None:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop)


async def run_worker(settings: Settings, *, concurrency: int | None = None) -> None:
    """Consume the queue until SIGTERM or SIGINT, then let running jobs finish a while."""
    if not settings.valkey_url:
        raise QueueNotConfigured("a worker needs VALKEY_URL: the queue lives in Valkey")
    broker = create_broker(settings)
    assert isinstance(broker, RedisStreamBroker)
    broker.is_worker_process = True
    finished = asyncio.Event()
    _stop_on_signals(finished.set)
    await broker.startup()
    receiver = Receiver(
        broker,
        max_async_tasks=concurrency or settings.job_concurrency,
        run_startup=False,
        # Acknowledged once the job has finished and been recorded: a worker that
        # dies mid-job leaves the message for another worker.
        ack_type=AcknowledgeType.WHEN_SAVED,
        wait_tasks_timeout=SHUTDOWN_GRACE_SECONDS,
    )
    try:
        await receiver.listen(finished)
    finally:
        await broker.shutdown()


async def run_scheduler(settings: Settings) -> None:
    """Send the scheduled jobs to the queue when they are due, until SIGTERM or SIGINT."""
    if not settings.valkey_url:
        raise QueueNotConfigured("the scheduler needs VALKEY_URL: the queue lives in Valkey")
    queue = build_queue(settings)
    queue.broker.is_scheduler_process = True
    scheduler = build_scheduler(queue.broker)
    for job_type, cron in CRONS.items():
        log.info("job_scheduled", job_type=job_type.value, cron=cron, timezone="UTC")
    loop = asyncio.create_task(run_scheduler_task(scheduler, run_startup=True))

    def stop() -> None:
        loop.cancel()

    _stop_on_signals(stop)
    try:
        await loop
    except asyncio.CancelledError:
        log.info("scheduler_stopped")
    finally:
        await scheduler.shutdown()
