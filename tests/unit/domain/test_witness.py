"""The two-person identity check (``ledger.domain.witness``) and its exception, ``witness_missing``."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ledger.domain.exceptions import fold_exceptions
from ledger.domain.witness import NO_WITNESS, WitnessPolicy, decide_witness
from ledger.errors import RuleViolation

from .conftest import Ledger
from .test_infusion import REF, make_dose

BEDSIDE = WitnessPolicy.parse("infusion", 30)


def infused(led: Ledger, *, witness: WitnessPolicy = BEDSIDE):
    from ledger.domain.infusion import decide_infuse
    case = led.enrol()
    dose = make_dose(led, case)
    (event,) = led.run(decide_infuse, led.case(case), led.unit(dose), wristband_patient_ref=REF,
                       bag_coi=led.unit(dose).coi, esign=led.sign("dr.chen", "administered"),
                       signer=led.user("dr.chen"), witness=witness, actor="dr.chen")
    return dose, event


def witness(led: Ledger, unit, event, by: str = "dr.wu", meaning: str | None = "reviewed"):
    return led.run(decide_witness, led.streams[unit], event["event_id"], "wristband and bag read aloud",
                   esign=led.sign(by, meaning) if meaning else None, signer=led.user(by), actor=by)


def refused(*args, **kwargs) -> str:
    with pytest.raises(RuleViolation) as err:
        witness(*args, **kwargs)
    return err.value.code


@pytest.fixture
def ward(staffed: Ledger) -> Ledger:
    staffed.add_user("dr.wu", "Dr. Mei Wu", ["clinician"])
    staffed.add_user("nurse.ola", "Ola Berg", ["operator"])
    return staffed


def test_the_step_records_when_its_witness_is_due_and_a_second_person_witnesses_it(ward: Ledger) -> None:
    led = ward
    dose, event = infused(led)
    from ledger.timefmt import format_utc
    assert event["data"]["witness_due"] == format_utc(led.now + timedelta(minutes=30))
    led.tick(minutes=29)
    (done,) = witness(led, dose, event)
    assert done["type"] == "StepWitnessed" and done["stream"] == event["stream"]
    assert done["data"] == {"witnessed_event_id": event["event_id"], "step": "infusion",
                            "comment": "wristband and bag read aloud"}
    assert refused(led, dose, event, by="nurse.ola") == "ALREADY_WITNESSED"


def test_refusals_self_late_role_meaning_and_unknown(ward: Ledger) -> None:
    led = ward
    dose, event = infused(led)
    assert refused(led, dose, event, by="dr.chen") == "SELF_WITNESS"  # the actor and signer
    assert refused(led, dose, event, by="qa.quinn") == "SIGNER_NOT_AUTHORISED"  # not a witnessing role
    assert refused(led, dose, event, meaning="approved") == "WRONG_SIGNATURE_MEANING"
    assert refused(led, dose, event, meaning=None) == "ESIGNATURE_REQUIRED"
    other = led.streams[dose][0]  # the label: no witness due
    assert refused(led, dose, other) == "PENDING_NOT_FOUND"
    led.tick(minutes=31)
    assert refused(led, dose, event) == "WITNESS_LATE"


def test_no_witness_due_when_the_step_is_not_listed(ward: Ledger) -> None:
    led = ward
    dose, event = infused(led, witness=NO_WITNESS)
    assert event["data"]["witness_due"] is None
    assert refused(led, dose, event) == "PENDING_NOT_FOUND"
    assert fold_exceptions(((e, "0" * 64) for e in led.streams[dose]), led.tick(days=1)) == {}


def test_labelling_is_witnessed_by_an_operator(ward: Ledger) -> None:
    led = ward
    case = led.enrol()
    bag = led.label(case, "apheresis_bag", actor="nurse.ola", witness=WitnessPolicy.parse("labelling,infusion", 10))
    label = led.streams[bag][0]
    assert label["data"]["witness_due"] is not None
    assert refused(led, bag, label, by="nurse.ola") == "SELF_WITNESS"
    (done,) = witness(led, bag, label, by="dr.wu")
    assert done["data"]["step"] == "labelling"


def test_witness_missing_is_shown_once_past_due_until_witnessed(ward: Ledger) -> None:
    led = ward
    dose, event = infused(led)

    def found(now):
        return fold_exceptions(((e, "0" * 64) for e in led.streams[dose]), now)

    key = f"witness_missing:{event['event_id']}"
    assert key not in found(led.now + timedelta(minutes=29))  # a candidate, not yet due
    late = found(led.now + timedelta(minutes=31))[key]
    assert late.severity == "coi_critical" and late.state == "open" and not late.cleared and late.blocking
    led.tick(minutes=5)
    witness(led, dose, event)
    assert key not in found(led.now + timedelta(days=1))  # witnessed in time


def test_the_policy_refuses_unknown_steps() -> None:
    with pytest.raises(ValueError):
        WitnessPolicy.parse("labelling,bedside")
    assert WitnessPolicy.parse(" ").steps == frozenset()
    assert WitnessPolicy.parse("labelling, infusion", 5).window == timedelta(minutes=5)


def test_the_witness_deadline_is_not_corrected(ward: Ledger) -> None:
    from ledger.domain.corrections import decide_correct
    led = ward
    case = led.enrol()
    bag = led.label(case, "apheresis_bag", actor="nurse.ola", witness=WitnessPolicy.parse("labelling"))
    label = led.streams[bag][0]
    with pytest.raises(RuleViolation) as err:
        decide_correct(led.streams[bag], label["event_id"], "more time", {"witness_due": "2099-01-01T00:00:00Z"},
                       roles=("operator",), actor="nurse.ola", now=led.now)
    assert err.value.code == "CORRECTION_NOT_ALLOWED"
