from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest

from ledger.domain.identifiers import patient_pseudonym
from ledger.domain.labelling import decide_collect, decide_label_unit, decide_scan
from ledger.domain.manufacturing import decide_dispose
from ledger.errors import InvalidEvent, RuleViolation

from .conftest import MRN, OTHER_MRN, SECRET, Ledger

REF = patient_pseudonym(SECRET, MRN)


def refused(led: Ledger, decide, *args, **kwargs) -> str:
    with pytest.raises(RuleViolation) as err:
        led.run(decide, *args, **kwargs)
    return err.value.code


def collect(led: Ledger, case, unit, ref=REF, **kw):
    return led.run(decide_collect, led.case(case), led.unit(unit), patient_ref=ref,
                   material="leukapheresis", collection_site="HOSP-1", actor="nurse", **kw)


def test_label_validates_and_starts_custody(ledger: Ledger) -> None:
    led = ledger
    case = led.enrol()
    bag = led.label(case, "apheresis_bag", spec={"min_celsius": 2, "max_celsius": 8},
                    identifiers={"isbt_din": "A999917123456"}, actor="nurse")
    unit = led.unit(bag)
    assert (unit.kind, unit.coi, unit.case, unit.custodian) == (
        "apheresis_bag", led.case(case).coi, case, "nurse")
    assert unit.spec.max_celsius == 8 and unit.identifiers == (("isbt_din", "A999917123456"),)
    with pytest.raises(InvalidEvent) as err:
        decide_label_unit(led.case(case), unit_id=uuid4(), kind="apheresis_bag",
                          label="UNT-ABCD-2345-0", actor="n", now=led.now)
    assert err.value.code == "INVALID_LABEL"
    with pytest.raises(InvalidEvent) as err:
        led.label(case, "apheresis_bag", spec={"min_celsius": 8, "max_celsius": 2})
    assert err.value.code == "INVALID_DATA"


def test_label_with_a_parent_of_another_case_is_recorded(ledger: Ledger) -> None:
    led = ledger
    mine, theirs = led.enrol(), led.enrol(mrn=OTHER_MRN)
    their_bag = led.label(theirs, "apheresis_bag")
    with pytest.raises(RuleViolation) as err:
        led.label(mine, "sample", parents=(their_bag,))
    assert err.value.code == "COI_MISMATCH"
    refusal = led.streams[mine][-1]
    assert refusal["type"] == "OperationRefused"
    assert refusal["data"]["attempted"]["unit"] == str(their_bag)
    mine_bag = led.label(mine, "apheresis_bag")
    sample = led.label(mine, "sample", parents=(mine_bag,))
    assert led.unit(sample).parents == (mine_bag,)


def test_collection_checks_the_wristband(ledger: Ledger) -> None:
    led = ledger
    case = led.enrol()
    bag = led.label(case, "apheresis_bag")
    with pytest.raises(RuleViolation) as err:
        collect(led, case, bag, ref=patient_pseudonym(SECRET, OTHER_MRN))
    assert err.value.code == "COI_MISMATCH"
    assert led.case(case).refusals == 1
    with pytest.raises(RuleViolation):  # a raw MRN passed by mistake is never recorded
        collect(led, case, bag, ref=OTHER_MRN)
    assert OTHER_MRN not in led.dump()
    collect(led, case, bag, volume_ml=180.0)
    assert led.unit(bag).collected
    assert refused(led, decide_collect, led.case(case), led.unit(bag), patient_ref=REF,
                   material="x", collection_site="H", actor="n") == "ALREADY_COLLECTED"
    shipper = led.label(case, "shipper")
    assert refused(led, decide_collect, led.case(case), led.unit(shipper), patient_ref=REF,
                   material="x", collection_site="H", actor="n") == "NOT_COLLECTABLE"


def test_collection_into_another_case_unit_is_recorded(ledger: Ledger) -> None:
    led = ledger
    mine, theirs = led.enrol(), led.enrol(mrn=OTHER_MRN)
    their_bag = led.label(theirs, "apheresis_bag")
    with pytest.raises(RuleViolation) as err:
        collect(led, mine, their_bag)
    assert err.value.code == "COI_MISMATCH" and led.types(mine)[-1] == "OperationRefused"


def scan(led: Ledger, unit, purpose="verify", **kw) -> str:
    (event,) = led.run(decide_scan, led.unit(unit) if unit else None,
                       purpose=purpose, actor="courier", **kw)
    return event["data"]["verdict"]


def test_scan_verdicts(ledger: Ledger) -> None:
    led = ledger
    case, other = led.enrol(), led.enrol(mrn=OTHER_MRN)
    bag = led.label(case, "apheresis_bag", spec={"expiry": led.now + timedelta(hours=1)})
    assert scan(led, bag, "collection", case=led.case(case)) == "match"
    assert scan(led, bag, case=led.case(other)) == "mismatch"
    assert scan(led, bag, expected_coi=led.case(other).coi) == "mismatch"
    assert scan(led, bag, expected_unit=uuid4()) == "mismatch"
    assert scan(led, bag, "infusion") == "wrong_step"
    assert scan(led, bag, "receipt") == "wrong_step"
    led.tick(hours=2)
    assert scan(led, bag, "collection") == "expired"
    assert scan(led, None, case=led.case(case)) == "unknown"
    assert led.types(case)[-1] == "UnitScanned"
    assert refused(led, decide_scan, None, purpose="verify",
                   actor="c") == "UNKNOWN_IDENTIFIER"
    sample = led.label(case, "sample")
    led.run(decide_dispose, led.unit(sample), "haemolysed", actor="lab")
    assert scan(led, sample, "manufacturing") == "wrong_step"
    assert scan(led, sample, "verify") == "match"
