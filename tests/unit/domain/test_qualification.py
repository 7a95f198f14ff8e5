"""Fitness to e-sign (21 CFR 11.10(i), 11.100(b), 11.100(c)): the decisions that record training,
identity verification and the policy acknowledgement, and the one gate over them."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from ledger.domain import qualification as qual
from ledger.errors import Forbidden, RuleViolation
from ledger.streams import user_stream

from .conftest import Ledger


def record(led: Ledger) -> qual.Qualification:
    return qual.fold_qualification(led.streams[user_stream("qa.quinn")])


def gate_code(led: Ledger, table=qual.REQUIRED_TRAINING) -> str | None:
    try:
        qual.require_fit_to_sign(led.user("qa.quinn"), record(led), led.now, table)
    except Forbidden as refused:
        return refused.code
    return None


def refused(led: Ledger, decide, *args, **kwargs) -> str:
    with pytest.raises(RuleViolation) as err:
        led.run(decide, *args, **kwargs)
    return err.value.code


def train(led: Ledger, *, completed: date, expires: date | None, actor: str = "admin", **kw):
    return led.run(qual.decide_record_training, led.user(kw.pop("user", "qa.quinn")),
                   curriculum=qual.PART11_ESIGN, version="1", completed_on=completed, trainer="T Rainer",
                   expires_on=expires, actor=actor)


def test_the_gates_in_order_then_fit(staffed: Ledger) -> None:
    led, today = staffed, staffed.now.date()
    assert gate_code(led) == "IDENTITY_NOT_VERIFIED"
    led.run(qual.decide_verify_identity, led.user("qa.quinn"), document_type="passport", actor="admin")
    assert gate_code(led) == "SIGNATURE_POLICY_NOT_ACKNOWLEDGED"
    led.run(qual.decide_acknowledge_policy, led.user("qa.quinn"), record(led),
            policy_version=qual.SIGNATURE_POLICY_VERSION, text_sha256=qual.SIGNATURE_POLICY_SHA256,
            actor="qa.quinn")
    assert gate_code(led) == "TRAINING_REQUIRED"
    assert gate_code(led, {}) is None  # no role of the table: no training needed
    train(led, completed=today - timedelta(days=400), expires=today)  # lapses today
    assert gate_code(led) == "TRAINING_REQUIRED"
    train(led, completed=today, expires=today + timedelta(days=1))
    assert gate_code(led) is None
    led.tick(days=1)
    assert gate_code(led) == "TRAINING_REQUIRED"  # expired since


def test_refused_records(staffed: Ledger) -> None:
    led, today = staffed, staffed.now.date()
    assert refused(led, qual.decide_verify_identity, led.user("qa.quinn"), document_type="passport",
                   actor="qa.quinn") == "SELF_VERIFICATION"
    with pytest.raises(RuleViolation) as err:
        train(led, completed=today, expires=None, actor="qa.quinn")
    assert err.value.code == "SELF_TRAINING"
    with pytest.raises(RuleViolation) as err:
        train(led, completed=today + timedelta(days=1), expires=None)
    assert err.value.code == "TRAINING_IN_FUTURE"
    with pytest.raises(RuleViolation) as err:
        train(led, completed=today, expires=today)
    assert err.value.code == "TRAINING_EXPIRY_BEFORE_COMPLETION"
    with pytest.raises(RuleViolation) as err:
        train(led, completed=today, expires=None, user="nobody")
    assert err.value.code == "USER_NOT_FOUND"
    ack = {"policy_version": qual.SIGNATURE_POLICY_VERSION, "text_sha256": qual.SIGNATURE_POLICY_SHA256}
    assert refused(led, qual.decide_acknowledge_policy, led.user("qa.quinn"), record(led), **ack,
                   actor="admin") == "NOT_YOUR_ACKNOWLEDGEMENT"
    assert refused(led, qual.decide_acknowledge_policy, led.user("qa.quinn"), record(led),
                   policy_version="0", text_sha256=qual.SIGNATURE_POLICY_SHA256,
                   actor="qa.quinn") == "SIGNATURE_POLICY_MISMATCH"
    led.run(qual.decide_acknowledge_policy, led.user("qa.quinn"), record(led), **ack, actor="qa.quinn")
    assert refused(led, qual.decide_acknowledge_policy, led.user("qa.quinn"), record(led), **ack,
                   actor="qa.quinn") == "NO_CHANGE"


def test_the_training_table_names_known_roles_only() -> None:
    assert qual.training_policy(None) == dict(qual.REQUIRED_TRAINING)
    assert qual.training_policy({}) == {}
    with pytest.raises(ValueError, match="unknown roles: pilot"):
        qual.training_policy({"pilot": "flying"})
