"""Raising and clearing alerts: the port the rest of the system calls (the alert timers' worker,
the orchestration of orders and shipments for ``slot_at_risk`` and ``shipment_late``).

Alerts are the ledger's own records: written as ``system`` on the alert's stream, never through
``POST /v1/events``. A writer racing another to raise the same alert loses on the stream version;
the executor then reads again and decides nothing (the alert is open): it fires once.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from ..domain.alerts import decide_clear, decide_raise, fold
from ..domain.base import new_event, refusal
from ..domain.events_alert import UserContactSet, alert_id
from ..streams import alert_stream, user_stream
from .executor import Context, Executor, Outcome, Reads, Step

SYSTEM = Context(actor="system")


class AlertService:
    def __init__(self, executor: Executor) -> None:
        self.executor = executor

    def raise_alert(self, kind: str, subject: str, sites: Iterable[str], severity: str, message: str,
                    coi: str | None = None, *, due_at: datetime | None = None, cause: str | None = None) -> Outcome:
        """Raise the alert ``kind`` on ``subject`` unless it is open (or ``cause`` raised it before).
        ``message`` must carry no patient data: a label, a tracking number, a time."""
        stream, wanted = alert_stream(alert_id(kind, subject)), sorted(set(sites))

        def decide(reads: Reads, _now: datetime, _actor: str):
            return decide_raise(fold(reads.envelopes(stream)), kind=kind, subject=subject, sites=wanted,
                                severity=severity, message=message, coi=coi, due_at=due_at, cause=cause)

        return self.executor.run(Step(SYSTEM, decide))

    def clear_alert(self, kind: str, subject: str, reason: str, *, cause: str | None = None) -> Outcome:
        """Clear the alert ``kind`` on ``subject`` if it is open: its condition ended."""
        stream = alert_stream(alert_id(kind, subject))

        def decide(reads: Reads, _now: datetime, _actor: str):
            return decide_clear(fold(reads.envelopes(stream)), kind=kind, subject=subject, reason=reason, cause=cause)

        return self.executor.run(Step(SYSTEM, decide))

    def set_contact(self, ctx: Context, *, user_id: str, email: str | None) -> Outcome:
        """Record the address ``user_id`` is mailed the alerts of their sites at (an administrator's act)."""

        def decide(reads: Reads, _now: datetime, _actor: str):
            if reads.user(user_id).version == 0:
                raise refusal("USER_NOT_FOUND", f"no user {user_id}")
            return [new_event(user_stream(user_id), UserContactSet, user=user_id, email=email)]

        return self.executor.run(Step(ctx, decide))
