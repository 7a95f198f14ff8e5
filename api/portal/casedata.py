"""Everything the case page shows, gathered from the read models and filtered by role.

Only read-model query functions and the event store are used, the same the API routes use.
Nothing here carries a patient identifier: the read models never store ``patient_ref``, the
audit trail's detail is not shown, and :func:`assert_no_pseudonym` guards the final context.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ledger.bootstrap import key_store
from ledger.timefmt import utc_now
from projections.audit_evidence import check_rows
from projections.audit_query import audit_trail_page, one_row_per_step, readable
from projections.cases_query import case_summary
from projections.conditions_query import conditions_for_unit
from projections.custody_query import HANDOVER_LIMIT, custody_timeline
from projections.dose_query import doses_given
from projections.exceptions_query import exceptions
from projections.genealogy_query import genealogy_for_coi
from projections.scope_query import case_visible, visible_cases

from ..authority import read_scope
from ..container import Container
from ..deps import Principal
from . import chart, graph
from .session import may_audit
from .verification import read_events, verify_case

TRAIL_LIMIT = 1000
CHART_POINTS = 480


class Names:
    """User id -> printed name (devices and unknown ids stay as they are)."""

    def __init__(self, container: Container) -> None:
        self.reads = container.services.reads()
        self.cache: dict[str, str | None] = {}

    def __call__(self, user_id: str | None) -> str | None:
        if not user_id:
            return None
        if user_id not in self.cache:
            user = self.reads.user(user_id)
            self.cache[user_id] = user.printed_name if user.version else None
        return self.cache[user_id]


def _what(row: Mapping[str, Any], labels: Mapping[str, str]) -> str | None:
    text = row["what"]
    if row["contents"]:  # the container's row says what moved inside it
        text = f"{text} (contents: {', '.join(row['contents'])})"
    return readable(text, labels)


def _custody_rows(timeline: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Holder intervals and gaps in one time-ordered list (a gap sorts before what it delays)."""
    out = [{"row": "interval", "at": i["from"], **i} for i in timeline["intervals"]]
    out += [{"row": "gap", "at": g["from"], **g} for g in timeline["gaps"]]
    return sorted(out, key=lambda r: (r["at"] or "", r["row"] != "gap"))


def load_case(container: Container, principal: Principal, coi: str) -> dict[str, Any] | None:
    coi = coi.strip().upper()
    audit = may_audit(principal)
    scope = read_scope(principal)
    now = utc_now()
    with container.engine.connect() as conn:
        case = case_summary(conn, coi)
        if case is None or not case_visible(conn, scope, coi):
            return None
        genealogy = genealogy_for_coi(conn, coi, scope) or {"nodes": [], "edges": []}
        rows = audit_trail_page(conn, {"coi": coi}, None, TRAIL_LIMIT, scope)
        streams = {r["stream"] for r in rows["items"]} | {n["id"] for n in genealogy["nodes"] if n["type"] == "unit"}
        events = read_events(container.ledger, streams)
        keyring = key_store(container.settings).key_ring()
        check_rows(conn, rows["items"], keyring, {"coi": coi})  # each row shown against its sealed event
        badge = verify_case(conn, keyring, rows["items"], events)
        units = []
        for node in genealogy["nodes"]:
            if node["type"] != "unit":
                continue
            timeline = custody_timeline(conn, node["id"], now=now, handover_limit=HANDOVER_LIMIT)
            conditions = conditions_for_unit(conn, node["id"], limit=CHART_POINTS, downsample=True)
            units.append({
                "node": node, "custody": timeline, "custody_rows": _custody_rows(timeline) if timeline else [],
                "conditions": conditions, "chart": chart.build(conditions) if conditions else None,
            })
        doses = _doses(conn, case, scope)
        review = (exceptions(conn, coi=coi, state="all", now=now, handover_limit=HANDOVER_LIMIT, scope=scope)
                  if audit else None)
    labels = {n["id"]: n["label"] for n in genealogy["nodes"] if n["type"] == "unit" and n["label"]}
    # The trail's ``detail`` (raw event data) is never shown: what/why/changes say it in words.
    # A step recorded on several streams (packing, a container's moves) is one row.
    trail = [{**{k: v for k, v in r.items() if k != "detail"}, "what": _what(r, labels),
              "mirrors": [{"event_id": m["event_id"], "position": m["position"]} for m in r["mirrors"]],
              "verified": all(x["verified"] for x in [r, *r["mirrors"]]),
              "problem": "; ".join(f"#{x['position']}: {x['problem']}" for x in [r, *r["mirrors"]] if x["problem"])}
             for r in one_row_per_step(rows["items"])] if audit else None
    for item in review or []:
        item["detail"] = readable(item["detail"], labels)
    by_event = {e: r for r in trail or [] for e in [r["event_id"], *(m["event_id"] for m in r["mirrors"])]}
    context = {
        "coi": coi, "case": case, "can_audit": audit, "badge": badge, "units": units,
        "drawing": graph.layout(genealogy, events, coi, audit),
        "trail": trail, "trail_truncated": bool(rows["next_cursor"]), "exceptions": review,
        "by_event": by_event, "events_checked": len(rows["items"]), "doses": doses,
    }
    assert_no_pseudonym(context)
    context["names"] = Names(container)
    return context


def _doses(conn: Any, case: Mapping[str, Any], scope: Any) -> list[dict[str, Any]]:
    """An allogeneic patient's doses with their QC results and release (facts of the donor case's
    units, shown to whoever may read this patient's case: the dose was given to this patient); the
    donor case is linked only when it is in the reader's scope."""
    if case["kind"] != "allogeneic":
        return []
    doses = doses_given(conn, case["coi"])
    linked = visible_cases(conn, scope, [d["donor_coi"] for d in doses if d["donor_coi"]])
    return [{**d, "donor_linked": d["donor_coi"] in linked} for d in doses]


PSEUDONYMS = ("patient_ref", "donor_ref", "wristband", "mrn")


def assert_no_pseudonym(value: Any, depth: int = 0) -> None:
    """Refuse to render a context that carries a patient or donor pseudonym under any key."""
    if depth > 12:
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if str(key).lower() in PSEUDONYMS:
                raise ValueError(f"refusing to render a patient identifier ({key})")
            assert_no_pseudonym(item, depth + 1)
    elif isinstance(value, (list, tuple)):
        for item in value:
            assert_no_pseudonym(item, depth + 1)
