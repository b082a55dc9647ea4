"""`/stats`: the size of the graph wump knows."""

from fastapi import APIRouter, Request, Response

from wump.core.deps import CacheDep, ResourcesDep, SessionDep
from wump.core.http_cache import cached_get_responses, cached_json, generation_key, json_response
from wump.stats import service
from wump.stats.schemas import Stats

router = APIRouter(prefix="/stats", tags=["stats"])


@router.get(
    "",
    response_model=Stats,
    summary="Totals of the dependency graph",
    responses=cached_get_responses(),
)
async def get_stats(
    request: Request, session: SessionDep, cache: CacheDep, resources: ResourcesDep
) -> Response:
    """How many packages, organizations, repositories and dependency edges wump knows, per
    ecosystem and per source, and when ingestion last recorded anything. Computed at most
    every 15 minutes (or after an ingestion batch), so it is cheap to poll."""
    settings = resources.settings
    key = await generation_key(cache, "global", "stats", "stats")
    body = await cached_json(
        cache, key, settings.response_cache.stats_ttl_seconds, lambda: service.stats(session)
    )
    return json_response(request, body, max_age=settings.response_cache.http_max_age_seconds)
