"""Response models shared by the routers."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from ledger.services import Outcome
from ledger.store.records import Receipt

__all__ = ["PROBLEMS", "AppendResponse", "Problem", "Receipt", "append_response"]


class AppendResponse(Receipt):
    """The first event's receipt (the one the request is about), every event the step appended,
    and what the step answered (e.g. the new ``coi`` or ``unit_id``)."""

    events: list[Receipt]
    answer: dict[str, Any] = {}
    replayed: bool = False


def append_response(outcome: Outcome) -> AppendResponse:
    receipts = list(outcome.result.receipts)
    if not receipts:
        raise ValueError("a step that appended nothing has no receipt")
    return AppendResponse(**receipts[0].model_dump(), events=receipts, answer=outcome.result.answer,
                          replayed=outcome.result.replayed)


class Problem(BaseModel):
    """RFC 9457 problem details; ``code`` is the stable machine code."""

    type: str
    title: str
    status: int
    code: str
    detail: str
    errors: list[dict[str, Any]] | None = None
    recorded_event: list[str] | None = None
    current_seq: int | None = None


def _problem(description: str) -> dict[str, Any]:
    return {"model": Problem, "description": description,
            "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}


PROBLEMS: dict[int | str, dict[str, Any]] = {
    400: _problem("Bad request"),
    401: _problem("No, expired or revoked token; or failed re-authentication"),
    403: _problem("The role or site may not do this"),
    404: _problem("No such case, unit or stream"),
    409: _problem("Refused by an operational rule, a concurrent change, or a reused Idempotency-Key"),
    413: _problem("Payload too large"),
    422: _problem("Validation failed"),
    429: _problem("Too many failed password checks (sign-in, password change, e-signature) from this client or "
                  "for this account: retry after Retry-After seconds"),
    503: _problem("The database is unavailable: retry after Retry-After seconds"),
}
