"""Cache-aside with generations, single-flight, HTTP validators and recorded interest."""

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tests.packages.conftest import Graph
from wump.core.cache import Cache, MemoryBackend
from wump.core.config import ScoringWeights
from wump.core.deps import Resources
from wump.core.http_cache import SingleFlight, cached_json, etag_matches
from wump.models import Dependency, Package, Repository
from wump.rollups.service import Rollups

DEPENDENTS = "/api/v1/packages/pypi/httpx/dependents"


async def _set_stars(session: AsyncSession, repository: Repository, stars: int) -> None:
    """What the loader does when a repository's stars change: the row, its edges, the rollup."""
    await session.execute(
        update(Repository).where(Repository.id == repository.id).values(stars=stars)
    )
    await session.execute(
        update(Dependency).where(Dependency.repository_id == repository.id).values(stars=stars)
    )
    rollups = Rollups(session, ScoringWeights())
    await rollups.refresh(await rollups.pairs_of_repositories([repository.id]))
    await session.commit()


async def test_dependents_are_served_from_cache_until_the_package_generation_moves(
    client: httpx.AsyncClient, session: AsyncSession, cache: Cache, graph: Graph
) -> None:
    before = (await client.get(DEPENDENTS)).json()
    await _set_stars(session, graph.repositories["acme/payments"], 1)

    cached = (await client.get(DEPENDENTS)).json()
    await cache.bump("package", [graph.package.id])
    fresh = (await client.get(DEPENDENTS)).json()

    assert cached == before
    assert fresh != before
    assert (
        next(i for i in fresh["dependents"] if i["organization"]["login"] == "acme")["total_stars"]
        == 301
    )


async def test_other_packages_generations_do_not_invalidate(
    client: httpx.AsyncClient, session: AsyncSession, cache: Cache, graph: Graph
) -> None:
    before = (await client.get(DEPENDENTS)).json()
    await _set_stars(session, graph.repositories["acme/payments"], 1)

    await cache.bump("package", [graph.other_package.id])
    await cache.bump("organization", [graph.organizations["acme"].id])

    assert (await client.get(DEPENDENTS)).json() == before


async def test_cache_keys_include_the_filters(client: httpx.AsyncClient, graph: Graph) -> None:
    everyone = (await client.get(DEPENDENTS)).json()
    users = (await client.get(DEPENDENTS, params={"kind": "user"})).json()
    # Equivalent spellings of the same filters share the cached body.
    default_types = await client.get(
        DEPENDENTS,
        params={"dependency_type": ["runtime", "peer", "build", "optional", "runtime"]},
    )

    assert everyone["total_organizations"] == 4
    assert users["total_organizations"] == 1
    assert default_types.json() == everyone


async def test_repositories_and_detail_are_cached_per_package_too(
    client: httpx.AsyncClient, session: AsyncSession, cache: Cache, graph: Graph
) -> None:
    repositories = (await client.get(DEPENDENTS.replace("dependents", "repositories"))).json()
    detail = (await client.get("/api/v1/packages/pypi/httpx")).json()
    await _set_stars(session, graph.repositories["acme/payments"], 1)
    await session.execute(update(Package).values(latest_version="9.9.9"))
    await session.commit()

    assert (await client.get(DEPENDENTS.replace("dependents", "repositories"))).json() == (
        repositories
    )
    assert (await client.get("/api/v1/packages/pypi/httpx")).json() == detail
    await cache.bump("package", [graph.package.id])
    assert (await client.get("/api/v1/packages/pypi/httpx")).json()["latest_version"] == "9.9.9"


async def test_responses_carry_an_etag_and_answer_304_when_it_matches(
    client: httpx.AsyncClient, graph: Graph
) -> None:
    first = await client.get(DEPENDENTS)
    etag = first.headers["etag"]

    same = await client.get(DEPENDENTS, headers={"If-None-Match": etag})
    listed = await client.get(DEPENDENTS, headers={"If-None-Match": f'W/"other", {etag}'})
    star = await client.get(DEPENDENTS, headers={"If-None-Match": "*"})
    other = await client.get(DEPENDENTS, headers={"If-None-Match": 'W/"stale"'})

    assert etag.startswith('W/"')
    assert first.headers["cache-control"] == "public, max-age=300"
    assert first.headers["vary"] == "Accept"
    assert same.status_code == 304
    assert same.content == b""
    assert same.headers["etag"] == etag
    assert listed.status_code == 304
    assert star.status_code == 304
    assert other.status_code == 200
    assert other.json() == first.json()


