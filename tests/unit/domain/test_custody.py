from __future__ import annotations

import pytest

from ledger.domain.custody import (
    decide_acknowledge,
    decide_decline,
    decide_deliver,
    decide_dispatch,
    decide_handover,
    decide_pack,
    decide_unpack,
)
from ledger.domain.manufacturing import decide_dispose
from ledger.domain.unit import UnitState
from ledger.errors import RuleViolation

from .conftest import Ledger


def refused(led: Ledger, decide, *args, **kwargs) -> str:
    with pytest.raises(RuleViolation) as err:
        led.run(decide, *args, **kwargs)
    return err.value.code


@pytest.fixture
def kit(ledger: Ledger):
    case = ledger.enrol()
    bag = ledger.label(case, "apheresis_bag", spec={"min_celsius": 2, "max_celsius": 8}, actor="nurse")
    shipper = ledger.label(case, "shipper", actor="nurse")
    return ledger, bag, shipper


def test_handover_needs_the_custodian_and_an_acknowledgement(kit) -> None:
    led, bag, _ = kit
    u = led.unit
    assert refused(led, decide_handover, u(bag), "kim", actor="mallory") == "NOT_CUSTODIAN"
    assert refused(led, decide_handover, u(bag), "nurse", actor="nurse") == "HANDOVER_TO_SELF"
    assert refused(led, decide_acknowledge, u(bag), actor="kim") == "NO_PENDING_TRANSFER"
    led.run(decide_handover, u(bag), "kim", location="HOSP-1", actor="nurse")
    assert u(bag).custodian == "nurse" and u(bag).pending is not None
    assert refused(led, decide_handover, u(bag), "lee", actor="nurse") == "TRANSFER_PENDING"
    assert refused(led, decide_acknowledge, u(bag), actor="lee") == "NOT_RECEIVER"
    assert refused(led, decide_decline, u(bag), "x", actor="lee") == "NOT_RECEIVER"
    assert refused(led, decide_decline, u(bag), " ", actor="kim") == "REASON_REQUIRED"
    led.run(decide_decline, u(bag), "no cool box with me", actor="kim")
    assert u(bag).custodian == "nurse" and u(bag).pending is None
    led.run(decide_handover, u(bag), "kim", actor="nurse")
    led.run(decide_acknowledge, u(bag), location="VAN-3", condition="intact", actor="kim")
    assert (u(bag).custodian, u(bag).location, u(bag).pending) == ("kim", "VAN-3", None)


def test_packing_rules(kit) -> None:
    led, bag, shipper = kit
    u = led.unit
    case = u(bag).case
    other_bag = led.label(case, "cryobag", actor="nurse")
    box = led.label(case, "container", actor="nurse")
    assert refused(led, decide_pack, u(bag), u(other_bag), actor="nurse") == "NOT_A_CONTAINER"
    assert refused(led, decide_pack, u(box), u(shipper), actor="nurse") == "CONTAINER_IN_CONTAINER"
    assert refused(led, decide_pack, u(bag), u(shipper), actor="kim") == "NOT_CUSTODIAN"
    assert refused(led, decide_unpack, u(bag), u(shipper), actor="nurse") == "NOT_IN_CONTAINER"
    events = led.run(decide_pack, u(bag), u(shipper), actor="nurse")
    assert {e["stream"] for e in events} == {str(bag), str(shipper)}
    assert u(shipper).contents == (bag,) and u(bag).container == shipper
    assert refused(led, decide_pack, u(bag), u(box), actor="nurse") == "ALREADY_PACKED"
    assert refused(led, decide_dispatch, u(bag), carrier="c", tracking="t", from_site="a",
                   to_site="b", actor="nurse") == "PACKED_IN_CONTAINER"
    assert refused(led, decide_dispose, u(bag), "x", actor="nurse") == "PACKED_IN_CONTAINER"
    assert refused(led, decide_dispose, u(shipper), "x", actor="nurse") == "CONTAINER_NOT_EMPTY"
    led.run(decide_handover, u(shipper), "kim", contents=[u(bag)], actor="nurse")
    assert refused(led, decide_pack, u(other_bag), u(shipper), actor="nurse") == "TRANSFER_PENDING"
    led.run(decide_acknowledge, u(shipper), contents=[u(bag)], actor="kim")
    assert refused(led, decide_pack, u(other_bag), u(shipper), actor="nurse") == "NOT_CUSTODIAN"
    assert refused(led, decide_acknowledge, u(bag), actor="kim") == "PACKED_IN_CONTAINER"
    led.run(decide_unpack, u(bag), u(shipper), actor="kim")
    assert u(shipper).contents == () and u(bag).container is None
    assert [s.until is not None for s in u(shipper).stays] == [True]


