from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest

from ledger.domain.case import CaseState, decide_cancel, decide_register_donor
from ledger.domain.identifiers import issue_unit_label, patient_pseudonym
from ledger.domain.infusion import decide_infuse
from ledger.domain.labelling import decide_collect
from ledger.domain.manufacturing import (
    DerivedOutput,
    decide_derive,
    decide_quarantine,
    decide_record_qc,
    decide_release,
)
from ledger.errors import InvalidEvent, RuleViolation

from .conftest import MRN, OTHER_MRN, SECRET, Ledger

REF = patient_pseudonym(SECRET, MRN)


def make_dose(led: Ledger, case, *, release=True, expiry=None):
    bag = led.label(case, "apheresis_bag", actor="op")
    led.run(decide_collect, led.case(case), led.unit(bag), patient_ref=led.case(case).patient_ref,
            material="leukapheresis", collection_site="H", actor="n")
    dose = uuid4()
    led.run(decide_derive, led.case(case), [led.unit(bag)], [DerivedOutput(
        dose, "final_product_bag", issue_unit_label(led.rng), spec={"expiry": expiry})],
        process="p", actor="op")
    led.run(decide_record_qc, led.unit(dose), test="sterility", result="pass", actor="lab")
    if release:
        led.run(decide_release, led.unit(dose), case=led.case(case), ancestors=[led.unit(bag)],
                review=led.signed_review(dose), esign=led.sign("qa.quinn", "released"), signer=led.user("qa.quinn"),
                actor="qa.quinn")
    return dose


def infuse(led: Ledger, case, dose, *, ref=REF, bag_coi=None, signer="dr.chen",
           meaning="administered"):
    return led.run(decide_infuse, led.case(case), led.unit(dose), wristband_patient_ref=ref,
                   bag_coi=bag_coi or led.unit(dose).coi,
                   esign=led.sign(signer, meaning) if meaning else None,
                   signer=led.user(signer), actor=signer)


def refused(*args, **kwargs) -> str:
    with pytest.raises(RuleViolation) as err:
        infuse(*args, **kwargs)
    return err.value.code


def test_bedside_identity_checks_are_recorded(staffed: Ledger) -> None:
    led = staffed
    case, other = led.enrol(), led.enrol(mrn=OTHER_MRN)
    dose, other_dose = make_dose(led, case), make_dose(led, other)
    count = led.case(case).refusals
    assert refused(led, case, dose, ref=patient_pseudonym(SECRET, OTHER_MRN)) == "COI_MISMATCH"
    assert refused(led, case, dose, bag_coi=led.case(other).coi) == "COI_MISMATCH"
    assert refused(led, case, other_dose, ref=REF) == "COI_MISMATCH"
    assert refused(led, case, dose, ref=MRN) == "COI_MISMATCH"  # raw MRN: refused, not stored
    assert led.case(case).refusals == count + 4
    refusals = [e for e in led.streams[case] if e["type"] == "OperationRefused"]
    assert all(e["data"]["step"] == "ProductInfused" for e in refusals)
    assert refusals[-1]["data"]["attempted"]["patient_ref"] is None
    assert MRN not in led.dump() and not led.unit(dose).infused
    with pytest.raises(InvalidEvent):
        infuse(led, case, dose, bag_coi="not a coi")


def test_infusion_needs_release_and_a_clinician(staffed: Ledger) -> None:
    led = staffed
    case = led.enrol()
    dose = make_dose(led, case, release=False)
    assert refused(led, case, dose) == "INFUSION_BEFORE_RELEASE"
    dose = make_dose(led, case)
    assert refused(led, case, dose, meaning=None) == "ESIGNATURE_REQUIRED"
    assert refused(led, case, dose, meaning="approved") == "WRONG_SIGNATURE_MEANING"
    assert refused(led, case, dose, signer="qa.quinn") == "SIGNER_NOT_AUTHORISED"
    (event,) = infuse(led, case, dose)
    assert event["esign"]["meaning"] == "administered" and event["stream"] == str(dose)
    assert event["data"]["patient_ref"] == REF
    assert refused(led, case, dose) == "ALREADY_INFUSED"


def test_infusion_state_refusals(staffed: Ledger) -> None:
    led = staffed
    case = led.enrol()
    held = make_dose(led, case)
    led.run(decide_quarantine, led.unit(held), "visible clumps", actor="qa")
    assert refused(led, case, held) == "UNIT_QUARANTINED"
    short = make_dose(led, case, expiry=led.now + timedelta(hours=1))
    led.tick(hours=2)
    assert refused(led, case, short) == "UNIT_EXPIRED"
    led.run(decide_cancel, led.case(case), "patient deceased", actor="c")
    assert refused(led, case, held) == "CASE_CANCELLED"


def test_a_donor_case_is_not_a_recipient(staffed: Ledger) -> None:
    led = staffed
    donor = uuid4()
    led.run(decide_register_donor, CaseState(), case_id=donor, product="allo",
            collection_site="DC", site_secret=SECRET, donor_id="D-9", rng=led.rng, actor="c")
    dose = make_dose(led, donor)
    assert refused(led, donor, dose, ref=patient_pseudonym(SECRET, "D-9")) == "COI_MISMATCH"