async def test_etag_changes_when_the_body_does(
    client: httpx.AsyncClient, session: AsyncSession, cache: Cache, graph: Graph
) -> None:
    etag = (await client.get(DEPENDENTS)).headers["etag"]
    await _set_stars(session, graph.repositories["acme/payments"], 1)
    await cache.bump("package", [graph.package.id])

    response = await client.get(DEPENDENTS, headers={"If-None-Match": etag})

    assert response.status_code == 200
    assert response.headers["etag"] != etag


class _BrokenBackend(MemoryBackend):
    async def get(self, key: str) -> bytes | None:
        raise ConnectionError("cache is down")

    async def set(self, key: str, value: bytes, ttl_seconds: int) -> None:
        raise ConnectionError("cache is down")


async def test_a_cache_outage_never_fails_a_request(
    started_app: FastAPI, client: httpx.AsyncClient, graph: Graph
) -> None:
    resources: Resources = started_app.state.resources
    started_app.state.resources = dataclasses.replace(resources, cache=Cache(_BrokenBackend()))

    response = await client.get(DEPENDENTS)

    assert response.status_code == 200
    assert response.json()["total_organizations"] == 4


async def test_interest_is_recorded_at_most_once_an_hour(
    client: httpx.AsyncClient, session: AsyncSession, graph: Graph
) -> None:
    async def last_requested() -> datetime | None:
        statement = select(Package.last_requested_at).where(Package.id == graph.package.id)
        return (await session.execute(statement)).scalar_one()

    assert await last_requested() is None
    await client.get(DEPENDENTS)
    first = await last_requested()
    await client.get(DEPENDENTS, params={"kind": "user"})
    second = await last_requested()
    two_hours_ago = datetime.now(UTC) - timedelta(hours=2)
    await session.execute(
        update(Package)
        .where(Package.id == graph.package.id)
        .values(last_requested_at=two_hours_ago)
    )
    await session.commit()
    await client.get(DEPENDENTS)
    third = await last_requested()

    assert first is not None
    assert datetime.now(UTC) - first < timedelta(minutes=1)
    assert second == first
    assert third is not None
    assert third > two_hours_ago + timedelta(hours=1)


class _Body(BaseModel):
    value: int


async def test_concurrent_misses_for_one_key_compute_once(cache: Cache) -> None:
    calls = 0
    release = asyncio.Event()

    async def compute() -> _Body:
        nonlocal calls
        calls += 1
        await release.wait()
        return _Body(value=calls)

    tasks = [asyncio.create_task(cached_json(cache, "k1", 60, compute)) for _ in range(10)]
    await asyncio.sleep(0.05)
    release.set()
    bodies = await asyncio.gather(*tasks)

    assert calls == 1
    assert set(bodies) == {b'{"value":1}'}
    assert await cache.get("k1") == b'{"value":1}'
    assert await cached_json(cache, "k1", 60, compute) == b'{"value":1}'
    assert calls == 1


async def test_followers_compute_themselves_when_the_leader_fails() -> None:
    flights = SingleFlight()
    leader_started = asyncio.Event()

    async def failing() -> bytes:
        leader_started.set()
        await asyncio.sleep(0.01)
        raise RuntimeError("database went away")

    async def working() -> bytes:
        return b"ok"

    leader = asyncio.create_task(flights.run("k", failing))
    await leader_started.wait()
    follower = asyncio.create_task(flights.run("k", working))

    with pytest.raises(RuntimeError):
        await leader
    assert await follower == b"ok"
    assert len(flights) == 0


async def test_a_cancelled_follower_does_not_cancel_the_leader() -> None:
    flights = SingleFlight()
    release = asyncio.Event()

    async def slow() -> bytes:
        await release.wait()
        return b"done"

    leader = asyncio.create_task(flights.run("k", slow))
    await asyncio.sleep(0)
    follower = asyncio.create_task(flights.run("k", slow))
    await asyncio.sleep(0)
    follower.cancel()
    release.set()

    assert await leader == b"done"
    with pytest.raises(asyncio.CancelledError):
        await follower


@pytest.mark.parametrize(
    ("header", "matches"),
    [
        (None, False),
        ("", False),
        ('W/"abc"', True),
        ('"abc"', True),
        ('W/"abd"', False),
        (' W/"x" ,W/"abc"', True),
        ("*", True),
    ],
)
def test_etag_matching_is_weak(header: str | None, matches: bool) -> None:
    assert etag_matches(header, 'W/"abc"') is matches
