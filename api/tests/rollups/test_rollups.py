"""`dependent_owners` and the package counters stay equal to a rebuild from the edges."""

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tests.builders import empty_graph
from tests.ingest.test_loader import dep, snap
from wump.core.config import ScoringWeights
from wump.ingest import loader as loader_module
from wump.ingest.loader import Loader
from wump.models import (
    DependencySource,
    DependencyType,
    DependentOwner,
    Organization,
    OwnerKind,
    Package,
)
from wump.packages.scoring import Scorer
from wump.rollups.service import Rollups, scored_as_of

DEV = DependencyType.DEVELOPMENT


@pytest.fixture(autouse=True)
async def _no_other_graph(session: AsyncSession) -> None:
    # These tests compare whole tables with a rebuild of all of them.
    await empty_graph(session)


PUSHED = datetime(2026, 11, 20, tzinfo=UTC)


async def state(session: AsyncSession) -> tuple[list[dict[str, Any]], list[tuple[Any, ...]]]:
    rows = await session.execute(
        select(DependentOwner.__table__).order_by(
            DependentOwner.package_id, DependentOwner.owner_id
        )
    )
    rollups = [
        {**row._mapping, "score": round(row.score, 6)}
        for row in rows  # float noise only
    ]
    counters = await session.execute(
        select(
            Package.normalized_name,
            Package.dependent_repositories_count,
            Package.dependent_organizations_count,
            Package.ranked_repositories_count,
            Package.ranked_organizations_count,
        ).order_by(Package.id)
    )
    return rollups, [tuple(row) for row in counters]


async def assert_same_as_rebuild(session: AsyncSession) -> None:
    incremental = await state(session)
    await Rollups(session, ScoringWeights()).rebuild()
    assert await state(session) == incremental


async def counters(session: AsyncSession, name: str) -> tuple[int, int, int, int]:
    row = (
        await session.execute(
            select(
                Package.dependent_repositories_count,
                Package.dependent_organizations_count,
                Package.ranked_repositories_count,
                Package.ranked_organizations_count,
            ).where(Package.normalized_name == name)
        )
    ).one()
    return tuple(row)  # type: ignore[return-value]


async def test_counters_count_every_edge_and_the_ranked_view(session: AsyncSession) -> None:
    loader = Loader(session)
    await loader.load(
        [
            snap("acme/api", [dep("httpx"), dep("pytest", kind=DEV)], stars=10),
            snap("acme/web", [dep("httpx")], stars=5, is_fork=True),
            snap("acme/old", [dep("httpx")], stars=7, is_archived=True),
            snap("bob/tool", [dep("httpx", kind=DEV)], stars=1),
            snap("carol/app", [dep("httpx")], stars=3, pushed_at=PUSHED),
        ]
    )

    # Every edge: 4 repositories of 3 owners... plus bob's dev use: 5 edges, 3 owners.
    assert await counters(session, "httpx") == (5, 3, 2, 2)
    assert await counters(session, "pytest") == (1, 1, 0, 0)
    acme = (
        await session.execute(
            select(DependentOwner)
            .join(Organization, Organization.id == DependentOwner.owner_id)
            .join(Package, Package.id == DependentOwner.package_id)
            .where(Organization.login == "acme", Package.normalized_name == "httpx")
        )
    ).scalar_one()
    assert (acme.edges, acme.repositories, acme.stars) == (3, 1, 10)
    await assert_same_as_rebuild(session)


async def test_rescans_metadata_changes_and_second_sources_stay_exact(
    session: AsyncSession,
) -> None:
    loader = Loader(session)
    await loader.load(
        [
            snap("acme/api", [dep("httpx"), dep("rich"), dep("attrs")], stars=10),
            snap("acme/cli", [dep("httpx"), dep("rich", kind=DEV)], stars=2),
            snap("dana/lab", [dep("httpx")], stars=40, pushed_at=PUSHED),
        ]
    )
    await assert_same_as_rebuild(session)

    # A rescan drops an edge, a star count and fork flag change, another source adds one.
    await loader.load(
        [
            snap("acme/api", [dep("httpx"), dep("attrs")], stars=30),
            snap("dana/lab", [dep("httpx")], is_fork=True),
            snap("dana/lab", [dep("rich")], DependencySource.SBOM),
        ]
    )
    # dana/lab is a fork now, whichever of its two snapshots said so; acme/cli's rich is dev.
    assert await counters(session, "rich") == (2, 2, 0, 0)
    assert await counters(session, "httpx") == (3, 2, 2, 1)
    await assert_same_as_rebuild(session)

    # Enrichment without a snapshot: only metadata.
    refs = [snap("acme/cli", [], stars=99, is_archived=True).repository]
    await loader.update_repositories(refs)
    assert await counters(session, "httpx") == (3, 2, 1, 1)
    await assert_same_as_rebuild(session)


async def test_identical_reload_leaves_rollups_unchanged(session: AsyncSession) -> None:
    batch = [snap("acme/api", [dep("httpx"), dep("rich")], stars=10, pushed_at=PUSHED)]
    loader = Loader(session)
    await loader.load(batch)
    before = await state(session)
    await loader.load(batch)
    assert await state(session) == before


