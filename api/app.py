"""The FastAPI app factory: nothing happens at import time; the lifespan builds the ledger
and the read side once, and closes them on shutdown."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from anyio import to_thread
from fastapi import Depends, FastAPI
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ledger.heap import keep_what_lives
from ledger.settings import Settings

from . import errors
from .body_limit import BodyLimit
from .container import Container, build_container
from .deps import refuse_control_characters
from .observability import Metrics, RequestContext, configure_logging
from .portal import router as portal_router
from .portal.session import PortalActivity
from .routes import (
    admin,
    audit,
    auth,
    capacity,
    cases,
    deviations,
    epcis,
    events,
    exceptions,
    health,
    lanes,
    ledger_info,
    orders,
    passwords,
    products,
    qualification,
    release,
    review_queue,
    scans,
    signatures,
    signing_keys,
    site_profiles,
    subscriptions,
    tokens,
    units,
)
from .routes import alerts as alert_routes
from .routes import dossier as dossier_routes
from .routes import program as program_routes


def create_app(settings: Settings | None = None, *, container: Container | None = None,
               record_settings: bool = False, settle_heap: bool = False) -> FastAPI:
    """``record_settings``: record the effective settings at start (``SettingsRecorded``);
    ``settle_heap``: settle the heap once started (``settle_the_heap``). The service does both
    (``app_from_env``)."""
    metrics = container.metrics if container else Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = container is None
        built = container or build_container(settings or Settings())
        built.metrics = metrics
        app.state.container = built
        if record_settings:
            built.services.operations.record_settings(built.settings.recorded_values())
        # Sync routes run on anyio's thread pool (40 threads by default). More threads than
        # pooled connections only made the read pool open and close connections under load
        # (an overflow connection is closed on return): at most pool_size requests run at once.
        to_thread.current_default_thread_limiter().total_tokens = built.settings.pool_size
        if settle_heap:
            settle_the_heap()
        try:
            yield
        finally:
            if owned:
                built.close()

    app = FastAPI(
        title="COI/COC Ledger",
        version="1.0",
        summary="Chain of identity, custody and condition for cell and gene therapies",
        lifespan=lifespan,
        dependencies=[Depends(refuse_control_characters)],
    )
    errors.install(app)
    app.add_middleware(BodyLimit)  # inside RequestContext, so a 413 is logged and counted too
    app.add_middleware(RequestContext, metrics=metrics)
    for module in (health, auth, passwords, signing_keys, cases, units, events, scans, audit, exceptions, deviations,
                   signatures, admin, tokens, ledger_info, dossier_routes, epcis, qualification, release,
                   products, review_queue):
        app.include_router(module.router)
    app.include_router(alert_routes.router)
    app.include_router(subscriptions.router)  # webhooks (docs/WEBHOOKS.md)
    for module in (site_profiles, capacity, lanes, orders):  # orchestration
        app.include_router(module.router)
    app.include_router(program_routes.router)  # the program's figures (planner)
    app.include_router(portal_router)  # the auditor/QA portal: pages and static files under /portal
    app.add_middleware(PortalActivity)
    app.add_middleware(StrictTransport)  # outermost
    return app


HSTS = "max-age=31536000; includeSubDomains"


class StrictTransport:
    """Pure ASGI middleware: HSTS on every answer when the service is reached over HTTPS only
    (``LEDGER_HTTPS``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["app"].state.container.settings.https:
            await self.app(scope, receive, send)
            return

        async def with_hsts(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["Strict-Transport-Security"] = HSTS
            await send(message)

        await self.app(scope, receive, with_hsts)


def app_from_env() -> FastAPI:
    """For ``uvicorn --factory api.app:app_from_env``."""
    configure_logging()
    return create_app(record_settings=True, settle_heap=True)


def settle_the_heap() -> None:
    """Once the service has started: collect once, then keep what start-up built (~270k
    objects) out of every later collection (:func:`ledger.heap.keep_what_lives`). A batch of
    100 events allocates far more than 700 objects, and each full collection walked the whole
    start-up heap: ~15 % of a worker's CPU under batch ingest (docs/PERFORMANCE.md, B1)."""
    gc.collect()
    keep_what_lives()
