from datetime import UTC, datetime

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from tests.builders import create_registry_package
from tests.packages.conftest import Graph, build_graph
from wump.core.cache import Cache
from wump.models import JobExecution, JobStatus


async def test_stats_on_an_empty_catalogue_are_zero(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/stats")

    assert response.status_code == 200
    body = response.json()
    assert (body["packages"], body["organizations"], body["repositories"]) == (0, 0, 0)
    assert body["dependencies"] == 0
    assert body["last_ingested_at"] is None
    assert {item["ecosystem"] for item in body["by_ecosystem"]} >= {"pypi", "npm", "cargo"}
    assert all(item["dependencies"] == 0 for item in body["by_source"])


async def test_stats_count_the_graph_by_ecosystem_and_source(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    graph: Graph = await build_graph(session)
    await create_registry_package(session, ecosystem="npm", name="left-pad")
    finished = datetime(2030, 1, 1, tzinfo=UTC)
    session.add(
        JobExecution(
            job_type="ingest.organization", status=JobStatus.COMPLETED, completed_at=finished
        )
    )
    await session.commit()

    body = (await client.get("/api/v1/stats")).json()

    assert body["packages"] == 3
    # The deleted owner is not counted; its repository still is, until it is purged.
    assert body["organizations"] == 6
    assert body["repositories"] == len(graph.repositories)
    assert body["dependencies"] == 14
    by_ecosystem = {item["ecosystem"]: item for item in body["by_ecosystem"]}
    # Per ecosystem, the packages' counters: edges of live owners only.
    assert by_ecosystem["pypi"] == {"ecosystem": "pypi", "packages": 2, "dependencies": 13}
    assert by_ecosystem["npm"] == {"ecosystem": "npm", "packages": 1, "dependencies": 0}
    by_source = {item["source"]: item["dependencies"] for item in body["by_source"]}
    # The graph's httpx edges were reported by manifest and SBOM; the requests edge by manifest.
    assert by_source["manifest"] == 14
    assert by_source["sbom"] == 13
    assert by_source["depsdev"] == 0
    assert datetime.fromisoformat(body["last_ingested_at"]) == finished


async def test_stats_are_cached_until_the_global_generation_moves(
    client: httpx.AsyncClient, session: AsyncSession, cache: Cache
) -> None:
    first = await client.get("/api/v1/stats")
    await create_registry_package(session, ecosystem="gem", name="rails")
    await session.commit()

    cached = await client.get("/api/v1/stats")
    not_modified = await client.get(
        "/api/v1/stats", headers={"If-None-Match": first.headers["etag"]}
    )
    await cache.bump("global", ["stats"])
    fresh = await client.get("/api/v1/stats")

    assert cached.json()["packages"] == 0
    assert not_modified.status_code == 304
    assert fresh.json()["packages"] == 1
    assert first.headers["cache-control"] == "public, max-age=300"
