"""QA's periodic review of the whole audit trail (EU GMP Annex 11 §9, 21 CFR 11.10(e)).

A review covers a range of global log positions: every case and the ledger's own records
(identity, tokens, settings, keys). Reviews are kept on one ledger stream, in order. Each must
start no later than one past where the previous ended (the first at 1), so the reviewed ranges
leave no position unreviewed behind them; a range may overlap those already reviewed (a second
look) and must end at or before the log's last position when it is decided.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from ..errors import InvalidEvent
from .base import NewEvent, new_event, refusal, require_aware
from .esign import Manifestation, require_esign
from .events_ledger import AuditLogReviewed
from .users import UserState


def reviewed_through(envelopes: Iterable[Mapping[str, Any]]) -> int:
    """The highest position the recorded reviews reached (0: none yet); as they leave no gap,
    every position up to it has been reviewed."""
    return max((env["data"]["through_position"] for env in envelopes
                if env["type"] == AuditLogReviewed.__name__), default=0)


def decide_review_audit_log(reviews: list[Mapping[str, Any]], stream: Any, *, from_position: int,
                            through_position: int, last_position: int, comment: str | None,
                            esign: Manifestation | None, signer: UserState | None, actor: str,
                            now: datetime) -> list[NewEvent]:
    """QA's signed review of positions ``from_position``..``through_position`` of the whole log
    (``reviews``: the envelopes of the reviews stream ``stream``; ``last_position``: the log's)."""
    require_aware(now)
    if not 1 <= from_position <= through_position <= last_position:
        raise InvalidEvent(f"positions {from_position}..{through_position} are not a range of the ledger "
                           f"(1..{last_position})", code="INVALID_DATA")
    reached = reviewed_through(reviews)
    if from_position > reached + 1:
        raise refusal("REVIEW_GAP", f"the reviews so far reached position {reached}: this one must start at "
                                    f"{reached + 1} or earlier, not {from_position}")
    require_esign(AuditLogReviewed.__name__, esign, signer, actor=actor)
    return [new_event(stream, AuditLogReviewed, from_position=from_position, through_position=through_position,
                      comment=comment)]
