"""The queue: taskiq on a Valkey stream, or in this process when there is no Valkey.

`build_queue(settings)` is the factory; nothing here opens a connection at
import time.

- With `VALKEY_URL`: taskiq-redis's `RedisStreamBroker`. Every `wump worker`
  reads the stream `JOB_QUEUE_NAME` in one consumer group, so each job goes to
  one worker. A message is acknowledged only after the job has finished, so a
  job whose worker was killed stays pending in the stream and is handed to
  another worker after `JOB_REDELIVERY_SECONDS`.
- Without: taskiq's `InMemoryBroker`. Jobs run in the process that queued them,
  in the background (`wump serve`), or to their end before the call returns
  (`JOB_MODE=inline`), or not at all (`JOB_MODE=off`, the default under
  `ENVIRONMENT=test`: the records stay `pending`).

Retries are the runner's decision (`wump.jobs.runner`): it raises `RetryJob`
only for transient failures with attempts left, and `TransientRetryMiddleware`
sends exactly those again, after an exponential, jittered backoff that is at
least the provider's `Retry-After`.
"""

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any

from redis.asyncio import Redis
from taskiq import (
    AckableMessage,
    AsyncBroker,
    Context,
    InMemoryBroker,
    SmartRetryMiddleware,
    TaskiqDepends,
)
from taskiq.kicker import AsyncKicker
from taskiq.message import TaskiqMessage
from taskiq.result import TaskiqResult
from taskiq_redis import RedisStreamBroker

from wump.core.config import Settings
from wump.jobs import catalog, runner
from wump.jobs.context import JobResources
from wump.jobs.queue import JobQueue
from wump.jobs.schedules import schedule_labels

# Old, acknowledged entries are trimmed from the stream beyond about this many.
STREAM_MAX_LENGTH = 100_000
# How long a worker blocks reading the stream before it looks for abandoned jobs.
READ_BLOCK_MS = 2_000
# A worker killed while it looked for abandoned jobs frees the lock after this.
CLAIM_LOCK_SECONDS = 10.0


class TransientRetryMiddleware(SmartRetryMiddleware):
    """Sends a job again when its runner raised `RetryJob`, after a backoff.

    The wait happens in the worker before the message is acknowledged, so a
    worker that dies while waiting leaves the job to be redelivered, not lost.
    """

    def __init__(self, settings: Settings) -> None:
        super().__init__(
            default_retry_count=settings.job_max_attempts,
            default_retry_label=True,
            types_of_exceptions=(runner.RetryJob,),
        )
        self.settings = settings
        self._retry: runner.RetryJob | None = None

    async def on_error(
        self, message: TaskiqMessage, result: TaskiqResult[Any], exception: BaseException
    ) -> None:
        # `make_delay` runs before the first await of the parent's `on_error`.
        self._retry = exception if isinstance(exception, runner.RetryJob) else None
        await super().on_error(message, result, exception)

    def make_delay(self, message: TaskiqMessage, retries: int) -> float:
        retry = self._retry
        attempt = retry.attempt if retry is not None else retries
        retry_after = retry.retry_after if retry is not None else None
        return runner.retry_delay(self.settings, attempt, retry_after)

    async def on_send(
        self, kicker: AsyncKicker[Any, Any], message: TaskiqMessage, delay: float
    ) -> None:
        await asyncio.sleep(delay)
        await kicker.kiq(*message.args, **message.kwargs)


class RedeliveringStreamBroker(RedisStreamBroker):
    """taskiq-redis's stream broker, also reclaiming abandoned jobs while the queue is idle.

    The parent only looks for messages a dead worker left unacknowledged right after
    it read new ones, so on a quiet queue an abandoned job would wait for the next
    job to be sent. This looks after every read, new messages or not.
    """

    async def listen(self) -> AsyncGenerator[AckableMessage, None]:
        async with Redis(connection_pool=self.connection_pool) as redis:
            while True:
                streams = {self.queue_name: ">", **self.additional_streams}
                fetched: Any = await redis.xreadgroup(
                    self.consumer_group_name,
                    self.consumer_name,
                    streams,  # type: ignore[arg-type]
                    block=self.block,
                    noack=False,
                    count=self.count,
                )
                for stream, messages in fetched or []:
                    for message_id, fields in messages:
                        yield self._ackable(stream, message_id, fields)
                for stream in (self.queue_name, *self.additional_streams):
                    for message in await self._reclaim(redis, stream):
                        yield message

    async def _reclaim(self, redis: Redis, stream: str) -> list[AckableMessage]:
        """Take over messages unacknowledged for longer than the redelivery time."""
        claimed = await redis.xautoclaim(
            name=stream,
            groupname=self.consumer_group_name,
            consumername=self.consumer_name,
            min_idle_time=self.idle_timeout,
            count=self.unacknowledged_batch_size,
        )
        entries = claimed[1] if len(claimed) > 1 else []
        # Entries trimmed from the stream meanwhile come back without fields.
        return [self._ackable(stream, id_, fields) for id_, fields in entries if fields]

    def _ackable(self, stream: Any, message_id: Any, fields: Any) -> AckableMessage:
        return AckableMessage(
            data=fields[b"data"], ack=self._ack_generator(id=message_id, queue_name=stream)
        )


def _task(job_type: str) -> Callable[..., Awaitable[dict[str, Any]]]:
    async def run_job(
        job_id: str | None = None, context: Context = TaskiqDepends(), **args: Any
    ) -> dict[str, Any]:
        resources: JobResources = context.state.resources()
        outcome = await runner.execute(resources, job_type, args, job_id=job_id)
        return outcome.as_dict()

    run_job.__doc__ = catalog.JOBS[job_type].summary
    return run_job


def build_broker(settings: Settings) -> AsyncBroker:
    """The broker the settings ask for, with every job registered and the retry policy."""
    broker: AsyncBroker
    if settings.valkey_url:
        broker = RedeliveringStreamBroker(
            url=settings.valkey_url,
            queue_name=settings.job_queue_name,
            consumer_group_name=f"{settings.job_queue_name}:workers",
            # A new group starts at the beginning: jobs sent before any worker ran count.
            consumer_id="0",
            idle_timeout=settings.job_redelivery_seconds * 1000,
            maxlen=STREAM_MAX_LENGTH,
            xread_block=READ_BLOCK_MS,
            unacknowledged_lock_timeout=CLAIM_LOCK_SECONDS,
        )
    else:
        broker = InMemoryBroker(
            await_inplace=settings.effective_job_mode == "inline",
            max_async_tasks=settings.job_concurrency,
        )
    broker.add_middlewares(TransientRetryMiddleware(settings))
    for definition in catalog.JOBS.values():
        name = definition.name
        broker.register_task(_task(name.value), task_name=name.value, **schedule_labels(name))
    return broker


def build_queue(settings: Settings) -> JobQueue:
    shared = bool(settings.valkey_url)
    mode = settings.effective_job_mode
    return JobQueue(
        build_broker(settings),
        name=settings.job_queue_name,
        sends=shared or mode != "off",
        # Inline jobs already run one after another (a follow-up inside its parent).
        serial=not shared and mode == "background" and settings.is_sqlite,
    )


def attach(queue: JobQueue, resources: Callable[[], JobResources]) -> None:
    """Tell the jobs run by this process's broker where their resources are.

    A callable, read when a job starts, so a test that swaps the app's resources
    swaps the jobs' too.
    """
    queue.broker.state.resources = resources
