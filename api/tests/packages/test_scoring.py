import dataclasses
import math
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.packages.conftest import Graph
from wump.core.config import ScoringWeights
from wump.core.deps import Resources
from wump.models.base import UTCDateTime
from wump.packages.scoring import Scorer
from wump.rollups.service import Rollups

AS_OF = datetime(2026, 6, 1, tzinfo=UTC)


def _row(**overrides: object) -> dict[str, object]:
    row: dict[str, object] = {
        "repositories": 0,
        "stars": 0,
        "recent": False,
        "runtime": 0,
        "kind": "user",
        "is_verified": False,
        "company": None,
        "website_url": None,
        "has_sponsors_listing": None,
        "sponsors_others_count": None,
    }
    return row | overrides


def test_points_always_add_up_to_100() -> None:
    heavy = ScoringWeights(repositories_weight=300, stars_weight=100, runtime_weight=0)

    assert sum(Scorer(ScoringWeights(), AS_OF).points().values()) == pytest.approx(100)
    assert sum(Scorer(heavy, AS_OF).points().values()) == pytest.approx(100)
    assert Scorer(heavy, AS_OF).points()["runtime"] == 0


def test_log_factors_saturate() -> None:
    scorer = Scorer(ScoringWeights(), AS_OF)

    at_cap = scorer.factors(_row(repositories=100, stars=100_000))
    beyond = scorer.factors(_row(repositories=5_000, stars=10**9))
    one = scorer.factors(_row(repositories=1, stars=1))

    assert at_cap.repositories == beyond.repositories == 30.0
    assert at_cap.stars == beyond.stars == 25.0
    assert one.repositories == pytest.approx(30 * math.log(2) / math.log(101), abs=0.01)
    assert one.stars == pytest.approx(25 * math.log(2) / math.log(100_001), abs=0.01)


@pytest.mark.parametrize(
    ("overrides", "factor", "points"),
    [
        ({"kind": "organization"}, "organization", 10.0),
        ({"is_verified": True}, "verified", 5.0),
        ({"company": "Initech"}, "contact", 5.0),
        ({"website_url": "https://initech.example"}, "contact", 5.0),
        ({"company": ""}, "contact", 0.0),
        ({"recent": True}, "recent_activity", 10.0),
        ({"runtime": 1}, "runtime", 10.0),
        ({"has_sponsors_listing": True}, "sponsorship", 5.0),
        ({"sponsors_others_count": 2}, "sponsorship", 5.0),
        ({"has_sponsors_listing": False, "sponsors_others_count": 0}, "sponsorship", 0.0),
    ],
)
def test_each_signal_earns_its_points(
    overrides: dict[str, object], factor: str, points: float
) -> None:
    factors = Scorer(ScoringWeights(), AS_OF).factors(_row(**overrides))

    assert getattr(factors, factor) == points
    assert sum(factors.model_dump().values()) == points


@pytest.mark.parametrize(
    ("pushed_at", "recent"),
    [
        (AS_OF - timedelta(days=89), True),
        (AS_OF - timedelta(days=90), True),
        (AS_OF - timedelta(days=91), False),
        (None, False),
    ],
)
async def test_recent_activity_is_a_push_inside_the_window(
    session: AsyncSession, pushed_at: datetime | None, recent: bool
) -> None:
    scorer = Scorer(ScoringWeights(), AS_OF)

    value = await session.scalar(select(scorer.recent(literal(pushed_at, UTCDateTime()))))

    assert bool(value) is recent


def test_weights_of_zero_need_one_positive_weight() -> None:
    zero = dict.fromkeys(
        [
            "repositories_weight",
            "stars_weight",
            "organization_weight",
            "verified_weight",
            "contact_weight",
            "recent_activity_weight",
            "runtime_weight",
            "sponsorship_weight",
        ],
        0.0,
    )
    with pytest.raises(ValueError, match="positive"):
        ScoringWeights(**zero)


async def test_configured_weights_change_the_ranking(
    started_app: FastAPI, client: httpx.AsyncClient, session: AsyncSession, graph: Graph
) -> None:
    resources: Resources = started_app.state.resources
    # Only stars count: the most starred owner must lead, with every point from stars.
    stars_only = ScoringWeights(
        repositories_weight=0,
        stars_weight=1,
        organization_weight=0,
        verified_weight=0,
        contact_weight=0,
        recent_activity_weight=0,
        runtime_weight=0,
        sponsorship_weight=0,
    )
    settings = resources.settings.model_copy(update={"scoring": stars_only})
    started_app.state.resources = dataclasses.replace(resources, settings=settings)
    # Stored scores follow the weights once the rollup is rebuilt (`wump rollups rebuild`).
    await Rollups(session, stars_only).rebuild()
    await session.commit()

    body = (await client.get("/api/v1/packages/pypi/httpx/dependents")).json()

    assert [item["organization"]["login"] for item in body["dependents"]] == [
        "Wayne",
        "acme",
        "hooli",
        "jdoe",
    ]
    wayne = body["dependents"][0]
    assert wayne["score"] == pytest.approx(100 * math.log(50_001) / math.log(100_001), abs=0.01)
    assert wayne["score_factors"]["organization"] == 0.0