def test_packing_needs_a_temperature_range(kit) -> None:
    """What a shipper carries is kept to a range: the unit's, else the shipper's (own or inherited)."""
    led, bag, shipper = kit
    u = led.unit
    case = u(bag).case
    bare = led.label(case, "cryobag", actor="nurse")
    frozen = led.label(case, "cryobag", spec={"min_celsius": -196, "max_celsius": -150}, actor="nurse")
    assert refused(led, decide_pack, u(bare), u(shipper), actor="nurse") == "NO_TEMPERATURE_SPEC"
    led.run(decide_pack, u(bag), u(shipper), contents=[], actor="nurse")
    assert refused(led, decide_pack, u(frozen), u(shipper), contents=[u(bag)],
                   actor="nurse") == "SPEC_CONFLICT"
    led.run(decide_pack, u(bare), u(shipper), contents=[u(bag)], actor="nurse")  # kept to the bag's 2..8
    cold_box = led.label(case, "container", spec={"max_celsius": -150}, actor="nurse")
    warm = led.label(case, "sample", spec={"min_celsius": 2}, actor="nurse")
    assert refused(led, decide_pack, u(warm),
                   u(cold_box), actor="nurse") == "SPEC_CONFLICT"
    led.run(decide_pack, u(frozen), u(cold_box), actor="nurse")


def test_container_moves_carry_their_contents(kit) -> None:
    led, bag, shipper = kit
    u = led.unit
    led.run(decide_pack, u(bag), u(shipper), actor="nurse")
    with pytest.raises(ValueError):
        decide_handover(u(shipper), "kim", contents=[], actor="nurse", now=led.now)
    events = led.run(decide_handover, u(shipper), "kim", contents=[u(bag)], actor="nurse")
    assert [(e["stream"], e["data"]["via_container"]) for e in events] == [
        (str(shipper), None), (str(bag), str(shipper))]
    led.run(decide_acknowledge, u(shipper), contents=[u(bag)], actor="kim")
    assert u(bag).custodian == "kim"
    assert refused(led, decide_deliver, u(shipper), contents=[u(bag)],
                   actor="kim") == "NOT_IN_TRANSIT"
    led.run(decide_dispatch, u(shipper), carrier="ColdChain", tracking="CC1", from_site="H",
            to_site="M", contents=[u(bag)], actor="kim")
    assert u(bag).shipment is not None and u(shipper).shipment.tracking == "CC1"
    assert refused(led, decide_dispatch, u(shipper), carrier="c", tracking="t", from_site="a",
                   to_site="b", contents=[u(bag)], actor="kim") == "IN_TRANSIT"
    assert refused(led, decide_unpack, u(bag), u(shipper), actor="kim") == "IN_TRANSIT"
    assert refused(led, decide_deliver, u(shipper), tracking="CC2", contents=[u(bag)],
                   actor="kim") == "TRACKING_MISMATCH"
    led.run(decide_deliver, u(shipper), tracking="CC1", contents=[u(bag)], actor="kim")
    assert u(bag).shipment is None and u(bag).location == "M"


def test_missing_and_disposed_units(kit) -> None:
    led, bag, _ = kit
    assert refused(led, decide_handover, UnitState(), "kim", actor="nurse") == "UNIT_NOT_FOUND"
    led.run(decide_dispose, led.unit(bag), "damaged", method="incineration", actor="nurse")
    assert refused(led, decide_handover, led.unit(bag), "kim", actor="nurse") == "UNIT_DISPOSED"
    assert refused(led, decide_dispose, led.unit(bag), "x", actor="nurse") == "UNIT_DISPOSED"


def test_dispatch_needs_a_settled_custodian(kit) -> None:
    led, bag, _ = kit
    u = led.unit
    ship = dict(carrier="c", tracking="t", from_site="a", to_site="b")
    assert refused(led, decide_dispatch, u(bag), actor="kim", **ship) == "NOT_CUSTODIAN"
    led.run(decide_handover, u(bag), "kim", actor="nurse")
    assert refused(led, decide_dispatch, u(bag), actor="nurse", **ship) == "TRANSFER_PENDING"
