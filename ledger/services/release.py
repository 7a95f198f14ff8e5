"""Review sign-off, the release gate and the release summary, read from the ledger itself.

Families (see ``ledger.domain.release``) are found here: a product's is its case stream, the
unit and its ancestors; a case's is its case stream and every unit and lot of the case (the
units labelled for it, ``CaseUnits``; the lot named and what it was filled into) with their
ancestors. Exceptions are folded from the sealed events of those streams, with their hashes
(``fold_exceptions``), so the sign-off, the gate and the summary judge the same thing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from ..domain import product_spec, release
from ..domain.case import CaseState
from ..domain.catalogue import spec_of, typed
from ..domain.events_quality import ProductFilled
from ..domain.exceptions import fold_exceptions
from ..domain.unit import UnitState
from ..streams import case_stream, lot_stream, product_stream
from ..timefmt import format_utc
from .executor import Reads
from .scope import CaseUnits, no_units

Records = list[tuple[Mapping[str, Any], str]]
RELEASABLE = ("final_product_bag", "cryobag")


def records(reads: Reads, stream: UUID) -> Records:
    """``(envelope, hash)`` of a stream's sealed events, in seq order."""
    return [(r.envelope, r.hash) for r in reads.ledger.read_stream(stream)]


def closure(reads: Reads, roots: Iterable[UUID], *, outputs: bool = True) -> list[UUID]:
    """``roots`` and all their ancestors (parents, their parents ...), and (``outputs``) for a lot
    the units it was filled into, each once, in the order found."""
    seen: dict[UUID, None] = {}
    todo = list(roots)
    while todo:
        stream = todo.pop(0)
        if stream in seen:
            continue
        envelopes = reads.envelopes(stream)
        if not envelopes:
            continue
        seen[stream] = None
        todo.extend(reads.unit(stream).parents)
        if outputs:
            todo.extend(UUID(str(o)) for e in envelopes if e["type"] == ProductFilled.__name__
                        for o in e["data"]["outputs"])
    return list(seen)


def product_family(reads: Reads, unit: UnitState, ancestors: Sequence[UnitState]) -> list[UUID]:
    """The streams of a product's family: its case, itself, its ancestors."""
    streams = [s for s in (unit.case, unit.stream, *(a.stream for a in ancestors)) if s is not None]
    return list(dict.fromkeys(streams))


def case_family(reads: Reads, case: CaseState, case_units: CaseUnits = no_units,
                lot: str | None = None) -> list[UUID]:
    """The streams of a case's family (its review covers them)."""
    assert case.stream is not None and case.coi is not None
    roots = [*case_units(case.coi), *([lot_stream(case.coi, lot)] if lot else [])]
    return [case.stream, *(s for s in closure(reads, roots) if s != case.stream)]


def family_exceptions(reads: Reads, streams: Iterable[UUID], now: datetime | None) -> dict[str, Any]:
    return fold_exceptions(release.in_log_order(records(reads, s) for s in streams), now)


def release_review(reads: Reads, unit: UnitState, ancestors: Sequence[UnitState],
                   now: datetime) -> release.ReleaseReview:
    """What the release gate judges for ``unit``: its family's exceptions, its case's latest sign-off."""
    exceptions = family_exceptions(reads, product_family(reads, unit, ancestors), now)
    signoff = release.latest_signoff(reads.envelopes(unit.case)) if unit.case else None
    return release.ReleaseReview(exceptions, signoff)


def spec_results(reads: Reads, streams: Iterable[UUID]) -> list[dict[str, Any]]:
    """The spec results of the lots among ``streams`` (a family), each judged against the
    specification version pinned to its lot (``product_spec.spec_results``: the latest QC result
    of each test across the lot, its ancestors and what it was filled into, the latest value of
    each process parameter), with the lot's number."""
    out = []
    for stream in streams:
        if not reads.envelopes(stream) or (lot := reads.unit(stream)).kind != "lot":
            continue
        spec = None
        if lot.spec_version is not None and lot.case is not None and (product := reads.case(lot.case).product):
            spec = product_spec.fold_product_spec(reads.envelopes(product_stream(product))).get(lot.spec_version)
        units = [reads.unit(s) for s in closure(reads, [stream])]
        for r in product_spec.spec_results(spec, units, lot):
            out.append({"name": r.name, "kind": r.kind, "value": r.value, "uom": r.uom, "limits": r.limits,
                        "verdict": r.verdict, "lot": lot.label})
    return out


SIGNED_SPEC_FIELDS = ("name", "kind", "value", "uom", "verdict")
"""What a sign-off keeps of each spec result (``ReviewedSpecResult``)."""


# The release summary ---------------------------------------------------------------------------

def _sig(env: Mapping[str, Any]) -> dict[str, Any] | None:
    sig = env.get("esign")
    if not sig:
        return None
    return {"signer": sig["signer"], "printed_name": sig["printed_name"], "meaning": sig["meaning"],
            "signed_at": sig["signed_at"]}


def _when(env: Mapping[str, Any]) -> str:
    return env.get("occurred_at") or env["recorded_at"]


