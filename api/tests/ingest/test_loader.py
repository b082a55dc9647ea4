from collections.abc import Sequence
from typing import Any, cast

import pytest
from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.builders import create_package
from wump.core.bulk import BulkWriter
from wump.core.cache import Cache
from wump.core.db import commit, session_scope
from wump.ingest import loader as loader_module
from wump.ingest.identity import Ecosystem
from wump.ingest.loader import Loader, RepositoryRef, Snapshot
from wump.ingest.parsers.base import ParsedDependency
from wump.models import (
    Dependency,
    DependencySource,
    DependencyType,
    DependentOwner,
    Organization,
    OwnerKind,
    Package,
    Repository,
)

MANIFEST = DependencySource.MANIFEST
SBOM = DependencySource.SBOM
ECOSYSTEMS = DependencySource.ECOSYSTEMS


def dep(
    name: str,
    requirement: str = "*",
    *,
    ecosystem: Ecosystem = Ecosystem.PYPI,
    kind: DependencyType = DependencyType.RUNTIME,
    direct: bool = True,
    manifest: str = "requirements.txt",
) -> ParsedDependency:
    return ParsedDependency(
        ecosystem=ecosystem,
        name=name,
        requirement=requirement,
        dependency_type=kind,
        is_direct=direct,
        manifest_path=manifest,
    )


def snap(
    full_name: str,
    dependencies: Sequence[ParsedDependency],
    source: DependencySource = MANIFEST,
    **fields: Any,
) -> Snapshot:
    replace = fields.pop("replace", True)
    repository = RepositoryRef.parse(full_name, **fields)
    return Snapshot(repository, source, list(dependencies), replace=replace)


async def edges(session: AsyncSession) -> dict[tuple[str, str], Dependency]:
    rows = await session.execute(
        select(Repository.full_name, Package.purl, Dependency)
        .join(Repository, Repository.id == Dependency.repository_id)
        .join(Package, Package.id == Dependency.package_id)
        .execution_options(populate_existing=True)
    )
    return {(repo, purl): edge for repo, purl, edge in rows}


async def table_contents(session: AsyncSession) -> dict[str, list[dict[str, Any]]]:
    contents: dict[str, list[dict[str, Any]]] = {}
    for model in (Organization, Repository, Package, Dependency, DependentOwner):
        table = cast(Table, model.__table__)
        order = list(table.primary_key.columns)
        result = await session.execute(select(table).order_by(*order))
        contents[table.name] = [
            {k: v for k, v in row._mapping.items() if k != "last_seen_at"} for row in result
        ]
    return contents


async def test_first_load_creates_owner_repository_packages_and_edges(
    session: AsyncSession,
) -> None:
    stats = await Loader(session).load(
        [
            snap(
                "Acme/Rocket",
                [
                    dep("httpx", ">=0.27"),
                    dep("Flask_SQLAlchemy", "==3.1"),
                    dep("pytest", kind=DependencyType.TEST, manifest="requirements-dev.txt"),
                    dep("react", "^18", ecosystem=Ecosystem.NPM, manifest="web/package.json"),
                ],
                stars=42,
                owner_kind=OwnerKind.ORGANIZATION,
                language="Python",
            )
        ]
    )
    await commit(session)

    assert (stats.snapshots, stats.repositories_new, stats.packages_new, stats.edges) == (
        1,
        1,
        4,
        4,
    )
    repository = (await session.execute(select(Repository))).scalar_one()
    owner = (await session.execute(select(Organization))).scalar_one()
    assert (repository.full_name, repository.full_name_key, repository.stars) == (
        "Acme/Rocket",
        "acme/rocket",
        42,
    )
    assert repository.html_url == "https://github.com/Acme/Rocket"
    assert repository.primary_language == "Python"
    assert (owner.login, owner.login_key, owner.kind) == ("Acme", "acme", OwnerKind.ORGANIZATION)
    assert (owner.total_repositories, owner.total_stars) == (1, 42)
    stored = await edges(session)
    assert set(stored) == {
        ("Acme/Rocket", "pkg:pypi/httpx"),
        ("Acme/Rocket", "pkg:pypi/flask-sqlalchemy"),
        ("Acme/Rocket", "pkg:pypi/pytest"),
        ("Acme/Rocket", "pkg:npm/react"),
    }
    flask = stored[("Acme/Rocket", "pkg:pypi/flask-sqlalchemy")]
    assert (flask.requirement, flask.source, flask.sources) == ("==3.1", MANIFEST, MANIFEST.bit)
    assert stored[("Acme/Rocket", "pkg:pypi/pytest")].dependency_type == DependencyType.TEST
    package = (
        await session.execute(select(Package).where(Package.normalized_name == "flask-sqlalchemy"))
    ).scalar_one()
    assert package.name == "Flask_SQLAlchemy"


