"""Review by exception, pure: what raises, clears and dispositions an exception (nothing closes
by itself), each kind's severity, the timed candidates, and QA's decisions on them (disposition,
acknowledgement of informational ones, deviations), each rule both ways."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from ledger.domain import exceptions as module
from ledger.domain.exceptions import SEVERITY, fold_exceptions
from ledger.domain.review import (
    DeviationState,
    decide_acknowledge,
    decide_close_deviation,
    decide_disposition,
    decide_open_deviation,
    fold_deviation,
)
from ledger.envelope import envelope_hash
from ledger.errors import RuleViolation
from ledger.timefmt import format_utc

from .conftest import Ledger, code_of

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
CASE, UNIT, USER = uuid4(), uuid4(), uuid4()


class Log:
    """Hand-made envelopes in log order, with their hashes."""

    def __init__(self) -> None:
        self.events: list[tuple[dict[str, Any], str]] = []
        self.now = T0

    def add(self, type_: str, data: dict[str, Any], stream: UUID = UNIT, *, minutes: float = 5) -> dict[str, Any]:
        self.now += timedelta(minutes=minutes)
        env = {"stream": str(stream), "event_id": str(uuid4()), "type": type_, "data": data,
               "recorded_at": format_utc(self.now), "occurred_at": None}
        self.events.append((env, envelope_hash(env)))
        return env

    def fold(self, now: datetime | None = None):
        return fold_exceptions(self.events, now or self.now)


def scan(verdict: str, purpose: str = "handover") -> dict[str, Any]:
    return {"purpose": purpose, "verdict": verdict, "parsed": {}, "expected": {}}


def test_every_kind_has_a_severity_and_is_in_the_module_table():
    assert set(SEVERITY.values()) == {"coi_critical", "gmp", "informational"}
    for kind in SEVERITY:
        assert f"\n{kind} " in module.__doc__, kind
    assert SEVERITY["operation_refused"] == SEVERITY["scan_mismatch"] == "coi_critical"
    assert SEVERITY["scan_wrong_step"] == SEVERITY["scan_unknown"] == "informational"


def test_a_retest_clears_without_closing_and_qa_dispositions():
    log = Log()
    failed = log.add("QCResultRecorded", {"test": "sterility", "result": "fail"})
    (exception,) = log.fold().values()
    assert (exception.exception_id, exception.severity, exception.state, exception.cleared) == (
        f"qc_failed:{failed['event_id']}", "gmp", "open", False)
    assert exception.opened_hash == log.events[0][1] and exception.blocking
    passed = log.add("QCResultRecorded", {"test": "sterility", "result": "pass"})
    (exception,) = log.fold().values()
    assert (exception.state, exception.cleared, exception.cleared_event_id) == ("open", True, passed["event_id"])
    assert exception.blocking  # cleared is not closed
    done = log.add("ExceptionDispositioned", {"exception_id": exception.exception_id, "event_hash": log.events[0][1],
                                              "classification": "no_impact", "comment": "retest valid"}, CASE)
    (exception,) = log.fold().values()
    assert (exception.state, exception.classification, exception.dispositioned_event_id) == (
        "dispositioned", "no_impact", done["event_id"])
    assert not exception.blocking


@pytest.mark.parametrize(("decision", "classification"), [("use", "no_impact"), ("discard", "product_impact")])
def test_qa_assessing_an_excursion_is_its_disposition(decision, classification):
    log = Log()
    excursion = uuid4()
    log.add("ExcursionDetected", {"excursion_id": str(excursion), "source": str(UNIT), "logger": "L1",
                                  "start": format_utc(T0), "end": format_utc(T0 + timedelta(hours=1)),
                                  "duration_s": 3600, "min_celsius": 5, "max_celsius": 12, "limit_min": 2,
                                  "limit_max": 8, "readings": 3})
    assessed = log.add("ExcursionAssessed", {"excursion_id": str(excursion), "decision": decision,
                                             "rationale": "stability data"})
    found = log.fold()
    unassessed = next(e for e in found.values() if e.kind == "excursion_unassessed")
    assert (unassessed.state, unassessed.classification, unassessed.cleared) == ("dispositioned", classification, True)
    assert unassessed.event_ids == (unassessed.opened_event_id, assessed["event_id"])
    discarded = [e for e in found.values() if e.kind == "excursion_discarded"]
    assert [e.state for e in discarded] == (["open"] if decision == "discard" else [])


def test_a_correction_approval_dispositions_the_pending_correction():
    log = Log()
    target = uuid4()
    pending = log.add("EventCorrected", {"corrected_event_id": str(target), "corrected_type": "QCResultRecorded",
                                         "reason": "typo", "changes": [{"field": "result", "old": "fail",
                                                                        "new": "pass"}]})
    log.add("CorrectionApproved", {"correction_event_id": pending["event_id"], "corrected_event_id": str(target),
                                   "corrected_type": "QCResultRecorded",
                                   "changes": [{"field": "result", "old": "fail", "new": "pass"}]})
    (exception,) = log.fold().values()
    assert (exception.kind, exception.state, exception.classification) == (
        "correction_pending", "dispositioned", "no_impact")


def test_scans_raise_one_exception_each_with_their_severity():
    log = Log()
    log.add("UnitScanned", scan("wrong_step"))
    log.add("UnitScanned", scan("unknown", "verify"), CASE)
    log.add("UnitScanned", scan("mismatch", "verify"))
    log.add("UnitScanned", scan("mismatch", "infusion"))  # refused: its OperationRefused is the exception
    found = log.fold()
    assert sorted((e.kind, e.severity) for e in found.values()) == [
        ("scan_mismatch", "coi_critical"), ("scan_unknown", "informational"), ("scan_wrong_step", "informational")]
    log.add("UnitScanned", scan("match"))
    wrong = next(e for e in log.fold().values() if e.kind == "scan_wrong_step")
    assert (wrong.state, wrong.cleared) == ("open", True)  # a later matching scan does not close it


def test_overdue_handover_is_a_candidate_judged_at_now():
    log = Log()
    log.add("CustodyTransferred", {"from_party": "nurse", "to_party": "courier"})
    opened = log.now
    assert log.fold(opened + timedelta(hours=1)) == {}
    (late,) = log.fold(opened + timedelta(hours=3)).values()
    assert late.kind == "overdue_handoff" and late.state == "open"
    assert list(fold_exceptions(log.events)) == [late.exception_id]  # no ``now``: kept
    log.add("CustodyAcknowledged", {"from_party": "nurse", "to_party": "courier"}, minutes=30)
    assert log.fold(opened + timedelta(days=3)) == {}  # taken within the limit: never an exception
    slow = Log()
    slow.add("CustodyTransferred", {"from_party": "nurse", "to_party": "courier"})
    slow.add("CustodyAcknowledged", {"from_party": "nurse", "to_party": "courier"}, minutes=300)
    (cleared_late,) = slow.fold().values()
    assert (cleared_late.state, cleared_late.cleared) == ("open", True)


def test_a_burst_of_failed_sign_ins_is_one_exception_until_cleared():
    log = Log()
    for attempt in (3, 4):
        log.add("AccessDenied", {"user": "dr.chen", "reason": "bad_password", "attempt": attempt}, USER)
    (burst,) = log.fold().values()
    assert len(burst.event_ids) == 2 and burst.severity == "informational" and burst.subject == "dr.chen"
    log.add("UserAuthenticated", {"user": "dr.chen", "after_failures": 4}, USER)
    log.add("AccessDenied", {"user": "dr.chen", "reason": "bad_password", "attempt": 3}, USER)
    assert sorted(e.cleared for e in log.fold().values()) == [False, True]


@pytest.fixture
def qa(staffed: Ledger) -> Ledger:
    return staffed


def _refused_log() -> tuple[Log, Any]:
    log = Log()
    log.add("OperationRefused", {"code": "COI_MISMATCH", "step": "collection", "detail": "wrong patient"}, CASE)
    log.add("UnitScanned", scan("unknown", "verify"), CASE)
    return log, log.fold()


def _dispose(qa: Ledger, found, exception_id: str, event_hash: str, *, classification="no_impact",
             deviation_id=None, deviation=None, signer="qa.quinn", meaning="reviewed"):
    return decide_disposition(found, CASE, exception_id=exception_id, event_hash=event_hash,
                              classification=classification, comment="reviewed the record",
                              deviation_id=deviation_id, deviation=deviation,
                              esign=qa.sign(signer, meaning) if meaning else None, signer=qa.user(signer),
                              actor=signer, now=qa.now)


def test_a_disposition_names_an_open_exception_and_its_opening_hash(qa: Ledger):
    log, found = _refused_log()
    refused = next(e for e in found.values() if e.kind == "operation_refused")
    with pytest.raises(RuleViolation) as unknown:
        _dispose(qa, found, "qc_failed:" + str(uuid4()), refused.opened_hash)
    assert code_of(unknown) == "UNKNOWN_EXCEPTION" and unknown.value.status == 404
    with pytest.raises(RuleViolation) as mismatch:
        _dispose(qa, found, refused.exception_id, "0" * 64)
    assert code_of(mismatch) == "HASH_MISMATCH"
    with pytest.raises(RuleViolation) as unsigned:
        _dispose(qa, found, refused.exception_id, refused.opened_hash, meaning=None)
    assert code_of(unsigned) == "ESIGNATURE_REQUIRED"
    with pytest.raises(RuleViolation) as wrong:
        _dispose(qa, found, refused.exception_id, refused.opened_hash, meaning="approved")
    assert code_of(wrong) == "WRONG_SIGNATURE_MEANING"
    with pytest.raises(RuleViolation) as not_qa:
        _dispose(qa, found, refused.exception_id, refused.opened_hash, signer="dr.chen")
    assert code_of(not_qa) == "SIGNER_NOT_AUTHORISED"
    (event,) = _dispose(qa, found, refused.exception_id, refused.opened_hash)
    assert (event.stream, event.type, event.data["classification"]) == (CASE, "ExceptionDispositioned", "no_impact")
    log.add(event.type, event.data, CASE)
    with pytest.raises(RuleViolation) as again:
        _dispose(qa, log.fold(), refused.exception_id, refused.opened_hash)
    assert code_of(again) == "ALREADY_DISPOSITIONED"


def test_a_deviation_classification_needs_an_open_deviation(qa: Ledger):
    _, found = _refused_log()
    refused = next(e for e in found.values() if e.kind == "operation_refused")
    opened = DeviationState("DEV-1", "wrong patient at the chair")
    for deviation_id, deviation in ((None, None), ("DEV-1", DeviationState()),
                                    ("DEV-1", DeviationState("DEV-1", "t", closed=True, capa="C"))):
        with pytest.raises(RuleViolation) as refused_:
            _dispose(qa, found, refused.exception_id, refused.opened_hash, classification="deviation",
                     deviation_id=deviation_id, deviation=deviation)
        assert code_of(refused_) == "DEVIATION_REQUIRED"
    (event,) = _dispose(qa, found, refused.exception_id, refused.opened_hash, classification="deviation",
                        deviation_id="DEV-1", deviation=opened)
    assert event.data["deviation_id"] == "DEV-1"


def test_only_informational_exceptions_are_acknowledged_as_a_group(qa: Ledger):
    log, found = _refused_log()
    owners = {k: CASE for k in found}
    refused, unknown = (next(e for e in found.values() if e.kind == k) for k in ("operation_refused", "scan_unknown"))

    def acknowledge(ids, found_=found):
        return decide_acknowledge(found_, owners, ids, None, esign=None, signer=None, actor="qa.quinn", now=qa.now)

    with pytest.raises(RuleViolation) as gmp:
        acknowledge([unknown.exception_id, refused.exception_id])
    assert code_of(gmp) == "NOT_INFORMATIONAL"
    with pytest.raises(RuleViolation) as missing:
        acknowledge(["scan_unknown:" + str(uuid4())])
    assert code_of(missing) == "UNKNOWN_EXCEPTION"
    (event,) = acknowledge([unknown.exception_id, unknown.exception_id])
    assert event.data["exception_ids"] == [unknown.exception_id]
    log.add(event.type, event.data, CASE)
    with pytest.raises(RuleViolation) as again:
        acknowledge([unknown.exception_id], log.fold())
    assert code_of(again) == "ALREADY_DISPOSITIONED"


def test_a_deviation_is_opened_once_and_closed_once_with_a_signature(qa: Ledger):
    stream, covered = uuid4(), f"qc_failed:{uuid4()}"
    (opened,) = decide_open_deviation(DeviationState(), stream, deviation_id="DEV-1", title="wrong bag",
                                      case=None, exception_ids=[covered, covered], actor="qa.quinn", now=qa.now)
    assert opened.data["exception_ids"] == [covered]
    state = fold_deviation([{"type": opened.type, "data": opened.data}])
    assert state.opened and not state.closed
    with pytest.raises(RuleViolation) as exists:
        decide_open_deviation(state, stream, deviation_id="DEV-1", title="again", case=None, exception_ids=[],
                              actor="qa.quinn", now=qa.now)
    assert code_of(exists) == "DEVIATION_EXISTS"

    def close(deviation, meaning="approved"):
        return decide_close_deviation(deviation, stream, deviation_id="DEV-1", capa="CAPA-1", outcome="retrained",
                                      esign=qa.sign("qa.quinn", meaning) if meaning else None,
                                      signer=qa.user("qa.quinn"), actor="qa.quinn", now=qa.now)

    with pytest.raises(RuleViolation) as unknown:
        close(DeviationState())
    assert code_of(unknown) == "DEVIATION_NOT_FOUND" and unknown.value.status == 404
    with pytest.raises(RuleViolation) as unsigned:
        close(state, None)
    assert code_of(unsigned) == "ESIGNATURE_REQUIRED"
    (closed,) = close(state)
    state = fold_deviation([{"type": opened.type, "data": opened.data}, {"type": closed.type, "data": closed.data}])
    assert state.closed and state.capa == "CAPA-1"
    with pytest.raises(RuleViolation) as twice:
        close(state)
    assert code_of(twice) == "DEVIATION_CLOSED"
