"""The auditor and QA portal: server-rendered pages over the read models (see docs/PORTAL.md)."""

from fastapi import APIRouter

from . import downloads, pages

router = APIRouter(include_in_schema=False)
router.include_router(pages.router)
router.include_router(downloads.router)

__all__ = ["router"]
