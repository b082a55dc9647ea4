import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from wump.ingest.sources import librariesio_dump, run
from wump.ingest.sources.librariesio_dump import LibrariesioDumpSource
from wump.models import (
    Dependency,
    DependencySource,
    DependencyType,
    Organization,
    Package,
    Repository,
)

from .test_path import stored_edges

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "librariesio_dump"
DEPENDENCIES = "repository_dependencies-1.6.0-2020-01-12.csv"
DUMP = DependencySource.LIBRARIESIO_DUMP


def copy_dump(tmp_path: Path) -> Path:
    target = tmp_path / "dump"
    shutil.copytree(FIXTURE, target)
    return target


def drop_lines(path: Path, *needles: str) -> None:
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(line for line in lines if not any(n in line for n in needles)))


async def test_the_dump_becomes_edges_across_ecosystems_and_hosts(
    sessionmaker: async_sessionmaker[AsyncSession], session: AsyncSession
) -> None:
    summary = await run(sessionmaker, LibrariesioDumpSource(FIXTURE))

    edges = await stored_edges(session)
    assert set(edges) == {
        ("acme/rocket", "pkg:pypi/httpx"),
        ("acme/rocket", "pkg:pypi/rich"),
        ("acme/rocket", "pkg:npm/react"),
        ("acme/rocket", "pkg:npm/vitest"),
        ("globex/engine", "pkg:cargo/serde"),
        ("globex/engine", "pkg:cargo/tokio"),
        ("initech/tps", "pkg:gem/rails"),
        ("hooli/nucleus", "pkg:maven/com.google.guava/guava"),
        ("hooli/nucleus", "pkg:golang/github.com/stretchr/testify"),
        ("hooli/nucleus", "pkg:composer/symfony/console"),
        ("hooli/nucleus", "pkg:nuget/newtonsoft.json"),
    }
    assert edges[("acme/rocket", "pkg:pypi/rich")].requirement == ">=13,<14"
    assert edges[("acme/rocket", "pkg:npm/vitest")].dependency_type == DependencyType.DEVELOPMENT
    assert edges[("globex/engine", "pkg:cargo/tokio")].dependency_type == DependencyType.OPTIONAL
    # Listed in package.json and in the lockfile: one edge, direct.
    react = edges[("acme/rocket", "pkg:npm/react")]
    assert (react.is_direct, react.source, react.sources) == (True, DUMP, DUMP.bit)
    hosts = dict((await session.execute(select(Repository.full_name, Repository.host))).all())
    assert hosts["initech/tps"] == "gitlab.com"
    assert summary.notes["unsupported_platform"] == 1
    assert (summary.repositories, summary.edges) == (4, 11)


async def test_a_truncated_row_is_reported_with_file_and_line_and_the_run_goes_on(
    sessionmaker: async_sessionmaker[AsyncSession], session: AsyncSession
) -> None:
    summary = await run(sessionmaker, LibrariesioDumpSource(FIXTURE))

    [failure] = summary.failures
    assert failure.startswith(f"{FIXTURE / DEPENDENCIES}:10: row has 10 fields, the header 13")
    purls = set((await session.execute(select(Package.purl))).scalars())
    assert "pkg:pypi/pytest" not in purls
    assert "pkg:nuget/newtonsoft.json" in purls


