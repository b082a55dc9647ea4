"""The versioned public API: every `/api/v1` router is mounted here."""

from fastapi import APIRouter

api_router = APIRouter(prefix="/api/v1")
