"""An alert's stream folded, and the two decisions on it: raise and clear.

Both are idempotent by design: raising an alert that is open, or raising again for a cause that
already raised it, decides nothing; so does clearing one that is not open. A timer fired twice (a
worker killed after the append but before it marked the timer done) therefore records one event.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..streams import alert_stream
from .base import NewEvent, new_event
from .events_alert import AlertCleared, AlertRaised, alert_id


@dataclass
class AlertState:
    open: bool = False
    causes: set[str] = field(default_factory=set)
    events: int = 0


def fold(envelopes: Iterable[Mapping[str, Any]]) -> AlertState:
    state = AlertState()
    for env in envelopes:
        state.events += 1
        state.causes.add(str(env["data"].get("cause")))
        if env["type"] == AlertRaised.__name__:
            state.open = True
        elif env["type"] == AlertCleared.__name__:
            state.open = False
    return state


def decide_raise(state: AlertState, *, kind: str, subject: str, sites: Iterable[str], severity: str,
                 message: str, coi: str | None = None, due_at: datetime | None = None,
                 cause: str | None = None) -> list[NewEvent]:
    """``AlertRaised`` unless the alert is open or ``cause`` raised it before."""
    cause = cause or f"seq-{state.events + 1}"
    if state.open or cause in state.causes:
        return []
    ident = alert_id(kind, subject)
    return [new_event(alert_stream(ident), AlertRaised, alert_id=ident, kind=kind, subject=subject, coi=coi,
                      sites=sorted(set(sites)), severity=severity, message=message, due_at=due_at, cause=cause)]


def decide_clear(state: AlertState, *, kind: str, subject: str, reason: str,
                 cause: str | None = None) -> list[NewEvent]:
    """``AlertCleared`` if the alert is open (nothing otherwise)."""
    cause = cause or f"seq-{state.events + 1}"
    if not state.open or cause in state.causes:
        return []
    ident = alert_id(kind, subject)
    return [new_event(alert_stream(ident), AlertCleared, alert_id=ident, kind=kind, subject=subject,
                      reason=reason, cause=cause)]