async def test_reingesting_the_same_snapshots_changes_nothing_but_last_seen_at(
    session: AsyncSession,
) -> None:
    batch = [
        snap("acme/rocket", [dep("httpx", ">=0.27"), dep("rich")], stars=3),
        snap("acme/engine", [dep("httpx"), dep("lodash", ecosystem=Ecosystem.NPM)]),
        snap("someone/tool", [dep("typer")], owner_kind=OwnerKind.USER),
    ]
    await Loader(session).load(batch)
    await commit(session)
    before = await table_contents(session)
    seen_before = {key: edge.last_seen_at for key, edge in (await edges(session)).items()}

    stats = await Loader(session).load(batch)
    await commit(session)

    assert await table_contents(session) == before
    assert (stats.repositories_new, stats.packages_new, stats.edges_removed) == (0, 0, 0)
    seen_after = {key: edge.last_seen_at for key, edge in (await edges(session)).items()}
    assert all(seen_after[key] > seen_before[key] for key in seen_before)


async def test_duplicate_packages_in_one_snapshot_become_one_edge_with_the_strongest_type(
    session: AsyncSession,
) -> None:
    await Loader(session).load(
        [
            snap(
                "acme/rocket",
                [
                    dep("pytest", "==8", kind=DependencyType.TEST, manifest="requirements-dev.txt"),
                    dep("PyTest", ">=7", manifest="requirements.txt", direct=False),
                ],
            )
        ]
    )

    stored = await edges(session)
    assert list(stored) == [("acme/rocket", "pkg:pypi/pytest")]
    edge = stored[("acme/rocket", "pkg:pypi/pytest")]
    assert (edge.dependency_type, edge.requirement, edge.is_direct) == (
        DependencyType.RUNTIME,
        ">=7",
        True,
    )


async def test_a_new_snapshot_drops_edges_its_source_no_longer_reports(
    session: AsyncSession,
) -> None:
    loader = Loader(session)
    await loader.load([snap("acme/rocket", [dep("httpx"), dep("requests"), dep("rich")])])
    await loader.load([snap("acme/rocket", [dep("httpx", ">=1"), dep("typer")])])
    await commit(session)

    stored = await edges(session)
    assert set(stored) == {("acme/rocket", "pkg:pypi/httpx"), ("acme/rocket", "pkg:pypi/typer")}
    assert stored[("acme/rocket", "pkg:pypi/httpx")].requirement == ">=1"


async def test_replacing_one_source_keeps_the_edges_other_sources_reported(
    session: AsyncSession,
) -> None:
    loader = Loader(session)
    await loader.load([snap("acme/rocket", [dep("httpx"), dep("rich")], source=SBOM)])
    await loader.load([snap("acme/rocket", [dep("httpx", "==0.28"), dep("typer")])])
    await loader.load([snap("acme/rocket", [dep("typer")])])
    await commit(session)

    stored = await edges(session)
    assert set(stored) == {
        ("acme/rocket", "pkg:pypi/httpx"),
        ("acme/rocket", "pkg:pypi/rich"),
        ("acme/rocket", "pkg:pypi/typer"),
    }
    httpx = stored[("acme/rocket", "pkg:pypi/httpx")]
    # The manifest no longer lists httpx: its bit is gone, the SBOM's stays.
    assert DependencySource.from_mask(httpx.sources) == [SBOM]
    assert DependencySource.from_mask(stored[("acme/rocket", "pkg:pypi/typer")].sources) == [
        MANIFEST
    ]


