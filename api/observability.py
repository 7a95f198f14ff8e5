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
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import Response

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


class RequestContext(BaseHTTPMiddleware):
    def __init__(self, app: Any, metrics: Metrics) -> None:
        super().__init__(app)
        self.metrics = metrics

    async def dispatch(self, request: Request, call_next: Any) -> Response:
        incoming = request.headers.get("x-request-id", "")
        request_id = incoming if 0 < len(incoming) <= 64 and incoming.isprintable() else uuid.uuid4().hex
        request.state.request_id = request_id
        started = time.perf_counter()
        response = await call_next(request)
        elapsed = time.perf_counter() - started
        route = getattr(request.scope.get("route"), "path", "unmatched")
        self.metrics.requests.labels(request.method, route, str(response.status_code)).inc()
        self.metrics.latency.labels(request.method, route).observe(elapsed)
        response.headers["X-Request-ID"] = request_id
        access_log.info(
            "request",
            extra={
                "request_id": request_id,
                "method": request.method,
                "route": route,
                "status": response.status_code,
                "duration_ms": round(elapsed * 1000, 2),
                "principal": getattr(request.state, "principal_id", None),
            },
        )
        return response
