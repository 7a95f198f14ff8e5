"""The alert decisions, pure: one raise per open alert and per cause, clear only while open."""

from __future__ import annotations

from datetime import UTC, datetime

from ledger.domain.alerts import decide_clear, decide_raise, fold
from ledger.domain.events_alert import alert_id
from ledger.streams import alert_stream
from ledger.timefmt import parse_utc

LABEL = "UNT-838C-9DM7-9"
DUE = datetime(2026, 12, 2, tzinfo=UTC)
RAISE = {"kind": "near_expiry", "subject": LABEL, "sites": ["H2", "H1", "H1"], "severity": "warning",
         "message": f"{LABEL} expires soon"}


def stored(events):
    return [{"type": e.type, "data": e.data} for e in events]


def test_a_raise_names_its_stream_by_kind_and_subject_and_sorts_its_sites():
    event, = decide_raise(fold([]), **RAISE, cause="e-1", due_at=DUE)
    assert event.stream == alert_stream(alert_id("near_expiry", LABEL)) == alert_stream(f"near_expiry:{LABEL}")
    assert event.data["sites"] == ["H1", "H2"] and parse_utc(event.data["due_at"]) == DUE
    assert event.data["cause"] == "e-1" and event.data["coi"] is None


def test_an_open_alert_or_a_seen_cause_raises_nothing_and_only_an_open_alert_clears():
    history = stored(decide_raise(fold([]), **RAISE, cause="e-1"))
    assert decide_raise(fold(history), **RAISE, cause="e-2") == []  # open: fires once
    assert decide_clear(fold([]), kind="near_expiry", subject=LABEL, reason="r") == []  # never raised
    history += stored(decide_clear(fold(history), kind="near_expiry", subject=LABEL, reason="infused", cause="e-3"))
    assert fold(history).open is False
    assert decide_clear(fold(history), kind="near_expiry", subject=LABEL, reason="again") == []
    assert decide_raise(fold(history), **RAISE, cause="e-1") == []  # that cause raised it before
    again, = decide_raise(fold(history), **RAISE, cause="e-4")
    assert again.data["cause"] == "e-4"
    unnamed, = decide_raise(fold(history), **RAISE)  # the port without a cause: named by position
    assert unnamed.data["cause"] == "seq-3"
