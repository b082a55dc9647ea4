"""What a job runs with: the process's resources and the state of one run."""

import uuid
from collections import Counter
from collections.abc import Iterable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from wump.core.cache import Cache
from wump.core.config import Settings
from wump.core.db import after_commit, session_scope
from wump.core.progress import Progress
from wump.ingest.loader import Loader
from wump.jobs import repository
from wump.jobs.queue import JobQueue, enqueue
from wump.providers.registry import ProviderRegistry


class JobResources(Protocol):
    """What jobs need from the process they run in (`wump serve`, a worker, the CLI).

    `wump.core.deps.Resources` has all of it, so the API process passes its own.
    """

    @property
    def settings(self) -> Settings: ...

    @property
    def sessionmaker(self) -> async_sessionmaker[AsyncSession]: ...

    @property
    def cache(self) -> Cache: ...

    @property
    def providers(self) -> ProviderRegistry: ...

    @property
    def jobs(self) -> JobQueue: ...


@dataclass(slots=True)
class JobResult:
    """What a run did: records it processed and notes for its `job_executions` row."""

    records: int = 0
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class JobContext:
    """One run of one job.

    `providers` is a copy of the registry with a fresh request budget per provider
    (`PROVIDER_REQUEST_BUDGET`), so one job cannot spend a provider's whole allowance.
    """

    resources: JobResources
    execution_id: uuid.UUID
    job_type: str
    providers: ProviderRegistry
    progress: Progress | None = None
    follow_ups: Counter[str] = field(default_factory=Counter)
    follow_ups_skipped: int = 0

    @property
    def settings(self) -> Settings:
        return self.resources.settings

    @property
    def cache(self) -> Cache:
        return self.resources.cache

    def loader(self, session: AsyncSession) -> Loader:
        """The loader for this run: cache bumps after commit, scores with the configured
        weights."""
        return Loader(session, cache=self.cache, weights=self.settings.scoring)

    def session(self) -> AbstractAsyncContextManager[AsyncSession]:
        """One unit of work: commits on exit, then runs the after-commit callbacks."""
        return session_scope(self.resources.sessionmaker)

    def advance(self, amount: int = 1) -> None:
        if self.progress is not None:
            self.progress.advance(amount)

    async def follow_up(
        self,
        session: AsyncSession,
        job_type: str,
        args: Mapping[str, str],
        *,
        limited: bool = True,
    ) -> bool:
        """Queue another job once `session` commits, unless one like it is already queued
        or running, or (when `limited`) this run has queued `JOB_FOLLOW_UP_LIMIT` already."""
        limit = self.settings.job_follow_up_limit
        if limited and sum(self.follow_ups.values()) >= limit:
            self.follow_ups_skipped += 1
            return False
        if await repository.active_job(session, job_type, args, settings=self.settings):
            self.follow_ups_skipped += 1
            return False
        await enqueue(
            session,
            self.resources.sessionmaker,
            self.resources.jobs,
            job_type,
            args,
            metadata={"queued_by": str(self.execution_id)},
        )
        self.follow_ups[job_type] += 1
        return True

    def bump_after_commit(self, session: AsyncSession, kind: str, ids: Iterable[int]) -> None:
        """Invalidate cached responses about these objects once `session` commits."""
        targets = sorted(set(ids))
        if not targets:
            return
        cache = self.cache

        async def bump() -> None:
            await cache.bump(kind, targets)

        after_commit(session, bump)

    def summary(self) -> dict[str, Any]:
        """Provider requests and follow-ups of this run, for its record."""
        return {
            "provider_requests": self.providers.requests_used(),
            "follow_ups": dict(self.follow_ups),
            "follow_ups_skipped": self.follow_ups_skipped,
        }
