from __future__ import annotations

from uuid import uuid4

import pytest

from ledger.domain.base import new_event
from ledger.domain.corrections import decide_correct
from ledger.domain.events_case import EventCorrected
from ledger.domain.manufacturing import decide_record_qc
from ledger.errors import Forbidden, InvalidEvent, RuleViolation
from ledger.streams import user_stream

from .conftest import Ledger


def correct(led: Ledger, stream, event_id, reason="transcription error", as_roles=("qa",), **changes):
    return led.run(decide_correct, led.streams[stream], event_id, reason, changes, roles=as_roles, actor="qa")


def refused(*args, **kwargs) -> str:
    with pytest.raises(RuleViolation) as err:
        correct(*args, **kwargs)
    return err.value.code


@pytest.fixture
def qc(ledger: Ledger):
    case = ledger.enrol()
    unit = ledger.label(case, "final_product_bag", actor="op")
    (event,) = ledger.run(decide_record_qc, ledger.unit(unit), test="viability", result="pass",
                          value=92.5, actor="lab")
    return ledger, unit, event


def test_correction_records_old_and_new_and_state_follows(qc) -> None:
    led, unit, event = qc
    original = dict(event["data"])
    (fix,) = correct(led, unit, event["event_id"], result="fail", value=52.5)
    assert fix["type"] == "EventCorrected" and fix["stream"] == str(unit)
    assert fix["data"]["corrected_event_id"] == event["event_id"]
    assert fix["data"]["changes"] == [{"field": "result", "old": "pass", "new": "fail"},
                                      {"field": "value", "old": 92.5, "new": 52.5}]
    assert led.streams[unit][event["seq"] - 1]["data"] == original  # never changed
    assert led.unit(unit).qc[0].result == "fail"
    (again,) = correct(led, unit, event["event_id"], value=62.5)
    assert again["data"]["changes"] == [{"field": "value", "old": 52.5, "new": 62.5}]


def test_correction_refusals(qc) -> None:
    led, unit, event = qc
    eid = event["event_id"]
    assert refused(led, unit, eid, reason="  ", value=1) == "CORRECTION_REASON_REQUIRED"
    assert refused(led, unit, eid) == "CORRECTION_EMPTY"
    assert refused(led, unit, uuid4(), value=1) == "EVENT_NOT_FOUND"
    assert refused(led, unit, eid, colour="red") == "CORRECTION_FIELD_UNKNOWN"
    assert refused(led, unit, eid, result="pass") == "CORRECTION_NO_CHANGE"
    labelled = led.streams[unit][0]
    assert refused(led, unit, labelled["event_id"], as_roles=("operator",),
                   coi="COI-0000-0000-0") == "CORRECTION_NOT_ALLOWED"
    with pytest.raises(InvalidEvent):
        correct(led, unit, eid, result="maybe")
    (fix,) = correct(led, unit, eid, value=93.0)
    assert refused(led, unit, fix["event_id"], corrected_type="X") == "NOT_CORRECTABLE"


def test_identity_and_key_events_are_not_correctable(staffed: Ledger) -> None:
    led = staffed
    stream = user_stream("qa.quinn")
    issued = next(e for e in led.streams[stream] if e["type"] == "UserSigningKeyIssued")
    assert refused(led, stream, issued["event_id"], algorithm="RSA") == "NOT_CORRECTABLE"
    created = led.streams[stream][0]
    for roles in (("qa",), ("admin",)):
        assert refused(led, stream, created["event_id"], as_roles=roles, roles=["admin"]) == "NOT_CORRECTABLE"
        assert refused(led, stream, created["event_id"], as_roles=roles, printed_name="Q") == "NOT_CORRECTABLE"
    assert led.user("qa.quinn").roles == ("qa",)


def test_the_corrector_must_be_allowed_to_record_the_type(qc) -> None:
    led, unit, event = qc
    for roles in ((), ("courier",), ("clinician", "auditor")):
        with pytest.raises(Forbidden):
            correct(led, unit, event["event_id"], as_roles=roles, result="fail")
    labelled = led.streams[unit][0]
    with pytest.raises(Forbidden):  # QA may not label, so may not correct a label's spec
        correct(led, unit, labelled["event_id"], product="other")
    assert led.unit(unit).qc[0].result == "pass"
    (fix,) = correct(led, unit, event["event_id"], as_roles=("operator",), value=93.0)
    assert fix["data"]["changes"] == [{"field": "value", "old": 92.5, "new": 93.0}]


def test_a_correction_already_in_the_ledger_of_a_role_grants_nothing(staffed: Ledger) -> None:
    """A ledger written before the refusal may hold one: it stays as evidence, without effect."""
    led = staffed
    stream = user_stream("dr.chen")
    created = led.streams[stream][0]
    led.append([new_event(stream, EventCorrected, corrected_event_id=created["event_id"],
                          corrected_type="UserCreated", reason="self-promotion",
                          changes=[{"field": "roles", "old": ["clinician"], "new": ["clinician", "admin"]}])],
               actor="dr.chen")
    assert led.streams[stream][-1]["type"] == "EventCorrected"
    assert led.user("dr.chen").roles == ("clinician",)
