"""Ledger events -> EPCIS 2.0 events (for query and for the export of a whole case).

Each ledger event becomes one EPCIS event (``eventID`` = ``urn:uuid:<ledger event id>``)
with the envelope kept in ``coi:`` extension fields (type, stream, seq, hash, actor, server
time, e-signature manifestation; data without patient pseudonyms). Copies a container's
custody step leaves on each unit inside it (``via_container``), the unit side of packing and
the labels of a derivation's outputs are implied by the container event, the
AggregationEvent and the TransformationEvent, so they are not repeated.

Each event type's ``EventSpec.epcis`` names the shape built here (a function per shape) with
its CBV business step, disposition and action; ``NotExported`` types (identity, access and key
records) give nothing.

| ledger | EPCIS |
|---|---|
| UnitLabelled | ObjectEvent ADD ``commissioning``, label data in ``ilmd`` (``coi:``) |
| PackedInto / UnpackedFrom | AggregationEvent ADD ``packing`` / DELETE ``unpacking`` |
| CustodyTransferred / CustodyAcknowledged | ObjectEvent ``shipping`` / ``receiving`` with parties |
| ShipmentDispatched / ShipmentDelivered | ObjectEvent ``departing`` / ``arriving``, ``bol`` |
| TemperatureRecorded | ObjectEvent ``sensor_reporting`` with Temperature sensor reports |
| UnitsDerived | TransformationEvent, outputs' label data in ``ilmd`` |
| ManufacturingStarted | TransformationEvent with the inputs, ``transformationID`` = the lot |
| ProductFilled | TransformationEvent with the outputs (label data in ``ilmd``), same ``transformationID`` |
| ManufacturingStepRecorded | ObjectEvent OBSERVE naming the case, ``coi:data`` (lot, stage) |
| any other exported type | ObjectEvent OBSERVE naming the unit (or the case), ``coi:ledgerType`` |
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from uuid import UUID

from ledger.domain.catalogue import SPECS
from ledger.domain.events_quality import ProductFilled, UnitsDerived
from ledger.domain.events_unit import UnitLabelled
from ledger.domain.spec import Epcis, EpcisShape
from ledger.store.application import Ledger
from ledger.store.records import SealedEvent
from projections.audit_text import REASONS
from projections.common import scrub

from . import ids

LABEL_DATA = ("kind", "coi", "label", "identifiers", "spec", "product", "volume_ml")


_DERIVING = (UnitsDerived.__name__, ProductFilled.__name__)


class Source:
    """Reads streams once and knows each unit's EPC."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self._streams: dict[str, list[SealedEvent]] = {}

    def stream(self, stream: str) -> list[SealedEvent]:
        if stream not in self._streams:
            self._streams[stream] = self.ledger.read_stream(UUID(stream))
        return self._streams[stream]

    def event(self, stream: str, seq: int) -> SealedEvent | None:
        events = self.stream(stream)
        return events[seq - 1] if 0 < seq <= len(events) else None

    def label(self, unit: str) -> dict[str, Any]:
        events = self.stream(unit)
        first = events[0].envelope if events else {}
        return dict(first.get("data") or {}) if first.get("type") == UnitLabelled.__name__ else {}

    def epc(self, unit: str | None) -> str:
        data = self.label(str(unit)) if unit else {}
        given = (data.get("identifiers") or {}).get("epc")
        return given if isinstance(given, str) and ":" in given else ids.unit_uri(
            data.get("label") or str(unit))

    def case_uri(self, stream: str) -> str:
        events = self.stream(stream)
        coi = (events[0].envelope.get("data") or {}).get("coi") if events else None
        return ids.CASE + str(coi or stream)

    def derived(self, unit: str, parents: list[str]) -> bool:
        """Was ``unit`` labelled by a derivation (its TransformationEvent carries the label)?"""
        return bool(parents) and any(
            e.envelope["type"] in _DERIVING and unit in e.envelope["data"]["outputs"]
            for e in self.stream(parents[0]))


