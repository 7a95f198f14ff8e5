"""Response models shared by the routers."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from ledger.services import Outcome


class Receipt(BaseModel):
    event_id: str
    stream: str
    seq: int
    hash: str
    position: int
    recorded_at: str


class AppendResponse(Receipt):
    """The first event's receipt (the one the request is about), every event the step appended,
    and what the step answered (e.g. the new ``coi`` or ``unit_id``)."""

    events: list[Receipt]
    answer: dict[str, Any] = {}
    replayed: bool = False


def append_response(outcome: Outcome) -> AppendResponse:
    receipts = [Receipt(**r.to_json()) for r in outcome.result.receipts]
    if not receipts:
        raise ValueError("a step that appended nothing has no receipt")
    return AppendResponse(**receipts[0].model_dump(), events=receipts, answer=outcome.result.answer,
                          replayed=outcome.result.replayed)
