"""RFC 9457 problem details for every error, with a stable machine ``code``.

Domain refusals pass their code through; validation is 422, concurrency 409, an unavailable
database 503 with Retry-After. An unexpected exception is a bug: it is logged with the
request id and answered as a 500 problem without internals.
"""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException

from ledger.datatypes import has_control_character
from ledger.errors import LedgerError, StorageUnavailable, TooManyAttempts
from ledger.services.identity import AUTHENTICATION_CODES

PROBLEM = "application/problem+json"
log = logging.getLogger("ledger.api")

HTTP_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    406: "NOT_ACCEPTABLE",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "VALIDATION_FAILED",
    429: "TOO_MANY_REQUESTS",
}


def problem(
    status: int, code: str, detail: str, *, title: str | None = None, headers: dict | None = None, **extra: Any
) -> JSONResponse:
    body = {
        "type": f"https://coi-ledger.dev/problems/{code.lower().replace('_', '-')}",
        "title": title or code.replace("_", " ").capitalize(),
        "status": status,
        "code": code,
        "detail": detail,
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def _ledger_error(request: Request, exc: LedgerError) -> JSONResponse:
    status, code, detail = exc.status, exc.code, exc.detail
    if code in AUTHENTICATION_CODES:
        status = 401
    headers = {"Retry-After": "5"} if isinstance(exc, StorageUnavailable) else None
    if isinstance(exc, TooManyAttempts):
        headers = {"Retry-After": str(exc.extra["retry_after"])}
    if status == 401:
        headers = {"WWW-Authenticate": "Bearer"}
    extra = {k: v for k, v in exc.extra.items() if k in ("errors", "parse_errors", "current_seq", "recorded_event")}
    return problem(status, code, detail, headers=headers, **extra)


def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = [
        {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
        for e in exc.errors()[:50]
    ]
    first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
    where = ".".join(str(p) for p in first["loc"])
    control = any(
        has_control_character(text)
        for e in exc.errors() for text in (e.get("input"), *e.get("loc", ())) if isinstance(text, str)
    )
    code = "CONTROL_CHARACTER" if control else "VALIDATION_FAILED"
    return problem(422, code, f"{where}: {first['msg']}", errors=errors)


def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    code = HTTP_CODES.get(exc.status_code, "HTTP_ERROR")
    return problem(exc.status_code, code, str(exc.detail), headers=getattr(exc, "headers", None))


def _database_down(request: Request, exc: Exception) -> JSONResponse:
    log.warning("database unavailable: %s", type(exc).__name__,
                extra={"request_id": getattr(request.state, "request_id", None)})
    return problem(503, "STORAGE_UNAVAILABLE", "the database is unavailable; retry shortly",
                   headers={"Retry-After": "5"})


def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error", exc_info=exc, extra={"request_id": getattr(request.state, "request_id", None)})
    return problem(500, "INTERNAL_ERROR", "an unexpected error occurred; it has been logged")


def install(app: FastAPI) -> None:
    app.add_exception_handler(LedgerError, _ledger_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    for unavailable in (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError,
                        psycopg.OperationalError, sqlite3.OperationalError):
        app.add_exception_handler(unavailable, _database_down)
    app.add_exception_handler(Exception, _unexpected)
