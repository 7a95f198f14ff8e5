"""Product specifications, pure: versions and four-eyes approval, the judgement of values against
the pinned version (inclusive limits, expected text), the release's spec results, and the
``spec_out_of_limits`` exception raised by an out-of-limits record. Each rule both ways."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest

from ledger.domain.catalogue import typed
from ledger.domain.exceptions import fold_exceptions
from ledger.domain.lots import shelf_life
from ledger.domain.product_spec import (
    decide_approve,
    decide_define,
    fold_product_spec,
    judge_parameter,
    judge_qc,
    limits_text,
    require_within_spec,
    spec_results,
    within,
)
from ledger.domain.unit import ParameterValue, QCResult, UnitState
from ledger.envelope import envelope_hash
from ledger.errors import RuleViolation, StreamNotFound
from ledger.streams import product_stream
from ledger.timefmt import format_utc

from .conftest import code_of

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
STREAM = product_stream("CAR-T")
SPEC = {"qc_tests": [{"test": "viability", "min": 70, "max": 100, "uom": "%"},
                     {"test": "sterility", "expected": "negative"},
                     {"test": "identity"},
                     {"test": "mycoplasma", "required": False}],
        "parameters": [{"name": "moi", "kind": "cpp", "min": 1, "max": 5},
                       {"name": "vcn", "kind": "cqa", "max": 5, "uom": "copies/cell"}],
        "shelf_lives": {"final_product_bag": 24}}


def env(seq: int, type_: str, data: dict[str, Any], actor: str, *, signer: str | None = None,
        on_behalf: str | None = None) -> dict[str, Any]:
    return {"stream": str(STREAM), "seq": seq, "event_id": str(uuid4()), "type": type_, "data": data,
            "recorded_at": format_utc(T0 + timedelta(hours=seq)), "occurred_at": None, "actor": actor,
            "on_behalf": on_behalf, "esign": {"signer": signer} if signer else None}


def defined(version: int = 1, **extra: Any) -> dict[str, Any]:
    return {"product": "CAR-T", "version": version, **SPEC, **extra}


def state(*approvals: tuple[int, str], author: str = "qa1", on_behalf: str | None = None, versions: int = 1):
    envs = [env(i + 1, "ProductSpecDefined", defined(i + 1), author, on_behalf=on_behalf) for i in range(versions)]
    for version, approver in approvals:
        envs.append(env(len(envs) + 1, "ProductSpecApproved", {"product": "CAR-T", "version": version}, approver,
                        signer=approver))
    return fold_product_spec(envs)


def test_versions_are_numbered_in_order():
    empty = fold_product_spec([])
    assert decide_define(empty, stream=STREAM, product="CAR-T", version=1, spec=SPEC, actor="qa1", now=T0)
    with pytest.raises(RuleViolation) as refused:
        decide_define(empty, stream=STREAM, product="CAR-T", version=2, spec=SPEC, actor="qa1", now=T0)
    assert code_of(refused) == "SPEC_VERSION_SEQUENCE"
    one = state()
    assert decide_define(one, stream=STREAM, product="CAR-T", version=2, spec=SPEC, actor="qa1", now=T0)
    with pytest.raises(RuleViolation):
        decide_define(one, stream=STREAM, product="CAR-T", version=1, spec=SPEC, actor="qa1", now=T0)


def approve(s, version: int, actor: str):
    return decide_approve(s, product="CAR-T", version=version, esign=None, signer=None, actor=actor, now=T0)


def test_approval_is_by_another_qa_person_and_signed():
    for author, on_behalf in (("qa1", None), ("integrator", "qa1")):
        with pytest.raises(RuleViolation) as refused:
            approve(state(author=author, on_behalf=on_behalf), 1, "qa1")
        assert code_of(refused) == "SELF_APPROVAL"
    with pytest.raises(RuleViolation) as refused:  # another person: the four eyes hold, the signature is due
        approve(state(), 1, "qa2")
    assert code_of(refused) == "ESIGNATURE_REQUIRED"
    with pytest.raises(StreamNotFound) as unknown:
        approve(state(), 2, "qa2")
    assert unknown.value.code == "SPEC_NOT_FOUND"
    with pytest.raises(RuleViolation) as refused:
        approve(state((1, "qa2")), 1, "qa3")
    assert code_of(refused) == "SPEC_ALREADY_APPROVED"
    with pytest.raises(RuleViolation) as refused:
        approve(state((2, "qa2"), versions=2), 1, "qa3")
    assert code_of(refused) == "SPEC_SUPERSEDED"


def test_the_latest_approved_version_is_in_force():
    assert state().in_force is None
    assert state((1, "qa2"), versions=2).in_force.version == 1
    both = state((1, "qa2"), (2, "qa2"), versions=2)
    assert both.in_force.version == 2 and both.get(1).approved_by == "qa2"
    assert both.get(1).authors == frozenset({"qa1"})


def test_numeric_limits_are_inclusive_at_both_ends():
    assert within(70, 100, 70) and within(70, 100, 100) and within(70, 100, 85.5)
    assert not within(70, 100, 69.99) and not within(70, 100, 100.01)
    assert within(None, 5, -1e9) and within(1, None, 1e9) and within(None, None, 0)
    assert not within(70, 100, "85") and not within(70, 100, None) and not within(0, 1, True)


def test_qc_results_are_judged_against_the_pinned_version():
    spec = state((1, "qa2")).get(1)
    assert judge_qc(spec, test="viability", value=70, uom=None) == judge_qc(spec, test="viability", value=70,
                                                                              uom="%")
    assert judge_qc(spec, test="viability", value=70, uom=None).within_limits is True
    assert judge_qc(spec, test="viability", value=69.99, uom="%").within_limits is False
    assert judge_qc(spec, test="viability", value="high", uom=None).within_limits is False
    assert judge_qc(spec, test="sterility", value=" Negative ", uom=None).within_limits is True
    assert judge_qc(spec, test="sterility", value="positive", uom=None).within_limits is False
    judged = judge_qc(spec, test="identity", value=None, uom=None)  # no limits: the pass/fail speaks
    assert (judged.spec_version, judged.within_limits) == (1, None)
    assert judge_qc(spec, test="other", value=1, uom="x").within_limits is None
    assert judge_qc(None, test="viability", value=1, uom=None).spec_version is None
    for test, uom, code in (("viability", None, "SPEC_VALUE_REQUIRED"), ("sterility", None, "SPEC_VALUE_REQUIRED")):
        with pytest.raises(RuleViolation) as refused:
            judge_qc(spec, test=test, value=None, uom=uom)
        assert code_of(refused) == code
    with pytest.raises(RuleViolation) as refused:
        judge_qc(spec, test="viability", value=80, uom="cells")
    assert code_of(refused) == "SPEC_UOM_MISMATCH"


def test_process_parameters_are_judged_against_the_pinned_version():
    spec = state((1, "qa2")).get(1)
    judged = judge_parameter(spec, parameter="moi", value=5, uom=None)
    assert (judged.within_limits, judged.limits.min, judged.limits.max) == (True, 1, 5)
    assert judge_parameter(spec, parameter="moi", value=5.01, uom=None).within_limits is False
    assert judge_parameter(spec, parameter="vcn", value=2, uom=None).uom == "copies/cell"
    with pytest.raises(RuleViolation) as refused:
        judge_parameter(spec, parameter="vcn", value=2, uom="%")
    assert code_of(refused) == "SPEC_UOM_MISMATCH"
    unnamed = judge_parameter(spec, parameter="temperature", value=37, uom="C")
    assert (unnamed.spec_version, unnamed.limits, unnamed.within_limits) == (1, None, None)


def test_limits_read_as_text():
    assert [limits_text(5, 10, "%"), limits_text(5), limits_text(None, 10), limits_text(expected="negative"),
            limits_text()] == ["5..10 %", ">= 5", "<= 10", "= negative", "-"]


def qc(test: str, value: Any, hours: int, result: str = "pass") -> QCResult:
    return QCResult(test, result, T0 + timedelta(hours=hours), value)


def test_spec_results_take_the_latest_result_and_name_what_is_missing():
    spec = state((1, "qa2")).get(1)
    lot = UnitState(kind="lot", label="LOT-1", spec_version=1, parameters=(
        ParameterValue("moi", 7, None, False, T0), ParameterValue("moi", 3, None, True, T0 + timedelta(hours=1))))
    product = UnitState(kind="final_product_bag", label="UNT-1", qc=(qc("viability", 60, 1), qc("viability", 80, 2)))
    results = {r.name: r for r in spec_results(spec, [product, lot], lot)}
    assert [(r.kind, r.verdict) for r in results.values()] == [
        ("qc", "within"), ("qc", "missing"), ("qc", "missing"), ("cpp", "within"), ("cqa", "missing")]
    assert (results["viability"].value, results["viability"].uom, results["viability"].limits) == (80, "%", "70..100 %")
    assert "mycoplasma" not in results  # not required and not recorded
    require_within_spec(spec, [product, lot], "UNT-1")
    assert spec_results(None, [product, lot], lot) == []

    failed = replace(product, qc=(*product.qc, qc("sterility", "positive", 3), qc("identity", None, 3, "fail")))
    verdicts = {r.name: r.verdict for r in spec_results(spec, [failed, lot], lot)}
    assert verdicts["sterility"] == verdicts["identity"] == "out_of_limits"
    with pytest.raises(RuleViolation) as refused:
        require_within_spec(spec, [failed, lot], "UNT-1")
    assert code_of(refused) == "SPEC_OUT_OF_LIMITS" and "sterility = positive (= negative)" in str(refused.value)


def test_a_shelf_life_gives_an_expiry_only_when_none_is_given():
    expiry = T0 + timedelta(days=2)
    assert shelf_life(None, 24, T0).expiry == T0 + timedelta(hours=24)
    assert shelf_life({"max_celsius": -150}, 24.5, T0).expiry == T0 + timedelta(hours=24, minutes=30)
    assert shelf_life({"expiry": format_utc(expiry)}, 24, T0) == {"expiry": format_utc(expiry)}
    assert shelf_life(None, None, T0).expiry is None


def test_an_out_of_limits_record_raises_a_gmp_exception_that_nothing_clears():
    lot = uuid4()
    records = [("QCResultRecorded", {"test": "viability", "result": "pass", "value": 60, "uom": "%",
                                     "spec_version": 1, "within_limits": False}),
               ("QCResultRecorded", {"test": "viability", "result": "pass", "value": 80, "uom": "%",
                                     "spec_version": 1, "within_limits": True}),
               ("ProcessParameterRecorded", {"lot": "LOT-1", "parameter": "moi", "value": 7, "spec_version": 1,
                                             "limits": {"min": 1, "max": 5}, "within_limits": False}),
               ("ProcessParameterRecorded", {"lot": "LOT-1", "parameter": "moi", "value": 3, "spec_version": 1,
                                             "limits": {"min": 1, "max": 5}, "within_limits": True}),
               ("QCResultRecorded", {"test": "identity", "result": "pass"})]
    events = []
    for seq, (type_, data) in enumerate(records, 1):
        assert typed(type_, data) is not None
        record = {"stream": str(lot), "event_id": str(uuid4()), "type": type_, "data": data,
                  "recorded_at": format_utc(T0 + timedelta(minutes=seq)), "occurred_at": None}
        events.append((record, envelope_hash(record)))
    found = fold_exceptions(events, T0 + timedelta(hours=1))
    raised = sorted((e.kind, e.severity, e.state, e.cleared, e.detail) for e in found.values())
    assert raised == [
        ("spec_out_of_limits", "gmp", "open", False, "QC viability = 60 % out of specification v1"),
        ("spec_out_of_limits", "gmp", "open", False, "lot LOT-1: moi = 7 (limits 1..5) out of specification v1")]
