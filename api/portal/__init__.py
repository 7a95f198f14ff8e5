"""The auditor and QA portal: server-rendered pages over the read models (see docs/PORTAL.md)."""

from fastapi import APIRouter
from fastapi.responses import RedirectResponse

from . import alerts, downloads, pages, review
from . import planning as planning_pages

router = APIRouter(include_in_schema=False)
router.include_router(pages.router)
router.include_router(downloads.router)
router.include_router(review.router)
router.include_router(alerts.router)
router.include_router(planning_pages.router)


@router.get("/")
def root() -> RedirectResponse:
    """A browser pointed at the service lands on the portal (the API lives under /v1, docs at /docs)."""
    return RedirectResponse("/portal", status_code=307)

__all__ = ["router"]