async def test_deleted_owner_leaves_the_rollups_and_counters(session: AsyncSession) -> None:
    await Loader(session).load(
        [snap("acme/api", [dep("httpx")], stars=10), snap("bob/x", [dep("httpx")], stars=1)]
    )
    acme = (
        await session.execute(select(Organization).where(Organization.login == "acme"))
    ).scalar_one()
    acme.deleted_at = datetime.now(UTC)
    await session.flush()
    await Rollups(session, ScoringWeights()).refresh_owners([acme.id])

    assert await counters(session, "httpx") == (1, 1, 1, 1)
    await assert_same_as_rebuild(session)


async def test_score_matches_the_explained_factors(session: AsyncSession) -> None:
    await Loader(session).load(
        [snap("acme/api", [dep("httpx")], stars=1200, pushed_at=datetime.now(UTC))]
    )
    await session.execute(
        update(Organization)
        .where(Organization.login == "acme")
        .values(kind=OwnerKind.ORGANIZATION.value, is_verified=True, company="Acme")
    )
    acme_id = (await session.execute(select(Organization.id))).scalar_one()
    await Rollups(session, ScoringWeights()).refresh_owners([acme_id])
    row = (
        await session.execute(
            select(DependentOwner, Organization).join(
                Organization, Organization.id == DependentOwner.owner_id
            )
        )
    ).one()
    rollup, owner = row
    scorer = Scorer(ScoringWeights(), scored_as_of())
    factors = scorer.factors(
        {
            "repositories": rollup.repositories,
            "stars": rollup.stars,
            "recent": rollup.recent,
            "runtime": 1,
            "kind": owner.kind,
            "is_verified": owner.is_verified,
            "company": owner.company,
            "website_url": owner.website_url,
            "has_sponsors_listing": owner.has_sponsors_listing,
            "sponsors_others_count": owner.sponsors_others_count,
        }
    )
    assert rollup.recent is True
    assert factors.verified > 0
    assert factors.recent_activity > 0
    assert abs(sum(factors.model_dump().values()) - rollup.score) < 0.05


async def test_rescore_takes_recent_points_off_when_the_push_ages_out(
    session: AsyncSession,
) -> None:
    weights = ScoringWeights()
    then = datetime(2026, 12, 1, tzinfo=UTC)
    loader = Loader(session)
    loader.rollups = Rollups(session, weights, now=then)
    await loader.load([snap("acme/api", [dep("httpx")], stars=10, pushed_at=PUSHED)])
    before = (await session.execute(select(DependentOwner))).scalar_one()
    score_then, recent_then = before.score, before.recent

    later = Rollups(session, weights, now=datetime(2027, 6, 1, tzinfo=UTC))
    assert await later.rescore_stale() == 1
    session.expire_all()
    after = (await session.execute(select(DependentOwner))).scalar_one()

    assert recent_then is True
    assert after.recent is False
    points = Scorer(weights, then).points()["recent_activity"]
    assert abs((score_then - after.score) - points) < 1e-6
    # The same as scoring from scratch on that day.
    rescored = after.score
    await later.rebuild()
    session.expire_all()
    assert abs((await session.execute(select(DependentOwner.score))).scalar_one() - rescored) < 1e-6
    assert await later.rescore_stale() == 0


@pytest.mark.parametrize(
    ("pending_pairs", "pair_cost", "whole_packages"),
    [
        (1_000_000, 0, False),  # pairs are cheap: they are refreshed one by one
        (1_000_000, 1_000, True),  # pairs cost more than these packages' edges
        (1, 0, True),  # the run outgrew the pairs it may remember
    ],
)
async def test_a_deferred_run_ends_exact_by_pairs_or_by_packages(
    session: AsyncSession,
    monkeypatch: pytest.MonkeyPatch,
    pending_pairs: int,
    pair_cost: int,
    whole_packages: bool,
) -> None:
    recomputed: list[int] = []
    original = Rollups.refresh_packages

    async def spy(self: Rollups, package_ids: Any) -> int:
        recomputed.extend(package_ids)
        return await original(self, package_ids)

    monkeypatch.setattr(Rollups, "refresh_packages", spy)
    monkeypatch.setattr(loader_module, "_PENDING_PAIRS", pending_pairs)
    monkeypatch.setattr(loader_module, "_PAIR_COST", pair_cost)
    monkeypatch.setattr(loader_module, "_PENDING_CHUNK", 1)
    await Loader(session).load([snap("zed/old", [dep("httpx")], stars=3)])
    loader = Loader(session, defer_rollups=True)
    await loader.load(
        [
            snap("acme/api", [dep("httpx"), dep("rich")], stars=10),
            snap("zed/old", [dep("rich")], stars=4),
        ]
    )
    # Deferred: the counters still show the state before the run.
    assert await counters(session, "httpx") == (1, 1, 1, 1)

    assert await loader.finish() == 2
    assert bool(recomputed) is whole_packages
    assert await counters(session, "httpx") == (1, 1, 1, 1)  # zed dropped it, acme added it
    assert await counters(session, "rich") == (2, 2, 2, 2)
    await assert_same_as_rebuild(session)
    assert await loader.finish() == 0
