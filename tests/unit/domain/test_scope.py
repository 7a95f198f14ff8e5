"""Which sites and which case a stream involves (``ledger.domain.scope``), on plain envelopes."""

from __future__ import annotations

from uuid import uuid4

from ledger.domain.events_case import CaseEnrolled, DonorRegistered
from ledger.domain.events_quality import ManufacturingStarted
from ledger.domain.events_unit import UnitLabelled
from ledger.domain.scope import holds_custody, owner_case, stream_sites
from ledger.domain.unit import Pending, UnitState


def env(type_: str, data: dict, site: str | None = None) -> dict:
    return {"type": type_, "data": data, "site": site}


def test_a_streams_sites_are_where_its_events_happened_and_what_their_data_names() -> None:
    stream = [env("CustodyTransferred", {"from_party": "a", "to_party": "b", "location": "hub"}, "hospital-1"),
              env("ShipmentDispatched", {"carrier": "c", "tracking": "t", "from_site": "hospital-1",
                                         "to_site": "factory-1"})]
    assert stream_sites(stream) == {"hospital-1", "hub", "factory-1"}


def test_the_case_a_stream_belongs_to() -> None:
    case, unit, lot = uuid4(), uuid4(), uuid4()
    assert owner_case(case, [env(DonorRegistered.__name__, {"collection_site": "h"})]) == case
    assert owner_case(case, [env(CaseEnrolled.__name__, {"treating_site": "h"})]) == case
    assert owner_case(unit, [env(UnitLabelled.__name__, {"case": str(case)})]) == case
    assert owner_case(lot, [env(ManufacturingStarted.__name__, {"case": str(case)})]) == case
    assert owner_case(uuid4(), [env("UserCreated", {"user_id": "u"})]) is None
    assert owner_case(uuid4(), []) is None


def test_custody_is_the_custodian_or_the_pending_recipient() -> None:
    held = UnitState(custodian="nurse")
    assert holds_custody(held, "nurse") and not holds_custody(held, "courier")
    offered = UnitState(custodian="nurse", pending=Pending("nurse", "courier"))
    assert holds_custody(offered, "courier") and not holds_custody(offered, "tech")