def release_summary(reads: Reads, coi: str, *, now: datetime, case_units: CaseUnits = no_units,
                    lot: str | None = None) -> dict[str, Any] | None:
    """The case's review and release at ``now`` (None for an unknown case); see docs/API.md.
    ``lot``: a lot whose family to include besides the units ``case_units`` finds (as a
    sign-off naming it does)."""
    case = reads.case(case_stream(coi))
    if case.version == 0 or case.stream is None:
        return None
    donor: list[str] = []
    if case.role == "patient" and case.kind == "allogeneic":
        streams = [case.stream]
        for dose in case.allocated_units:
            unit = reads.unit(dose)
            ancestors = [reads.unit(s) for s in closure(reads, unit.parents, outputs=False)]
            streams += product_family(reads, unit, ancestors)
            donor.append(unit.coi or "")
        streams = list(dict.fromkeys(streams))
    else:
        streams = case_family(reads, case, case_units, lot)
    exceptions = family_exceptions(reads, streams, now)
    envelopes = {s: reads.envelopes(s) for s in streams}
    case_streams = {s: envs for s, envs in envelopes.items() if envs and envs[0]["type"] in
                    ("CaseEnrolled", "DonorRegistered")}
    units = {str(s): envs for s, envs in envelopes.items() if s not in case_streams and envs}
    products, lots = [], []
    for stream, envs in units.items():
        state = reads.unit(UUID(stream))
        if state.kind == "lot":
            started = next((e for e in envs if e["type"] == "ManufacturingStarted"), None)
            filled = next((e for e in envs if e["type"] == "ProductFilled"), None)
            lots.append({"lot": started["data"]["lot"] if started else state.label, "lot_id": stream,
                         "coi": state.coi, "process": started["data"]["process"] if started else None,
                         "site": started["data"]["site"] if started else None,
                         "started_at": _when(started) if started else None,
                         "stages": list(state.stages), "filled_at": _when(filled) if filled else None})
            continue
        if state.kind not in RELEASABLE:
            continue
        mine = state.coi == case.coi or state.stream in case.allocated_units
        if not mine:
            continue
        lineage = closure(reads, state.parents, outputs=False)
        qc = [{"test": e["data"]["test"], "result": e["data"]["result"], "value": e["data"].get("value"),
               "uom": e["data"].get("uom"), "unit": reads.unit(s).label, "at": _when(e), "signature": _sig(e)}
              for s in [state.stream, *lineage] for e in reads.envelopes(s) if e["type"] == "QCResultRecorded"]
        released = next((e for e in envs if e["type"] == "ProductReleased"), None)
        infused = next((e for e in envs if e["type"] == "ProductInfused"), None)
        products.append({
            "unit_id": stream, "label": state.label, "kind": state.kind, "coi": state.coi,
            "lot": dict(state.identifiers).get("lot"), "made_at": _when(envs[0]),
            "expiry": state.expiry_text if state.spec.expiry else None, "quarantined": state.quarantined,
            "qc": sorted(qc, key=lambda r: r["at"]),
            "released": released is not None,
            "release": ({"event_id": released["event_id"], "at": _when(released), "signature": _sig(released),
                         "notes": released["data"].get("notes")} if released else None),
            "infused": infused is not None, "allocated_to": str(state.allocated_to) if state.allocated_to else None})
    signatures = []
    for stream, envs in envelopes.items():
        for env in envs:
            sig = _sig(env)
            if sig is None:
                continue
            data = typed(env["type"], env["data"])
            signatures.append({"event_id": env["event_id"], "type": env["type"], "stream": str(stream),
                               "what": spec_of(env["type"]).describe(data) if data is not None else env["type"],
                               **sig})
    signatures.sort(key=lambda s: s["signed_at"])
    own_envs = reads.envelopes(case.stream)
    signoff = release.latest_signoff(own_envs)
    owner_cases = {str(s): envs for s, envs in case_streams.items()}
    times = release.figure_times(case, own_envs, units, owner_cases, now=now)
    listed = release.listing(exceptions)
    deviations = sorted({e.deviation_id for e in exceptions.values() if e.deviation_id})
    return {
        "coi": case.coi, "role": case.role, "kind": case.kind, "product": case.product, "status": case.status,
        "generated_at": format_utc(now), "donor_cois": sorted(set(donor)),
        "lots": sorted(lots, key=lambda x: x["started_at"] or ""),
        "products": sorted(products, key=lambda p: p["made_at"]),
        "spec_results": spec_results(reads, streams),
        "exceptions": [_exception(e) for _, e in sorted(exceptions.items(), key=lambda kv: kv[1].opened_at)],
        "deviations": deviations,
        "review": {
            "signed_off": signoff is not None,
            "current": signoff is not None and all(
                signoff.listed.get(e["exception_id"]) == (e["event_hash"], e["state"], e["classification"])
                for e in listed),
            "blocking": sum(1 for e in exceptions.values() if e.state == "open" and e.severity in release.BLOCKING),
            "latest": ({"event_id": signoff.event_id, "at": format_utc(signoff.at), "signer": signoff.signer,
                        "printed_name": signoff.printed_name, "lot": signoff.lot,
                        "exceptions_listed": len(signoff.listed)} if signoff else None),
            "sign_off_list": listed},
        "signatures": signatures,
        "figures": release.case_figures(now=now, **times),
    }


def _exception(e: Any) -> dict[str, Any]:
    return {"exception_id": e.exception_id, "kind": e.kind, "severity": e.severity, "state": e.state,
            "cleared": e.cleared, "classification": e.classification, "deviation_id": e.deviation_id,
            "detail": e.detail, "opened_at": format_utc(e.opened_at), "opened_event_id": e.opened_event_id,
            "event_hash": e.opened_hash, "dispositioned_event_id": e.dispositioned_event_id}