def _base(event: SealedEvent, kind: str, **fields: Any) -> dict[str, Any]:
    env = event.envelope
    out: dict[str, Any] = {"type": kind, "eventTime": env.get("occurred_at") or env["recorded_at"],
                           "eventTimeZoneOffset": "+00:00", "recordTime": env["recorded_at"],
                           "eventID": f"urn:uuid:{env['event_id']}", **fields}
    if env.get("site"):
        out["readPoint"] = {"id": ids.as_uri(env["site"], ids.SITE)}
    out.update(ids.namespaced({
        "ledgerType": env["type"], "eventId": env["event_id"], "stream": env["stream"],
        "seq": env["seq"], "hash": event.hash, "actor": env["actor"],
        "onBehalf": env.get("on_behalf"), "recordedAt": env["recorded_at"]}))
    if env.get("esign"):
        out[f"{ids.PREFIX}:esign"] = ids.namespaced(env["esign"])
    return out


def _parties(kind: str, **values: str | None) -> list[dict[str, str]]:
    key = "source" if kind == "sourceList" else "destination"
    prefixes = {"possessing_party": ids.PARTY, "location": ids.SITE}
    return [{"type": t, key: ids.as_uri(v, prefixes[t])} for t, v in values.items() if v]


def _outputs(source: Source, units: list[str]) -> list[dict[str, Any]]:
    return [{"epc": source.epc(o), **{k: v for k, v in source.label(o).items()
                                     if k in LABEL_DATA and v not in (None, {}, [])}} for o in units]


Shape = Callable[[Source, SealedEvent, Epcis], dict[str, Any] | None]


def to_epcis(source: Source, event: SealedEvent) -> dict[str, Any] | None:
    """One ledger event as an EPCIS event (built by its spec's EPCIS shape), or None when
    another event already says it or its type is not exported."""
    env = event.envelope
    spec = SPECS.get(env["type"])
    how = spec.epcis if spec is not None else OTHER
    if not isinstance(how, Epcis) or (env.get("data") or {}).get("via_container"):
        return None
    return SHAPES[how.shape](source, event, how)


def _commissioning(source: Source, event: SealedEvent, how: Epcis) -> dict[str, Any] | None:
    d, stream = event.envelope["data"], event.envelope["stream"]
    if source.derived(stream, list(d.get("parents") or [])):
        return None
    data = {k: d[k] for k in LABEL_DATA if d.get(k) not in (None, {}, [])}
    data["parents"] = [source.epc(p) for p in d.get("parents") or []]
    return _base(event, "ObjectEvent", action=how.action, epcList=[source.epc(stream)], bizStep=how.biz_step,
                 disposition=how.disposition, ilmd=ids.namespaced(data))


def _aggregation(source: Source, event: SealedEvent, how: Epcis) -> dict[str, Any] | None:
    d, stream = event.envelope["data"], event.envelope["stream"]
    if stream != d["container"]:
        return None
    return _base(event, "AggregationEvent", action=how.action, parentID=source.epc(d["container"]),
                 childEPCs=[source.epc(d["unit"])], bizStep=how.biz_step)


def _custody(source: Source, event: SealedEvent, how: Epcis) -> dict[str, Any]:
    d = event.envelope["data"]
    out = _base(event, "ObjectEvent", action=how.action, epcList=[source.epc(event.envelope["stream"])],
                bizStep=how.biz_step, sourceList=_parties("sourceList", possessing_party=d["from_party"]),
                destinationList=_parties("destinationList", possessing_party=d["to_party"],
                                         location=d.get("location")))
    return _condition(out, d)


def _shipment(source: Source, event: SealedEvent, how: Epcis) -> dict[str, Any]:
    d = event.envelope["data"]
    departing = how.biz_step == "departing"  # the carrier takes possession
    out = _base(event, "ObjectEvent", action=how.action, epcList=[source.epc(event.envelope["stream"])],
                bizStep=how.biz_step,
                bizTransactionList=[{"type": "bol", "bizTransaction": ids.as_uri(d["tracking"], ids.TRACKING)}],
                sourceList=_parties("sourceList", location=d.get("from_site")),
                destinationList=_parties("destinationList", possessing_party=d["carrier"] if departing else None,
                                         location=d.get("to_site")))
    return _condition(out, d)


def _condition(out: dict[str, Any], d: Mapping[str, Any]) -> dict[str, Any]:
    if d.get("condition"):
        out[f"{ids.PREFIX}:condition"] = d["condition"]
    return out