async def test_the_most_precise_source_provides_an_edges_details(
    session: AsyncSession,
) -> None:
    loader = Loader(session)
    key = ("acme/rocket", "pkg:pypi/httpx")
    await loader.load(
        [snap("acme/rocket", [dep("httpx", "0.28.1", direct=False, manifest="bom.json")], SBOM)]
    )
    await loader.load([snap("acme/rocket", [dep("httpx", ">=0.20")])])
    await loader.load([snap("acme/rocket", [dep("httpx")], ECOSYSTEMS)])

    edge = (await edges(session))[key]
    # The manifest outranks the SBOM, and a provider listing outranks neither.
    assert (edge.requirement, edge.is_direct, edge.manifest_path, edge.source) == (
        ">=0.20",
        True,
        "requirements.txt",
        MANIFEST,
    )
    assert set(DependencySource.from_mask(edge.sources)) == {SBOM, MANIFEST, ECOSYSTEMS}

    await loader.load([snap("acme/rocket", [], MANIFEST)])
    await loader.load([snap("acme/rocket", [dep("httpx", "0.28.2", manifest="bom.json")], SBOM)])

    edge = (await edges(session))[key]
    # The manifest no longer lists httpx, so the SBOM's details take over again.
    assert (edge.requirement, edge.source) == ("0.28.2", SBOM)
    assert set(DependencySource.from_mask(edge.sources)) == {SBOM, ECOSYSTEMS}


@pytest.mark.parametrize("repository_exists", [True, False])
async def test_details_in_one_batch_come_from_the_most_precise_source(
    session: AsyncSession, repository_exists: bool
) -> None:
    loader = Loader(session)
    if repository_exists:
        await loader.load([snap("acme/rocket", [dep("rich")])])
    await loader.load(
        [
            snap("acme/rocket", [dep("httpx", "~=0.28")]),
            snap("acme/rocket", [dep("httpx")], ECOSYSTEMS),
        ]
    )

    edge = (await edges(session))[("acme/rocket", "pkg:pypi/httpx")]
    assert (edge.requirement, edge.source) == ("~=0.28", MANIFEST)
    assert set(DependencySource.from_mask(edge.sources)) == {MANIFEST, ECOSYSTEMS}


async def test_snapshots_without_replace_only_add_edges(session: AsyncSession) -> None:
    loader = Loader(session)
    await loader.load([snap("acme/rocket", [dep("httpx"), dep("rich")])])
    await loader.load([snap("acme/rocket", [dep("typer")], replace=False)])

    assert len(await edges(session)) == 3


async def test_an_empty_snapshot_removes_every_edge_of_its_source(session: AsyncSession) -> None:
    loader = Loader(session)
    await loader.load([snap("acme/rocket", [dep("httpx"), dep("rich")])])
    stats = await loader.load([snap("acme/rocket", [])])

    assert stats.edges_removed == 2
    assert await edges(session) == {}
    assert (await session.execute(select(Repository.full_name))).scalar_one() == "acme/rocket"


async def test_invalid_package_names_are_reported_and_never_stored(
    session: AsyncSession,
) -> None:
    stats = await Loader(session).load(
        [
            snap(
                "acme/rocket",
                [
                    dep("httpx"),
                    dep("not a/valid/name", ecosystem=Ecosystem.NPM, manifest="package.json"),
                    dep("   ", manifest="requirements.txt"),
                ],
            )
        ]
    )

    assert len(stats.invalid) == 2
    assert all(message.startswith("acme/rocket: ") for message in stats.invalid)
    assert "package.json" in stats.invalid[0]
    purls = (await session.execute(select(Package.purl))).scalars().all()
    assert purls == ["pkg:pypi/httpx"]


async def test_an_invalid_repository_name_fails_only_its_snapshot(session: AsyncSession) -> None:
    bad = Snapshot(RepositoryRef(owner="acme", name="no spaces"), MANIFEST, [dep("rich")])
    stats = await Loader(session).load([bad, snap("acme/rocket", [dep("httpx")])])

    assert len(stats.failures) == 1
    assert "no spaces" in stats.failures[0]
    assert set(await edges(session)) == {("acme/rocket", "pkg:pypi/httpx")}


