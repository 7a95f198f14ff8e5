"""Request ids, structured JSON logs and Prometheus metrics.

Logs never carry secrets or patient identifiers: only method, route template, status,
duration, request id and principal id are logged; never bodies, query strings or headers.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

access_log = logging.getLogger("ledger.access")


class JsonFormatter(logging.Formatter):
    FIELDS = ("request_id", "method", "route", "status", "duration_ms", "principal")

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for field in self.FIELDS:
            value = getattr(record, field, None)
            if value is not None:
                entry[field] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def configure_logging(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger("ledger")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "ledger_http_requests_total", "HTTP requests", ["method", "route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "ledger_http_request_seconds", "HTTP request latency", ["method", "route"], registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.events_appended = Counter(
            "ledger_events_appended_total", "Events appended to the ledger", registry=self.registry
        )
        self.projection_lag = Gauge(
            "ledger_projection_lag_events", "Events in the log not yet applied by the read models",
            registry=self.registry,
        )
        self.alerts_open = Gauge("ledger_alerts_open", "Alerts raised and not cleared", registry=self.registry)
        self.alert_timers_due = Gauge("ledger_alert_timers_due", "Alert timers due and not yet fired",
                                      registry=self.registry)
        self.alert_timer_lag = Gauge("ledger_alert_timer_lag_seconds", "How late the oldest due alert timer is",
                                     registry=self.registry)
        # Webhooks (ledger/webhooks/delivery.py): this process's deliveries, and the outbox's rows by state
        self.webhook_deliveries = Counter(
            "ledger_webhook_deliveries_total", "Webhook deliveries answered 2xx", registry=self.registry)
        self.webhook_failures = Counter(
            "ledger_webhook_failures_total", "Webhook delivery attempts that failed", registry=self.registry)
        self.webhook_dead_letters = Counter(
            "ledger_webhook_dead_letters_total", "Webhook rows given up (dead letters)", registry=self.registry)
        self.webhook_lag = Histogram(
            "ledger_webhook_lag_seconds", "Webhook lag from the event's commit to its delivery",
            registry=self.registry, buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300))
        self.webhook_queue = Gauge(
            "ledger_webhook_outbox_rows", "Webhook outbox rows by state", ["state"], registry=self.registry)

    # the delivery worker's observer (ledger.webhooks.delivery.Observer)
    def delivered(self, latency: float, lag: float) -> None:
        self.webhook_deliveries.inc()
        self.webhook_lag.observe(max(lag, 0.0))

    def failed(self) -> None:
        self.webhook_failures.inc()

    def dead(self) -> None:
        self.webhook_dead_letters.inc()


class RequestContext:
    """Pure ASGI middleware: a request id (the caller's ``X-Request-ID`` if printable and at most
    64 characters, else a new one) in ``request.state`` and on the answer, the request counted and
    timed by route template, and one access-log line. An exception the app raises passes through
    unrecorded (the server answers 500), as before."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = Headers(scope=scope).get("x-request-id", "")
        request_id = incoming if 0 < len(incoming) <= 64 and incoming.isprintable() else uuid.uuid4().hex
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        status = 0
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)["X-Request-ID"] = request_id
            await send(message)

        await self.app(scope, receive, send_with_id)
        elapsed = time.perf_counter() - started
        route = getattr(scope.get("route"), "path", "unmatched")
        method = scope["method"]
        self.metrics.requests.labels(method, route, str(status)).inc()
        self.metrics.latency.labels(method, route).observe(elapsed)
        access_log.info(
            "request",
            extra={
                "request_id": request_id,
                "method": method,
                "route": route,
                "status": status,
                "duration_ms": round(elapsed * 1000, 2),
                "principal": state.get("principal_id"),
            },
        )
