"""Units an EPCIS document brings into being: commissioning (UnitLabelled) and
TransformationEvents (UnitsDerived + UnitLabelled of the outputs).

Both go through the application services (``UnitService.label``, ``QualityService.derive``)
with label ids planned here, because the new units' ids must be known while the rest of the
document is planned.

Label data comes from the ``coi:`` namespace of the event's ``ilmd``: ``kind``, ``coi``,
``spec``, ``identifiers``, ``parents`` (EPCs), ``product``, ``volume_ml``; for a
TransformationEvent ``outputs`` ([{epc, kind, spec, identifiers, product, volume_ml}]),
``process``, ``batch``, ``consumed``. A commissioned unit keeps its EPC as identifier ``epc``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ledger.domain.events_quality import UnitsDerived
from ledger.domain.events_unit import UnitLabelled
from ledger.domain.identifiers import issue_unit_label, validate_coi
from ledger.errors import InvalidEvent
from ledger.services import Services
from ledger.streams import case_stream, unit_stream

from . import ids
from .planner import Known, PlanState, biz_step

LABEL_FIELDS = ("spec", "product", "volume_ml")


def _case(state: PlanState, coi: Any, *, mapped: bool = True) -> str | None:
    """The case new units belong to: with ``mapped``, the capture's ``?coi=`` if given (the
    ilmd's COI may be another ledger's), else ``coi``."""
    chosen = (state.case_coi if mapped else None) or coi
    if not isinstance(chosen, str):
        state.skip("no case: the ilmd names no coi:coi and the capture no ?coi=")
        return None
    try:
        chosen = validate_coi(chosen)
    except InvalidEvent as exc:
        state.skip(exc.detail)
        return None
    if state.reads.case(case_stream(chosen)).version == 0:
        state.skip(f"case {chosen} is not in this ledger")
        return None
    return chosen


def _identifiers(epc: str, given: Any, source_coi: Any, coi: str) -> dict[str, Any]:
    out = dict(given) if isinstance(given, Mapping) else {}
    if "epc" not in out and len(epc) <= 128:
        out["epc"] = epc
    if isinstance(source_coi, str) and source_coi != coi:
        out["source_coi"] = source_coi
    return out


def commission(state: PlanState, s: Services, event: Mapping[str, Any], epc: str) -> None:
    data = ids.ours(event.get("ilmd"))
    if not isinstance(data.get("kind"), str):
        state.skip(f"{epc}: commissioning of an unknown EPC without ledger label data "
                   "(ilmd coi:kind, coi:coi)")
        return
    if not state.may(UnitLabelled.__name__):
        state.skip(f"{epc}: the principal's role may not record {UnitLabelled.__name__}")
        return
    coi = _case(state, data.get("coi"))
    if coi is None:
        return
    parents = []
    for parent_epc in data.get("parents") or []:
        parent = state.unit(parent_epc)
        if not isinstance(parent, Known):
            state.skip(f"{epc}: parent {parent}")
            return
        parents.append(parent.unit_id)
    label = issue_unit_label()
    unit = Known(unit_stream(label), coi, data["kind"])
    identifiers = _identifiers(epc, data.get("identifiers"), data.get("coi"), coi)
    extra = {k: data[k] for k in LABEL_FIELDS if data.get(k) is not None}
    ctx = state.ctx(event)
    state.labelled[epc] = unit
    state.run("label", unit, epc, lambda: s.units.label(
        ctx, coi=coi, kind=data["kind"], label=label, identifiers=identifiers, parents=parents, **extra),
        label=label, coi=coi)


def transform(state: PlanState, s: Services, event: Mapping[str, Any]) -> None:
    inputs = [state.unit(e) for e in event.get("inputEPCList") or []]
    missing = [i for i in inputs if not isinstance(i, Known)]
    outputs = [e for e in event.get("outputEPCList") or [] if isinstance(e, str)]
    if missing or not inputs or not outputs:
        state.skip("; ".join(map(str, missing)) or
                   "a transformation the ledger tracks needs input and output EPCs")
        return
    if not state.may(UnitsDerived.__name__):
        state.skip(f"the principal's role may not record {UnitsDerived.__name__}")
        return
    already = [e for e in outputs if isinstance(state.unit(e), Known)]
    if already:
        state.skip(f"outputs already labelled: {', '.join(already)[:300]}")
        return
    data = ids.ours(event.get("ilmd"))
    cois = {i.coi for i in inputs if isinstance(i, Known)}
    coi = _case(state, cois.pop() if len(cois) == 1 else None, mapped=False)
    if coi is None:
        return
    specs = {o.get("epc"): o for o in data.get("outputs") or [] if isinstance(o, Mapping)}
    labels = [issue_unit_label() for _ in outputs]
    made = []
    for epc in outputs:
        spec = specs.get(epc, data)
        made.append({"kind": spec.get("kind") or "final_product_bag",
                     "identifiers": _identifiers(epc, spec.get("identifiers"), None, coi),
                     **{k: spec[k] for k in LABEL_FIELDS if spec.get(k) is not None}})
    lot = data.get("batch") or (event.get("ilmd") or {}).get("cbvmda:lotNumber")
    process = data.get("process") or biz_step(event) or "epcis-transformation"
    in_ids = [i.unit_id for i in inputs if isinstance(i, Known)]
    ctx = state.ctx(event)

    for epc, label, output in zip(outputs, labels, made, strict=True):
        state.labelled[epc] = Known(unit_stream(label), coi, output["kind"])
    state.run("derive", None, None, lambda: s.quality.derive(
        ctx, coi=coi, inputs=in_ids, outputs=made, process=str(process)[:128],
        batch=str(lot)[:128] if lot else None, consumed=data.get("consumed", True) is not False, labels=labels),
        inputs=event.get("inputEPCList"), outputs=outputs, labels=labels)