async def test_a_failure_mid_snapshot_keeps_the_other_repositories_and_nothing_half_written(
    session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    loader = Loader(session)
    await loader.load([snap("acme/first", [dep("httpx")])])
    await commit(session)
    doomed: set[int] = set()
    real_upsert = loader_module.Loader._upsert_repositories
    real_copy = BulkWriter.copy

    async def upsert(self: Loader, rows: Any, now: Any) -> Any:
        result = await real_upsert(self, rows, now)
        doomed.clear()
        doomed.update(id_ for (_, key), id_ in result[0].items() if key == "doomed/second")
        return result

    async def copy(self: Any, table: Any, columns: Any, rows: Any) -> None:
        # Fail while writing the edges of one repository: its owner, repository and
        # packages are written by then, and must all be rolled back with it.
        if table.name == "dependencies" and any(row[0] in doomed for row in rows):
            raise RuntimeError("disk full")
        await real_copy(self, table, columns, rows)

    monkeypatch.setattr(loader_module.Loader, "_upsert_repositories", upsert)
    monkeypatch.setattr(BulkWriter, "copy", copy)
    stats = await loader.load(
        [
            snap("acme/before", [dep("rich")]),
            snap("doomed/second", [dep("only-in-doomed"), dep("httpx")]),
            snap("acme/after", [dep("typer")]),
        ]
    )
    await commit(session)

    assert stats.snapshots == 2
    assert len(stats.failures) == 1
    assert stats.failures[0].startswith("doomed/second: ")
    assert "disk full" in stats.failures[0]
    names = set((await session.execute(select(Repository.full_name))).scalars())
    assert names == {"acme/first", "acme/before", "acme/after"}
    logins = set((await session.execute(select(Organization.login))).scalars())
    assert logins == {"acme"}
    packages = set((await session.execute(select(Package.normalized_name))).scalars())
    assert packages == {"httpx", "rich", "typer"}
    totals = await session.execute(select(Organization.total_repositories))
    assert totals.scalar_one() == 3


async def test_owner_totals_follow_repositories_and_stars(session: AsyncSession) -> None:
    loader = Loader(session)
    await loader.load(
        [
            snap("acme/one", [dep("httpx")], stars=10),
            snap("ACME/two", [dep("httpx")], stars=5),
            snap("other/three", [], stars=1),
        ]
    )
    await loader.load([snap("acme/one", [dep("httpx")], stars=20)])

    rows = await session.execute(
        select(Organization.login_key, Organization.total_repositories, Organization.total_stars)
    )
    totals = {key: (count, stars) for key, count, stars in rows}
    assert totals == {"acme": (2, 25), "other": (1, 1)}


async def test_unknown_metadata_never_overwrites_what_is_stored(session: AsyncSession) -> None:
    loader = Loader(session)
    await loader.load(
        [snap("acme/one", [], stars=10, owner_kind=OwnerKind.USER, description="Rockets")]
    )
    await loader.load([snap("acme/one", [dep("httpx")])])

    repository = (
        await session.execute(select(Repository).execution_options(populate_existing=True))
    ).scalar_one()
    owner = (
        await session.execute(select(Organization).execution_options(populate_existing=True))
    ).scalar_one()
    assert (repository.stars, repository.description) == (10, "Rockets")
    assert owner.kind == OwnerKind.USER


async def test_cache_generations_are_bumped_after_commit_only(
    sessionmaker: async_sessionmaker[AsyncSession], cache: Cache
) -> None:
    async with sessionmaker() as session:
        await Loader(session, cache=cache).load([snap("acme/one", [dep("httpx")])])
        package_id = (await session.execute(select(Package.id))).scalar_one()
        owner_id = (await session.execute(select(Organization.id))).scalar_one()
        assert await cache.version("package", package_id) == 0
        await commit(session)

    assert await cache.version("package", package_id) == 1
    assert await cache.version("organization", owner_id) == 1


async def test_cache_generations_are_not_bumped_when_the_run_rolls_back(
    sessionmaker: async_sessionmaker[AsyncSession], cache: Cache
) -> None:
    seen: list[int] = []

    async def run_and_abort() -> None:
        async with session_scope(sessionmaker) as session:
            await Loader(session, cache=cache).load([snap("acme/one", [dep("httpx")])])
            seen.extend((await session.execute(select(Package.id))).scalars())
            raise RuntimeError("abort")

    with pytest.raises(RuntimeError, match="abort"):
        await run_and_abort()

    assert seen
    assert await cache.version("package", seen[0]) == 0


async def test_two_sources_in_one_batch_each_replace_only_their_own_report(
    session: AsyncSession,
) -> None:
    loader = Loader(session)
    await loader.load([snap("acme/rocket", [dep("httpx"), dep("rich")])])
    await loader.load(
        [
            snap("acme/rocket", [dep("rich")]),
            snap("acme/rocket", [dep("httpx"), dep("typer")], source=SBOM),
        ]
    )

    masks = {purl: edge.sources for (_, purl), edge in (await edges(session)).items()}
    assert masks == {
        # The manifest dropped httpx in this batch; the SBOM reported it.
        "pkg:pypi/httpx": SBOM.bit,
        "pkg:pypi/rich": MANIFEST.bit,
        "pkg:pypi/typer": SBOM.bit,
    }


async def test_a_package_whose_purl_is_taken_is_reported_and_the_batch_goes_on(
    session: AsyncSession,
) -> None:
    # A row stored by some other path under another name, holding httpx's purl.
    await create_package(
        session, name="not-httpx", normalized_name="not-httpx", purl="pkg:pypi/httpx"
    )

    stats = await Loader(session).load([snap("acme/rocket", [dep("httpx"), dep("rich")])])

    assert stats.failures == []
    assert stats.invalid == [
        "acme/rocket: pypi package 'httpx' conflicts with a stored package's purl"
    ]
    assert set(await edges(session)) == {("acme/rocket", "pkg:pypi/rich")}


async def test_a_package_stored_between_lookup_and_insert_is_not_stored_twice(
    session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another writer stores `httpx` after this batch looked its packages up: the
    # lookup saw none stored, so the insert runs without its anti-join and collides.
    stored = await create_package(session, name="httpx", purl="pkg:pypi/httpx")
    real_ids = Loader._ids
    lookups: list[str] = []

    async def lookup_before_the_other_writer(
        self: Loader, target: Table, stage: Table, keys: Sequence[str]
    ) -> dict[Any, int]:
        lookups.append(target.name)
        if lookups.count("packages") == 1 and target.name == "packages":
            return {}
        return await real_ids(self, target, stage, keys)

    monkeypatch.setattr(Loader, "_ids", lookup_before_the_other_writer)

    stats = await Loader(session).load([snap("acme/rocket", [dep("httpx"), dep("rich")])])
    await commit(session)

    assert stats.failures == []
    assert stats.packages_new == 1
    packages = (await session.execute(select(Package.name, Package.id))).all()
    assert sorted(name for name, _ in packages) == ["httpx", "rich"]
    stored_edges = await edges(session)
    assert stored_edges[("acme/rocket", "pkg:pypi/httpx")].package_id == stored.id
    assert lookups.count("packages") == 2  # looked up again after the collision


def _staged_packages(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Records the package names each `stage` of the packages' staging table held."""
    batches: list[list[str]] = []
    real_stage = BulkWriter.stage

    async def stage(self: BulkWriter, table: Table, rows: Sequence[Any]) -> None:
        if table.name == "wump_stage_packages":
            batches.append(sorted(row[1] for row in rows))
        await real_stage(self, table, rows)

    monkeypatch.setattr(BulkWriter, "stage", stage)
    return batches


async def test_packages_committed_by_an_earlier_batch_are_not_looked_up_again(
    session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    staged = _staged_packages(monkeypatch)
    loader = Loader(session)
    await loader.load([snap("acme/one", [dep("httpx"), dep("rich")])])
    await commit(session)

    await loader.load([snap("acme/two", [dep("httpx"), dep("pydantic")])])
    await commit(session)

    assert staged == [["httpx", "rich"], ["pydantic"]]
    stored = await edges(session)
    ids = dict((await session.execute(select(Package.purl, Package.id))).all())
    assert stored[("acme/two", "pkg:pypi/httpx")].package_id == ids["pkg:pypi/httpx"]
    assert stored[("acme/two", "pkg:pypi/pydantic")].package_id == ids["pkg:pypi/pydantic"]


async def test_package_ids_of_a_batch_that_was_not_committed_are_not_reused(
    session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    staged = _staged_packages(monkeypatch)
    loader = Loader(session)
    await loader.load([snap("acme/one", [dep("httpx")])])
    # No commit yet: the next batch looks `httpx` up again.
    await loader.load([snap("acme/two", [dep("httpx")])])

    assert staged == [["httpx"], ["httpx"]]


async def test_a_stale_cached_package_id_costs_a_retry_not_the_batch(
    session: AsyncSession,
) -> None:
    loader = Loader(session)
    await loader.load([snap("acme/one", [dep("httpx")])])
    await commit(session)
    # As if the cached id had been voided after it was cached: it names no package.
    loader._package_ids = dict.fromkeys(loader._package_ids, 999_999)

    stats = await loader.load(
        [snap("acme/two", [dep("httpx")]), snap("acme/three", [dep("httpx")])]
    )
    await commit(session)

    assert stats.failures == []
    stored = await edges(session)
    package_id = (await session.execute(select(Package.id))).scalar_one()
    assert {edge.package_id for edge in stored.values()} == {package_id}
    assert len(stored) == 3
