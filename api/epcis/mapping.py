"""EPCIS events -> application service commands (collected into one all-or-nothing batch).

| EPCIS | ledger |
|---|---|
| ObjectEvent ``shipping`` | ``units.handover`` to the destination's possessing (else owning) party |
| ObjectEvent ``receiving`` | ``units.acknowledge`` by the destination party |
| ObjectEvent ``departing`` | ``units.dispatch`` (tracking = ``bol``/``desadv`` transaction) |
| ObjectEvent ``arriving`` | ``units.deliver`` |
| ObjectEvent ADD ``commissioning``, unknown EPC, ``coi:`` ilmd | label a unit (UnitLabelled) |
| AggregationEvent ADD / DELETE | ``units.pack`` / ``units.unpack`` each child into / out of the parent |
| TransformationEvent | derive outputs from inputs (UnitsDerived + UnitLabelled) |
| Temperature sensor reports (any event) | ``quality.record_temperatures`` on the event's subject |
| other events naming known units | ``units.scan`` (purpose ``verify``) |
| ``errorDeclaration`` | ``quality.correct`` (EventCorrected) on the events it was mapped to |

A party named in the document acts only as itself: a handover is applied only when its
source party is the capturing principal, an acknowledgement only when the destination is.
Whatever cannot be applied (unknown EPCs, no domain meaning, role not allowed, another party)
is reported as not applied; the domain still decides everything that is applied.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ledger.domain.catalogue import SPECS
from ledger.domain.events_quality import TemperatureRecorded
from ledger.domain.events_unit import PackedInto, UnitScanned, UnpackedFrom
from ledger.domain.spec import Epcis
from ledger.services import Services

from . import ids, sensors
from .commissioning import commission, transform
from .corrections import declare_error
from .planner import Known, PlanState, biz_step, disposition, parties, place, tracking

_EXPORTED = {t: s.epcis for t, s in SPECS.items() if isinstance(s.epcis, Epcis)}
CUSTODY_STEPS = {how.biz_step: t for t, how in _EXPORTED.items() if how.shape in ("custody", "shipment")}
"""The ledger type a custody or shipping business step records (from the specs' EPCIS mapping)."""
REPLAYABLE = frozenset(t for t, how in _EXPORTED.items() if how.shape in (
    "commissioning", "aggregation", "custody", "shipment", "sensor", "transformation"))
"""Ledger types whose export this module replays (a lot's start and fill, and the OBSERVE
records of people's decisions, are not)."""


def plan_event(state: PlanState, s: Services, event: Mapping[str, Any]) -> None:
    kind = event.get("type")
    ledger_type = ids.ours(event).get("ledgerType")
    if isinstance(event.get("errorDeclaration"), Mapping):
        declare_error(state, s, event)
    elif isinstance(ledger_type, str) and ledger_type not in REPLAYABLE:
        state.skip(f"a ledger record ({ledger_type[:64]}): kept with the document, not replayed "
                   "(it needs a person's wristband, signature or decision)")
    elif kind == "ObjectEvent":
        _object(state, s, event)
    elif kind == "AggregationEvent":
        _aggregation(state, s, event)
    elif kind == "TransformationEvent":
        transform(state, s, event)
        _temperatures(state, s, event, event.get("outputEPCList"))
    else:
        subject = event.get("epcList") if kind == "TransactionEvent" else [event.get("parentID")]
        state.skip(f"{str(kind)[:64]}: no domain meaning in the ledger")
        _temperatures(state, s, event, subject)
    current = state.current
    if current is not None and not current.applied and not current.not_applied:
        state.skip("nothing in this event has a meaning in the ledger (no Temperature readings, "
                   "no custody, packing or manufacturing step)")


def _units(state: PlanState, epcs: Any) -> list[tuple[str, Known]]:
    out = []
    for epc in epcs if isinstance(epcs, list) else []:
        found = state.unit(epc)
        if isinstance(found, Known):
            out.append((epc, found))
        else:
            state.skip(found)
    return out


def _object(state: PlanState, s: Services, event: Mapping[str, Any]) -> None:
    step, epcs = biz_step(event), event.get("epcList") or []
    if step == "commissioning" and event.get("action") == "ADD":
        for epc in epcs:
            found = state.unit(epc)
            if isinstance(found, Known):
                _scan(state, s, event, epc, found)
            else:
                commission(state, s, event, epc)
    elif step in CUSTODY_STEPS:
        for epc, unit in _units(state, epcs):
            _custody(state, s, event, step, epc, unit)
    elif step in (None, "sensor_reporting") and event.get("sensorElementList"):
        pass  # sensor data only
    elif epcs:
        for epc, unit in _units(state, epcs):
            _scan(state, s, event, epc, unit)
    else:
        state.skip("no EPCs: quantities and classes are not tracked by the ledger")
    _temperatures(state, s, event, epcs)


def _scan(state: PlanState, s: Services, event: Mapping[str, Any], epc: str, unit: Known) -> None:
    if not state.may(UnitScanned.__name__):
        state.skip(f"{epc}: the principal's role may not record {UnitScanned.__name__}")
        return
    parsed = {"epc": epc} if len(epc) <= 128 else {}
    state.run("scan", unit, epc, lambda: s.units.scan(
        state.ctx(event), unit_id=unit.unit_id, raw=epc, kind="epc", purpose="verify", parsed=parsed,
        location=place(event)))


def _custody(state: PlanState, s: Services, event: Mapping[str, Any], step: str, epc: str,
             unit: Known) -> None:
    me = state.principal.id
    source, dest = parties(event, "sourceList"), parties(event, "destinationList")
    giver = source.get("possessing_party") or source.get("owning_party")
    taker = dest.get("possessing_party") or dest.get("owning_party")
    if not state.may(CUSTODY_STEPS[step]):
        state.skip(f"{epc}: the principal's role may not record {CUSTODY_STEPS[step]}")
        return
    ctx = state.ctx(event)
    condition = ids.ours(event).get("condition") or disposition(event)
    if step == "shipping":
        if not taker:
            state.skip(f"{epc}: shipping names no destination possessing_party or owning_party")
        elif giver and giver != me:
            state.skip(f"{epc}: the source party {giver} is not the capturing principal {me}: "
                       "only the custodian hands over")
        else:
            state.run("handover", unit, epc, lambda: s.units.handover(
                ctx, unit_id=unit.unit_id, to_party=taker, location=source.get("location") or place(
                    event), condition=condition), to_party=taker)
    elif step == "receiving":
        if taker and taker != me:
            state.skip(f"{epc}: the destination party {taker} is not the capturing principal {me}: "
                       "only the receiver acknowledges")
        else:
            state.run("acknowledge", unit, epc, lambda: s.units.acknowledge(
                ctx, unit_id=unit.unit_id, location=dest.get("location") or place(event),
                condition=condition))
    elif step == "departing":
        number, origin, target = tracking(event), source.get("location"), dest.get("location")
        if not (number and origin and target):
            state.skip(f"{epc}: departing needs a bol/desadv bizTransaction (the tracking number) "
                       "and source and destination locations")
        elif giver and giver != me:
            state.skip(f"{epc}: the source party {giver} is not the capturing principal {me}")
        else:
            carrier = dest.get("possessing_party") or me
            state.run("dispatch", unit, epc, lambda: s.units.dispatch(
                ctx, unit_id=unit.unit_id, carrier=carrier, tracking=number, from_site=origin,
                to_site=target), tracking=number)
    else:
        state.run("deliver", unit, epc, lambda: s.units.deliver(
            ctx, unit_id=unit.unit_id, tracking=tracking(event),
            to_site=dest.get("location") or place(event), condition=condition))


def _aggregation(state: PlanState, s: Services, event: Mapping[str, Any]) -> None:
    action, parent_epc = event.get("action"), event.get("parentID")
    parent = state.unit(parent_epc) if parent_epc else "an aggregation without parentID"
    if not isinstance(parent, Known):
        state.skip(str(parent))
        return
    children = event.get("childEPCs") or []
    if action == "ADD" and state.may(PackedInto.__name__):
        for epc, child in _units(state, children):
            state.contents_of(parent.unit_id).add(child.unit_id)
            state.run("pack", child, epc, lambda c=child: s.units.pack(
                state.ctx(event), unit_id=c.unit_id, container_id=parent.unit_id),
                container=parent_epc)
    elif action == "DELETE" and state.may(UnpackedFrom.__name__):
        inside = state.contents_of(parent.unit_id)
        chosen = _units(state, children) if children else [
            (None, Known(u, None, None)) for u in sorted(inside, key=str)]
        for epc, child in chosen:
            inside.discard(child.unit_id)
            state.run("unpack", child, epc, lambda c=child: s.units.unpack(
                state.ctx(event), unit_id=c.unit_id, container_id=parent.unit_id),
                container=parent_epc)
    elif action in ("ADD", "DELETE"):
        state.skip("the principal's role may not pack or unpack")
    else:
        _scan(state, s, event, parent_epc, parent)
    _temperatures(state, s, event, [parent_epc])


def _temperatures(state: PlanState, s: Services, event: Mapping[str, Any], subject: Any) -> None:
    if not event.get("sensorElementList"):
        return
    series, problems = sensors.readings(event)
    for problem in problems:
        state.skip(problem)
    if not series:
        return
    if not state.may(TemperatureRecorded.__name__):
        state.skip(f"the principal's role may not record {TemperatureRecorded.__name__}")
        return
    known = _units(state, [e for e in subject or [] if isinstance(e, str)])
    for epc, unit in known:
        for logger, readings in series.items():
            state.run("temperatures", unit, epc, lambda u=unit, lg=logger, r=readings:
                      s.quality.record_temperatures(state.ctx(event), unit_id=u.unit_id,
                                                    logger=lg, readings=r),
                      logger=logger, readings=len(readings))
