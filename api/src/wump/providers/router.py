"""`/providers`: how each data provider has been answering."""

from fastapi import APIRouter

from wump.core.deps import ResourcesDep
from wump.jobs import monitor
from wump.providers.registry import merge_health
from wump.providers.schemas import ProviderHealthList

router = APIRouter(tags=["providers"])


@router.get("/providers", response_model=ProviderHealthList, summary="Data provider health")
async def list_providers(resources: ResourcesDep) -> ProviderHealthList:
    """Each data provider wump reads (ecosyste.ms, Libraries.io, deps.dev, GitHub), in
    the order they are asked: whether it is configured, what it can answer, requests
    sent (retries included), successes, failures, retries, answers that were unchanged
    (304), the last success, the last error (without secrets) and the provider's rate
    limit as its last answer reported it (`remaining`, `reset_at`).

    The counts add up this API process and every running worker since each started,
    so they show what the background jobs have been spending."""
    workers = await monitor.workers(resources.jobs, resources.settings)
    records = [resources.providers.health(), *(beat.providers for beat in workers)]
    order = resources.providers.order
    merged = sorted(merge_health(records), key=lambda health: _position(order, health.name))
    return ProviderHealthList(items=merged, processes=len(records))


def _position(order: list[str], name: str) -> int:
    return order.index(name) if name in order else len(order)
