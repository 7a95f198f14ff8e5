from __future__ import annotations

from uuid import uuid4

import pytest

from ledger.domain.base import new_event
from ledger.domain.catalogue import SPECS
from ledger.domain.corrections import (
    decide_approve_correction,
    decide_correct,
    decide_reject_correction,
    takes_effect,
)
from ledger.domain.events_case import CorrectionApproved, EventCorrected
from ledger.domain.folding import corrections_of, pending_corrections
from ledger.domain.manufacturing import decide_quarantine, decide_record_qc
from ledger.errors import Forbidden, InvalidEvent, RuleViolation
from ledger.streams import user_stream

from .conftest import Ledger


def correct(led: Ledger, stream, event_id, reason="transcription error", as_roles=("qa",), by="qa", **changes):
    return led.run(decide_correct, led.streams[stream], event_id, reason, changes, roles=as_roles, actor=by)


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
    assert led.unit(unit).qc[0].result == "pass"  # a QC result is GMP-critical: pending until approved
    (again,) = correct(led, unit, event["event_id"], value=62.5)
    assert again["data"]["changes"] == [{"field": "value", "old": 92.5, "new": 62.5}]
    assert set(pending_corrections(led.streams[unit])) == {fix["event_id"], again["event_id"]}


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


@pytest.fixture
def failed(staffed: Ledger):
    """A sterility FAIL recorded by the lab, corrected to PASS by an operator: pending."""
    led = staffed
    led.add_user("qa.rae", "Rae Quill", ["qa"])
    unit = led.label(led.enrol(), "final_product_bag", actor="op")
    (qc,) = led.run(decide_record_qc, led.unit(unit), test="sterility", result="fail", actor="lab")
    (fix,) = correct(led, unit, qc["event_id"], as_roles=("operator",), by="op.olga", result="pass")
    return led, unit, fix


def review(led: Ledger, unit, fix, by: str, meaning: str | None = "approved", approve: bool = True):
    esign = led.sign(by, meaning) if meaning else None
    signer = led.user(by) if meaning else None
    if approve:
        return led.run(decide_approve_correction, led.streams[unit], fix["event_id"], "checked the raw data",
                       esign=esign, signer=signer, actor=by)
    return led.run(decide_reject_correction, led.streams[unit], fix["event_id"], "no evidence of a typo",
                   esign=esign, signer=signer, actor=by)


def review_refused(*args, **kwargs) -> str:
    with pytest.raises(RuleViolation) as err:
        review(*args, **kwargs)
    return err.value.code


def test_a_gmp_critical_correction_is_pending_until_another_person_approves_it_signed(failed) -> None:
    led, unit, fix = failed
    assert led.unit(unit).qc[0].result == "fail"
    assert list(pending_corrections(led.streams[unit])) == [fix["event_id"]]
    assert corrections_of(led.streams[unit]) == {}
    assert review_refused(led, unit, fix, "qa.quinn", meaning=None) == "ESIGNATURE_REQUIRED"
    assert review_refused(led, unit, fix, "qa.quinn", meaning="reviewed") == "WRONG_SIGNATURE_MEANING"
    assert review_refused(led, unit, fix, "dr.chen") == "SIGNER_NOT_AUTHORISED"  # a clinician is not QA
    assert led.unit(unit).qc[0].result == "fail"
    (approved,) = review(led, unit, fix, "qa.quinn")
    assert approved["type"] == "CorrectionApproved" and approved["esign"]["meaning"] == "approved"
    assert approved["data"]["changes"] == fix["data"]["changes"]  # the signature covers what is approved
    assert led.unit(unit).qc[0].result == "pass"
    assert pending_corrections(led.streams[unit]) == {}
    assert review_refused(led, unit, fix, "qa.rae") == "CORRECTION_NOT_PENDING"


def test_the_corrector_does_not_approve_their_own_correction(failed) -> None:
    led, unit, _ = failed
    qc = led.streams[unit][1]
    (own,) = correct(led, unit, qc["event_id"], by="qa.quinn", result="pass")
    assert review_refused(led, unit, own, "qa.quinn") == "CORRECTION_SELF_APPROVAL"
    review(led, unit, own, "qa.rae")
    assert led.unit(unit).qc[0].result == "pass"


def test_a_rejected_correction_never_applies(failed) -> None:
    led, unit, fix = failed
    assert review_refused(led, unit, fix, "qa.quinn", meaning=None, approve=False) == "ESIGNATURE_REQUIRED"
    (rejected,) = review(led, unit, fix, "qa.quinn", meaning="reviewed", approve=False)
    assert rejected["type"] == "CorrectionRejected"
    assert review_refused(led, unit, fix, "qa.rae") == "CORRECTION_NOT_PENDING"
    assert led.unit(unit).qc[0].result == "fail" and pending_corrections(led.streams[unit]) == {}


def test_a_stored_approval_by_the_corrector_or_unsigned_changes_nothing(failed) -> None:
    """The fold checks the four eyes again: an approval that bypassed the decision does nothing."""
    led, unit, fix = failed
    approval = new_event(unit, CorrectionApproved, correction_event_id=fix["event_id"],
                         corrected_event_id=fix["data"]["corrected_event_id"], corrected_type="QCResultRecorded",
                         changes=fix["data"]["changes"])
    led.append([approval], actor="qa.quinn")  # not signed
    led.add_user("op.olga", "Olga Ortiz", ["qa"])  # the corrector, signing
    led.append([approval], actor="op.olga", esign=led.sign("op.olga", "approved"))
    assert led.unit(unit).qc[0].result == "fail"
    assert list(pending_corrections(led.streams[unit])) == [fix["event_id"]]


def test_an_expiry_widening_is_pending_and_a_typo_applies_at_once(failed) -> None:
    led, unit, _ = failed
    labelled = led.streams[unit][0]
    (widen,) = correct(led, unit, labelled["event_id"], as_roles=("operator",), by="op.olga",
                       spec={"expiry": "2099-01-01T00:00:00Z"})
    assert led.unit(unit).spec.expiry is None
    review(led, unit, widen, "qa.rae")
    assert led.unit(unit).spec.expiry.year == 2099
    (held,) = led.run(decide_quarantine, led.unit(unit), "excursoin", actor="qa.quinn")
    (typo,) = led.run(decide_correct, led.streams[unit], held["event_id"], "spelling", {"reason": "excursion"},
                      roles=("qa",), actor="qa.quinn")
    assert corrections_of(led.streams[unit])[held["event_id"]] == {"reason": "excursion"}
    assert typo["event_id"] not in pending_corrections(led.streams[unit])
    assert review_refused(led, unit, typo, "qa.rae") == "CORRECTION_NOT_PENDING"


def test_gmp_critical_fields_are_declared_in_the_specs() -> None:
    assert SPECS["QCResultRecorded"].needs_approval(["method"])
    assert SPECS["UnitLabelled"].needs_approval(["spec"])
    assert not SPECS["UnitQuarantined"].needs_approval(["reason"])
    assert SPECS["CustodyAcknowledged"].needs_approval(["to_party"])
    assert not SPECS["CustodyAcknowledged"].needs_approval(["condition"])
    typo = EventCorrected(corrected_event_id=uuid4(), corrected_type="CaseOnHold", reason="typo",
                          changes=[{"field": "reason", "old": "a", "new": "b"}])
    critical = typo.model_copy(update={"corrected_type": "QCResultRecorded"})
    assert takes_effect(typo) and not takes_effect(critical)
