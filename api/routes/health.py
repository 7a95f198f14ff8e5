"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ledger.store import migrations
from ledger.timefmt import utc_now
from ledger.webhooks.delivery import queue_depth
from projections.alert_timers import timer_figures
from projections.alerts_query import open_count

from ..deps import ContainerDep
from ..errors import problem
from ..responses import Alive, Ready
from ..schemas import PROBLEMS

router = APIRouter(tags=["health"], responses=PROBLEMS)


@router.get("/healthz", summary="The process is alive", response_model=Alive)
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="The database is reachable and its schema current", response_model=Ready,
            responses={503: PROBLEMS[503]})
def readyz(container: ContainerDep):
    try:
        position = container.ledger.last_position()
        pending = migrations.pending(container.settings.database, container.engine)
    except Exception as exc:  # noqa: BLE001 - any failure to reach the database means: not ready
        return problem(503, "NOT_READY", f"database unavailable: {type(exc).__name__}",
                       headers={"Retry-After": "5"})
    if pending:
        return problem(503, "MIGRATIONS_PENDING", f"run `ledger db upgrade` ({len(pending)} pending)",
                       headers={"Retry-After": "30"})
    return {"status": "ready", "log_position": position}


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
def metrics(container: ContainerDep) -> Response:
    lag = container.ledger.last_position() - container.runner.position() if container.runner.projections else 0
    container.metrics.projection_lag.set(max(lag, 0))
    if container.alerts is not None:
        with container.engine.connect() as conn:
            container.metrics.alerts_open.set(open_count(conn))
            figures = timer_figures(conn, utc_now())
        container.metrics.alert_timers_due.set(figures["due"])
        container.metrics.alert_timer_lag.set(figures["lag_seconds"])
    if container.webhooks is not None:  # the webhook outbox's rows by state (pending: the queue's depth)
        depth = queue_depth(container.engine)
        for state in ("pending", "delivered", "dead", "cancelled"):
            container.metrics.webhook_queue.labels(state).set(depth.get(state, 0))
    return Response(generate_latest(container.metrics.registry), media_type=CONTENT_TYPE_LATEST)
