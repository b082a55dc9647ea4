"""A package with 10,000 dependent repositories across 2,000 organizations.

Rows go in with bulk `insert()` statements. The expected ranking is computed here,
independently, from the documented formula and default weights.
"""

import csv
import io
import math
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.builders import create_registry_package
from wump.core.config import ScoringWeights
from wump.models import Base, DependencySource, Organization, Repository
from wump.rollups.service import Rollups

ORGANIZATIONS = 2_000
PER_ORGANIZATION = 5
NOW = datetime.now(UTC)
URL = "/api/v1/packages/pypi/big-package/dependents"
TABLES = Base.metadata.tables


@dataclass
class Expected:
    login: str
    id: int
    kind: str
    verified: bool
    contact: bool
    sponsors: bool
    repositories: list[tuple[str, int]] = field(default_factory=list)
    stars: int = 0
    recent: bool = False
    runtime: bool = False

    @property
    def score(self) -> float:
        n = len(self.repositories)
        return (
            30 * min(1.0, math.log(1 + n) / math.log(101))
            + 25 * min(1.0, math.log(1 + self.stars) / math.log(100_001))
            + 10 * (self.kind == "organization")
            + 5 * self.verified
            + 5 * self.contact
            + 10 * self.recent
            + 10 * self.runtime
            + 5 * self.sponsors
        )


def _organization(i: int) -> dict[str, Any]:
    return {
        "host": "github.com",
        "login": f"org-{i:04d}",
        "login_key": f"org-{i:04d}",
        "kind": "user" if i % 10 == 0 else "organization",
        "is_verified": i % 7 == 0,
        "website_url": "https://example.com" if i % 3 == 0 else None,
        "sponsors_others_count": 1 if i % 11 == 0 else None,
    }


def _repository(i: int, j: int, owner_id: int) -> dict[str, Any]:
    return {
        "host": "github.com",
        "owner_id": owner_id,
        "name": f"repo-{j}",
        "full_name": f"org-{i:04d}/repo-{j}",
        "full_name_key": f"org-{i:04d}/repo-{j}",
        "stars": (i * 37 + j * 101) % 5_000,
        "is_fork": j == 4 and i % 2 == 0,
        "is_archived": False,
        "pushed_at": NOW - timedelta(days=5 if (i + j) % 4 else 400),
    }


def _dependency_type(i: int, j: int) -> str:
    return "test" if j == 3 and i % 5 == 0 else "runtime"


@pytest.fixture
async def big_graph(session: AsyncSession) -> list[Expected]:
    package = await create_registry_package(session, ecosystem="pypi", name="big-package")
    org_rows = [_organization(i) for i in range(ORGANIZATIONS)]
    # Core inserts on the tables: executemany without per-row ORM bookkeeping.
    await session.execute(insert(TABLES["organizations"]), org_rows)
    org_ids = await _ids(session, Organization.id, Organization.login_key, "org-%")
    repo_rows = [
        _repository(i, j, org_ids[f"org-{i:04d}"])
        for i in range(ORGANIZATIONS)
        for j in range(PER_ORGANIZATION)
    ]
    await session.execute(insert(TABLES["repositories"]), repo_rows)
    repo_ids = await _ids(session, Repository.id, Repository.full_name_key, "org-%/repo-%")
    seen = datetime(2026, 1, 1, tzinfo=UTC)
    await session.execute(
        insert(TABLES["dependencies"]),
        [
            {
                "repository_id": repo_id,
                "package_id": package.id,
                "owner_id": repo_rows[n]["owner_id"],
                "stars": repo_rows[n]["stars"],
                "dependency_type": _dependency_type(n // PER_ORGANIZATION, n % PER_ORGANIZATION),
                "is_direct": True,
                "source": DependencySource.MANIFEST.value,
                "sources": DependencySource.MANIFEST.bit,
                "first_seen_at": seen,
                "last_seen_at": seen,
            }
            for n, repo_id in enumerate(repo_ids[row["full_name_key"]] for row in repo_rows)
        ],
    )
    await Rollups(session, ScoringWeights()).rebuild()
    await session.commit()
    return _expected(org_rows, [org_ids[row["login_key"]] for row in org_rows], repo_rows)


async def _ids(session: AsyncSession, id_: Any, key: Any, pattern: str) -> dict[str, int]:
    rows = await session.execute(select(key, id_).where(key.like(pattern)))
    return {row[0]: row[1] for row in rows}


def _expected(
    org_rows: list[dict[str, Any]], org_ids: list[int], repo_rows: list[dict[str, Any]]
) -> list[Expected]:
    owners = [
        Expected(
            login=row["login"],
            id=org_ids[i],
            kind=row["kind"],
            verified=row["is_verified"],
            contact=row["website_url"] is not None,
            sponsors=row["sponsors_others_count"] is not None,
        )
        for i, row in enumerate(org_rows)
    ]
    cutoff = datetime.combine(NOW.date(), datetime.min.time(), tzinfo=UTC) - timedelta(days=90)
    for n, repo in enumerate(repo_rows):
        i, j = divmod(n, PER_ORGANIZATION)
        if repo["is_fork"] or _dependency_type(i, j) == "test":
            continue
        owner = owners[i]
        owner.repositories.append((repo["full_name"], repo["stars"]))
        owner.stars += repo["stars"]
        owner.recent = owner.recent or repo["pushed_at"] >= cutoff
        owner.runtime = True
    # Ties go to the highest owner id, the way the rollup's index is read backward.
    return sorted(owners, key=lambda owner: (-owner.score, -owner.id))


async def test_first_page_of_ten_thousand_dependents_is_ranked_correctly(
    client: httpx.AsyncClient, big_graph: list[Expected]
) -> None:
    started = time.perf_counter()
    response = await client.get(URL)
    elapsed = time.perf_counter() - started

    assert response.status_code == 200
    body = response.json()
    assert body["total_organizations"] == ORGANIZATIONS
    assert body["total_repositories"] == sum(len(owner.repositories) for owner in big_graph)
    assert body["total_repositories"] == 10_000 - 1_000 - 400
    page = body["dependents"]
    assert [item["organization"]["login"] for item in page] == [o.login for o in big_graph[:50]]
    for item, owner in zip(page, big_graph[:50], strict=True):
        assert item["score"] == pytest.approx(owner.score, abs=0.01)
        assert item["total_repositories"] == len(owner.repositories)
        assert item["total_stars"] == owner.stars
        listed = [(r["full_name"], r["stars"]) for r in item["repositories"]]
        assert listed == sorted(owner.repositories, key=lambda r: (-r[1], r[0]))
    assert body["next_cursor"] is not None
    print(f"first page of 10,000 dependents in {elapsed * 1000:.0f} ms")  # noqa: T201


async def test_second_page_continues_where_the_first_ended(
    client: httpx.AsyncClient, big_graph: list[Expected]
) -> None:
    first = (await client.get(URL, params={"limit": 500})).json()
    second = (await client.get(URL, params={"limit": 500, "cursor": first["next_cursor"]})).json()

    logins = [item["organization"]["login"] for item in first["dependents"] + second["dependents"]]
    assert logins == [owner.login for owner in big_graph[:1000]]


async def test_csv_export_streams_every_organization(
    client: httpx.AsyncClient, big_graph: list[Expected]
) -> None:
    response = await client.get(URL, params={"format": "csv", "repositories_per_organization": 1})

    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [row["login"] for row in rows] == [owner.login for owner in big_graph]