def _sensor(source: Source, event: SealedEvent, how: Epcis) -> dict[str, Any]:
    d = event.envelope["data"]
    device = ids.as_uri(d["logger"], ids.DEVICE)
    return _base(event, "ObjectEvent", action=how.action, epcList=[source.epc(event.envelope["stream"])],
                 bizStep=how.biz_step, sensorElementList=[{"sensorMetadata": {"deviceID": device}, "sensorReport": [
                     {"type": "Temperature", "time": r["t"], "value": r["celsius"], "uom": "CEL"}
                     for r in d["readings"]]}])


def _lot_start(source: Source, event: SealedEvent, how: Epcis) -> dict[str, Any] | None:
    d = event.envelope["data"]
    if event.envelope["stream"] in d["inputs"]:
        return None  # the lot's copy says it
    return _base(event, "TransformationEvent", inputEPCList=[source.epc(i) for i in d["inputs"]],
                 transformationID=f"{ids.LOT}{d['coi']}:{d['lot']}",
                 ilmd=ids.namespaced({"process": d["process"], "batch": d["lot"], "site": d["site"]}))


def _lot_fill(source: Source, event: SealedEvent, how: Epcis) -> dict[str, Any]:
    d = event.envelope["data"]
    coi = source.label(str(d["outputs"][0])).get("coi")
    return _base(event, "TransformationEvent", outputEPCList=[source.epc(o) for o in d["outputs"]],
                 transformationID=f"{ids.LOT}{coi}:{d['lot']}",
                 ilmd=ids.namespaced({"batch": d["lot"], "outputs": _outputs(source, d["outputs"])}))


def _transformation(source: Source, event: SealedEvent, how: Epcis) -> dict[str, Any] | None:
    d = event.envelope["data"]
    if event.envelope["stream"] != d["inputs"][0]:
        return None
    outputs = _outputs(source, d["outputs"])
    ilmd = {"process": d["process"], "batch": d.get("batch"), "consumed": d.get("consumed", True),
            "outputs": outputs}
    return _base(event, "TransformationEvent", inputEPCList=[source.epc(i) for i in d["inputs"]],
                 outputEPCList=[o["epc"] for o in outputs],
                 ilmd=ids.namespaced({k: v for k, v in ilmd.items() if v is not None}))


def _observe(source: Source, event: SealedEvent, how: Epcis) -> dict[str, Any]:
    d, stream = event.envelope.get("data") or {}, event.envelope["stream"]
    out = _base(event, "ObjectEvent", action=how.action or "OBSERVE",
                epcList=[source.epc(stream)] if source.label(stream) else [source.case_uri(stream)])
    out.update({k: v for k, v in (("bizStep", how.biz_step), ("disposition", how.disposition)) if v})
    out[f"{ids.PREFIX}:data"] = ids.namespaced(scrub(dict(d)))
    return out


RECORD_KEEPING = frozenset(f"{ids.PREFIX}:{name}" for name in (
    "eventId", "hash", "actor", "onBehalf", "esign", "condition"))
"""Fields of the audit trail's kind: who recorded it, the e-signature, the ledger's own event id
and hash, and the condition note (a ``why`` of the trail)."""
UNSAID_DATA = frozenset(f"{ids.PREFIX}:{name}" for name in (
    *REASONS, "comment", "code", "corrected_event_id", "changes"))
"""``coi:data`` fields that give a reason or name another ledger event."""


def without_audit_fields(event: dict[str, Any]) -> dict[str, Any]:
    """``event`` for a reader who may not read the audit trail (``read_audit``): no actor, no
    e-signature, no reason, no ledger event id or hash. Its ``eventID`` becomes the content
    hash of what is left (``ids.event_id``), so the event still has a stable, valid id."""
    out = {k: v for k, v in event.items() if k not in RECORD_KEEPING and k != "eventID"}
    data = out.get(f"{ids.PREFIX}:data")
    if isinstance(data, dict):
        out[f"{ids.PREFIX}:data"] = {k: v for k, v in data.items() if k not in UNSAID_DATA}
    out["eventID"] = ids.event_id(out)
    return out


OTHER = Epcis("observe", action="OBSERVE")
"""A type this code does not know (a newer ledger's): an OBSERVE carrying its data."""

SHAPES: dict[EpcisShape, Shape] = {
    "commissioning": _commissioning, "aggregation": _aggregation, "custody": _custody, "shipment": _shipment,
    "sensor": _sensor, "transformation": _transformation, "lot_start": _lot_start, "lot_fill": _lot_fill,
    "observe": _observe,
}
