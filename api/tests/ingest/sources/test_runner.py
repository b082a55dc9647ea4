import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from wump.core.db import session_scope
from wump.core.errors import NotFound
from wump.ingest.identity import Ecosystem
from wump.ingest.loader import RepositoryRef, Snapshot
from wump.ingest.parsers import ParsedDependency
from wump.ingest.sources import Batch, run
from wump.jobs import executions
from wump.models import (
    DependencySource,
    DependencyType,
    JobExecution,
    JobStatus,
    Package,
    Repository,
)


def snapshot(full_name: str, *names: str) -> Snapshot:
    dependencies = [
        ParsedDependency(Ecosystem.PYPI, name, "*", DependencyType.RUNTIME, True, "setup.cfg")
        for name in names
    ]
    return Snapshot(RepositoryRef.parse(full_name), DependencySource.MANIFEST, dependencies)


class ListSource:
    """A source whose batches are given; `explode_after` raises after that many."""

    job_type = "ingest.test"
    source = DependencySource.MANIFEST
    unit = "items"

    def __init__(self, batches: list[Batch], *, explode_after: int | None = None) -> None:
        self._batches = batches
        self.explode_after = explode_after

    @property
    def total(self) -> int:
        return len(self._batches)

    def args(self) -> dict[str, Any]:
        return {"batches": len(self._batches)}

    def batches(self) -> Iterator[Batch]:
        for index, batch in enumerate(self._batches):
            if index == self.explode_after:
                raise OSError("the disk went away")
            yield batch


async def executions_of(session: AsyncSession) -> list[JobExecution]:
    result = await session.execute(select(JobExecution).execution_options(populate_existing=True))
    return list(result.scalars())


async def test_a_completed_run_is_recorded_with_its_counts_and_failures(
    sessionmaker: async_sessionmaker[AsyncSession], session: AsyncSession
) -> None:
    source = ListSource(
        [
            Batch([snapshot("acme/one", "httpx", "rich")], records=1, progress=1),
            Batch(
                [snapshot("acme/two", "httpx")],
                failures=["two/package.json:3: invalid JSON"],
                records=2,
                progress=1,
            ),
        ]
    )

    summary = await run(sessionmaker, source)

    [execution] = await executions_of(session)
    assert (execution.job_type, execution.status) == ("ingest.test", JobStatus.COMPLETED)
    assert execution.records_processed == 3
    assert execution.args == {"batches": 2}
    assert execution.started_at is not None
    assert execution.completed_at is not None
    assert execution.meta["source"] == "manifest"
    assert (execution.meta["repositories"], execution.meta["packages"]) == (2, 2)
    assert (execution.meta["edges"], execution.meta["failed"]) == (3, 1)
    assert execution.meta["failures"] == ["two/package.json:3: invalid JSON"]
    assert not summary.ok
    counts = select(Package.normalized_name, Package.dependent_repositories_count)
    assert {row[0]: row[1] for row in await session.execute(counts)} == {"httpx": 2, "rich": 1}


async def test_a_run_that_breaks_is_recorded_as_failed_and_keeps_earlier_batches(
    sessionmaker: async_sessionmaker[AsyncSession], session: AsyncSession
) -> None:
    source = ListSource(
        [Batch([snapshot("acme/one", "httpx")], records=1), Batch([snapshot("acme/two")])],
        explode_after=1,
    )

    with pytest.raises(OSError, match="the disk went away"):
        await run(sessionmaker, source)

    [execution] = await executions_of(session)
    assert execution.status == JobStatus.FAILED
    assert execution.error_message == "OSError: the disk went away"
    assert execution.records_processed == 1
    names = (await session.execute(select(Repository.full_name))).scalars().all()
    assert names == ["acme/one"]
    # The rollups of the committed batch are brought up to date all the same.
    counts = select(Package.dependent_repositories_count, Package.ranked_organizations_count)
    assert (await session.execute(counts)).one() == (1, 1)


async def test_execution_records_can_be_started_completed_and_failed(
    sessionmaker: async_sessionmaker[AsyncSession], session: AsyncSession
) -> None:
    async with session_scope(sessionmaker) as scoped:
        started = await executions.start(scoped, "ingest.other", args={"n": 1})
    async with session_scope(sessionmaker) as scoped:
        failed = await executions.fail(
            scoped, started.id, "x" * 20_000, records_processed=5, metadata={"at": "row 5"}
        )

    assert failed.status == JobStatus.FAILED
    assert failed.error_message is not None
    assert len(failed.error_message) == executions.MAX_ERROR_CHARS
    assert (failed.records_processed, failed.meta) == (5, {"at": "row 5"})
    assert failed.attempts == 1


async def test_finishing_an_unknown_execution_is_an_error(session: AsyncSession) -> None:
    with pytest.raises(NotFound):
        await executions.complete(session, uuid.uuid4(), records_processed=0)
