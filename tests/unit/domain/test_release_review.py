"""The review sign-off and the release gate (``ledger.domain.release``), and the case figures."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from ledger.domain.case import CaseState
from ledger.domain.release import (
    ReleaseReview,
    SignOffRecord,
    case_figures,
    decide_sign_off,
    listing,
    require_review,
)
from ledger.errors import RuleViolation

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Exc:
    """What the gate reads of a ``CaseException``."""

    exception_id: str
    kind: str
    severity: str
    state: str = "open"
    classification: str | None = None
    opened_hash: str = "a" * 64
    detail: str = "something happened"


def _code(call) -> str:
    with pytest.raises(RuleViolation) as err:
        call()
    return err.value.code


def _signoff(exceptions) -> SignOffRecord:
    return SignOffRecord("e1", T0, "qa", "Dr. Q", {e["exception_id"]: (e["event_hash"], e["state"], e["classification"])
                                                     for e in listing(exceptions)})


CASE = CaseState(stream=uuid4(), version=1, role="patient", coi="COI-TEST-0001-X", kind="autologous", status="active")
REFUSED = Exc("operation_refused:1", "operation_refused", "coi_critical")
EXCURSION = Exc("excursion_unassessed:2", "excursion_unassessed", "gmp")
SCAN = Exc("scan_wrong_step:3", "scan_wrong_step", "informational")


def _sign(exceptions, listed):
    return decide_sign_off(CASE, exceptions, listed, esign=None, signer=None, actor="qa", now=T0)


def test_sign_off_is_refused_while_a_coi_critical_or_gmp_exception_is_open():
    for blocking in (REFUSED, EXCURSION):
        found = {blocking.exception_id: blocking, SCAN.exception_id: SCAN}
        assert _code(lambda found=found: _sign(found, listing(found))) == "REVIEW_INCOMPLETE"
    done = {REFUSED.exception_id: Exc(**{**REFUSED.__dict__, "state": "dispositioned",
                                        "classification": "no_impact"}), SCAN.exception_id: SCAN}
    # past the review rules: only the missing e-signature is left
    assert _code(lambda: _sign(done, listing(done))) == "ESIGNATURE_REQUIRED"


def test_sign_off_lists_exactly_the_family_exceptions_now():
    found = {SCAN.exception_id: SCAN}
    assert _code(lambda: _sign(found, [])) == "REVIEW_LIST_STALE"
    stale = [{**listing(found)[0], "event_hash": "b" * 64}]
    assert _code(lambda: _sign(found, stale)) == "REVIEW_LIST_STALE"
    extra = [*listing(found), {"exception_id": "scan_unknown:9", "event_hash": "c" * 64, "state": "open",
                               "classification": None}]
    assert _code(lambda: _sign(found, extra)) == "REVIEW_LIST_STALE"
    assert _code(lambda: _sign(found, listing(found) * 2)) == "REVIEW_LIST_STALE"
    assert _code(lambda: _sign(found, listing(found))) == "ESIGNATURE_REQUIRED"


def test_release_gate_each_rule_names_itself():
    closed = Exc(**{**EXCURSION.__dict__, "state": "dispositioned", "classification": "no_impact"})
    impact = Exc(**{**EXCURSION.__dict__, "state": "dispositioned", "classification": "product_impact"})
    now = {closed.exception_id: closed}
    cases = [
        (ReleaseReview({EXCURSION.exception_id: EXCURSION}, _signoff(now)), "EXCEPTION_OPEN"),
        (ReleaseReview({impact.exception_id: impact}, _signoff({impact.exception_id: impact})), "PRODUCT_IMPACT"),
        (ReleaseReview(now, None), "REVIEW_REQUIRED"),
        (ReleaseReview({**now, SCAN.exception_id: SCAN}, _signoff(now)), "REVIEW_OUTDATED"),  # raised later
        (ReleaseReview(now, _signoff({closed.exception_id: EXCURSION})), "REVIEW_OUTDATED"),  # changed later
    ]
    for review, code in cases:
        with pytest.raises(RuleViolation) as err:
            require_review(review, label="UNT-TEST")
        assert err.value.code == code
        assert "UNT-TEST" in str(err.value)
    require_review(ReleaseReview(now, _signoff(now)), label="UNT-TEST")  # current: allowed
    require_review(ReleaseReview({}, _signoff({})), label="UNT-TEST")
    both = {**now, SCAN.exception_id: SCAN}
    require_review(ReleaseReview(both, _signoff(both)), label="UNT-TEST")  # informational may stay open


def test_case_figures():
    collected, made = T0, T0 + timedelta(days=10)
    signed, released, infused = made + timedelta(hours=30), made + timedelta(hours=31.5), T0 + timedelta(days=15)
    figures = case_figures(collected_at=collected, infused_at=infused, manufactured_at=made, signed_off_at=signed,
                           released_at=released, now=T0 + timedelta(days=40))
    assert figures == {"needle_to_needle_days": 15.0, "manufacturing_end_to_signoff_h": 30.0,
                       "manufacturing_end_to_release_h": 31.5}
    running = case_figures(collected_at=collected, infused_at=None, manufactured_at=made, signed_off_at=None,
                           released_at=None, now=T0 + timedelta(days=12, hours=6))
    assert running == {"needle_to_needle_days": 12.25, "manufacturing_end_to_signoff_h": None,
                       "manufacturing_end_to_release_h": None}
    assert case_figures(collected_at=None, infused_at=None, manufactured_at=None, signed_off_at=None,
                        released_at=None, now=T0)["needle_to_needle_days"] is None