async def test_an_unterminated_quote_is_reported_with_the_line_it_starts_on(
    tmp_path: Path, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    dump = copy_dump(tmp_path)
    with (dump / DEPENDENCIES).open("a") as file:
        file.write('15,GitHub,acme/rocket,101,Pypi,requirements.txt,main,manifest,false,"typer\n')

    summary = await run(sessionmaker, LibrariesioDumpSource(dump))

    assert any(failure.startswith(f"{dump / DEPENDENCIES}:16: ") for failure in summary.failures)


async def test_repositories_and_projects_fill_in_metadata_of_what_was_loaded_only(
    sessionmaker: async_sessionmaker[AsyncSession], session: AsyncSession
) -> None:
    await run(sessionmaker, LibrariesioDumpSource(FIXTURE))

    rocket = (
        await session.execute(select(Repository).where(Repository.full_name == "acme/rocket"))
    ).scalar_one()
    assert (rocket.stars, rocket.forks, rocket.primary_language) == (1200, 85, "Python")
    assert (rocket.description, rocket.default_branch, rocket.is_fork) == (
        "Rockets, for everyone",
        "main",
        False,
    )
    assert rocket.pushed_at == datetime(2020, 1, 4, 17, 30, tzinfo=UTC)
    engine = (
        await session.execute(select(Repository).where(Repository.full_name == "globex/engine"))
    ).scalar_one()
    assert engine.is_fork
    names = set((await session.execute(select(Repository.full_name))).scalars())
    assert "nobody/unrelated" not in names
    acme = (
        await session.execute(select(Organization).where(Organization.login_key == "acme"))
    ).scalar_one()
    assert (acme.total_repositories, acme.total_stars) == (1, 1200)
    httpx = (
        await session.execute(select(Package).where(Package.purl == "pkg:pypi/httpx"))
    ).scalar_one()
    assert (httpx.description, httpx.latest_version) == (
        "The next generation HTTP client.",
        "0.11.1",
    )
    assert (httpx.homepage_url, httpx.repository_url) == (
        "https://www.python-httpx.org",
        "https://github.com/encode/httpx",
    )
    purls = set((await session.execute(select(Package.purl))).scalars())
    assert "pkg:pypi/not-depended-on" not in purls


async def test_small_batches_store_the_same_graph(
    sessionmaker: async_sessionmaker[AsyncSession],
    session: AsyncSession,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # acme/rocket's rows are spread over several batches; none may undo another.
    monkeypatch.setattr(librariesio_dump, "BATCH_ROWS", 2)

    await run(sessionmaker, LibrariesioDumpSource(FIXTURE))
    await run(sessionmaker, LibrariesioDumpSource(FIXTURE))

    edges = await stored_edges(session)
    assert len(edges) == 11
    assert {purl for repository, purl in edges if repository == "acme/rocket"} == {
        "pkg:pypi/httpx",
        "pkg:pypi/rich",
        "pkg:npm/react",
        "pkg:npm/vitest",
    }


async def test_a_newer_dump_drops_what_it_no_longer_lists(
    tmp_path: Path,
    sessionmaker: async_sessionmaker[AsyncSession],
    session: AsyncSession,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(librariesio_dump, "BATCH_ROWS", 3)
    await run(sessionmaker, LibrariesioDumpSource(FIXTURE))
    dump = copy_dump(tmp_path)
    drop_lines(dump / DEPENDENCIES, ",vitest,", ",serde,")

    summary = await run(sessionmaker, LibrariesioDumpSource(dump))

    edges = await stored_edges(session)
    assert ("acme/rocket", "pkg:npm/vitest") not in edges
    assert ("globex/engine", "pkg:cargo/serde") not in edges
    assert ("acme/rocket", "pkg:pypi/httpx") in edges
    assert summary.edges_removed == 2


async def test_an_edge_another_source_reported_survives_the_dump_dropping_it(
    tmp_path: Path,
    sessionmaker: async_sessionmaker[AsyncSession],
    session: AsyncSession,
) -> None:
    await run(sessionmaker, LibrariesioDumpSource(FIXTURE))
    rocket = (
        await session.execute(select(Repository.id).where(Repository.full_name == "acme/rocket"))
    ).scalar_one()
    vitest = (
        await session.execute(select(Package.id).where(Package.purl == "pkg:npm/vitest"))
    ).scalar_one()
    edge = await session.get(Dependency, (rocket, vitest))
    assert edge is not None
    edge.sources |= DependencySource.MANIFEST.bit
    await session.commit()
    dump = copy_dump(tmp_path)
    drop_lines(dump / DEPENDENCIES, ",vitest,")

    await run(sessionmaker, LibrariesioDumpSource(dump))

    kept = (await stored_edges(session))[("acme/rocket", "pkg:npm/vitest")]
    assert DependencySource.from_mask(kept.sources) == [DependencySource.MANIFEST]


def test_a_folder_without_repository_dependencies_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no repository_dependencies"):
        LibrariesioDumpSource(tmp_path)
