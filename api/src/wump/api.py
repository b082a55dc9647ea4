"""The versioned public API: every `/api/v1` router is mounted here."""

from fastapi import APIRouter

from wump.organizations.router import router as organizations_router
from wump.packages.router import router as packages_router
from wump.search.router import router as search_router
from wump.stats.router import router as stats_router

api_router = APIRouter(prefix="/api/v1")
api_router.include_router(packages_router)
api_router.include_router(organizations_router)
api_router.include_router(search_router)
api_router.include_router(stats_router)
