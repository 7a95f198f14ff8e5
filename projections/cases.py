"""The ``cases`` read model: one row per case stream, for ``GET /v1/cases`` and ``/v1/cases/{coi}``.

``kind`` is ``autologous`` / ``allogeneic`` for patient cases and ``donor`` for allogeneic
donor cases. ``status`` is THE case status: every view (REST case summary and list, genealogy
case nodes, portal, dossier) shows this column. It is ``cancelled``, else ``on_hold``, else
the furthest milestone reached: ``enrolled`` < ``collected`` < ``in_manufacturing`` <
``released`` < ``allocated`` < ``infused`` (a donor case reaches ``allocated``/``infused`` when
one of its doses is allocated to / infused into a patient). ``units`` counts the units labelled
for the case, and for an allogeneic recipient the donor units allocated to them. The patient
(``patient_ref``) and donor (``donor_ref``) pseudonyms are never stored here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection

from .common import ReadModel, decode_cursor, encode_cursor, rows, sql, when

MILESTONES = ("enrolled", "collected", "in_manufacturing", "released", "allocated", "infused")
STATUSES = (*MILESTONES, "on_hold", "cancelled")
CORRECTABLE = {"kind", "product", "treating_site", "collection_site", "protocol"}
COLUMNS = ("case_id, coi, kind, product, treating_site, collection_site, protocol, status, "
           "milestone, hold_reason, enrolled_at, event_id, units, last_event_at, last_position")
MAX_PAGE = 500


def _status(milestone: str, held: int, cancelled: int) -> str:
    return "cancelled" if cancelled else "on_hold" if held else milestone


class CasesProjection(ReadModel):
    name = "cases"
    tables = ("cases",)

    def __init__(self) -> None:
        super().__init__()
        self._states: dict[str, dict[str, Any]] = {}  # case -> milestone/held/cancelled, this batch
        self._touched: dict[str, dict[str, Any]] = {}  # case -> its last event in this batch

    def begin_batch(self) -> None:
        self._states, self._touched = {}, {}

    def finish_batch(self, conn: Connection) -> None:
        """Each case touched by the batch gets its last event once (not once per event)."""
        if self._touched:
            conn.execute(sql("UPDATE cases SET last_event_at = :t, last_position = :p WHERE case_id = :c"),
                         list(self._touched.values()))
            self._touched = {}

    def _touch(self, case_id: str, env: Mapping[str, Any], position: int) -> None:
        self._touched[case_id] = {"t": env["recorded_at"], "p": position, "c": case_id}

    def apply(self, conn: Connection, position: int, event: Any) -> None:
        super().apply(conn, position, event)
        env = event.envelope if hasattr(event, "envelope") else event
        case_id = self._case_of(conn, env)
        if case_id is not None:
            self._touch(case_id, env, position)

    def _case_of(self, conn: Connection, env: Mapping[str, Any]) -> str | None:
        found = self.directory.lookup(conn, env["stream"])
        if found is None:
            return None
        _, role, case_id = found
        return env["stream"] if role == "case" else case_id

    def _enrol(self, conn: Connection, position: int, env: Mapping[str, Any], kind: str,
               site: str | None) -> None:
        d = env["data"]
        conn.execute(sql(
            "INSERT INTO cases (case_id, coi, kind, product, treating_site, collection_site, "
            "protocol, milestone, held, cancelled, status, hold_reason, enrolled_at, "
            "enrolled_position, event_id, units, last_event_at, last_position) VALUES "
            "(:case_id, :coi, :kind, :product, :site, :collection, :protocol, 'enrolled', 0, 0, "
            "'enrolled', NULL, :at, :p, :event_id, 0, :recorded, :p)"),
            {"case_id": env["stream"], "coi": d["coi"], "kind": kind, "product": d["product"],
             "site": site, "collection": d.get("collection_site"), "protocol": d.get("protocol"),
             "at": when(env), "p": position, "event_id": env["event_id"],
             "recorded": env["recorded_at"]})
        self._states[env["stream"]] = {"milestone": "enrolled", "held": 0, "cancelled": 0}

    def on_CaseEnrolled(self, conn: Connection, position: int, env: Mapping[str, Any]) -> None:
        self._enrol(conn, position, env, env["data"]["kind"], env["data"]["treating_site"])

    def on_DonorRegistered(self, conn: Connection, position: int, env: Mapping[str, Any]) -> None:
        self._enrol(conn, position, env, "donor", None)

    def _flags(self, conn: Connection, case_id: str, **changes: Any) -> None:
        state = self._states.get(case_id)
        if state is None:
            row = conn.execute(sql("SELECT milestone, held, cancelled FROM cases WHERE case_id = :c"),
                               {"c": case_id}).first()
            if row is None:
                return
            state = {"milestone": row[0], "held": row[1], "cancelled": row[2]}
        state = dict(state)
        if "milestone" in changes and MILESTONES.index(changes["milestone"]) <= MILESTONES.index(
                state["milestone"]):
            changes.pop("milestone")
        state.update(changes)
        hold_reason = changes.pop("hold_reason", None)
        conn.execute(sql(
            "UPDATE cases SET milestone = :milestone, held = :held, cancelled = :cancelled, "
            "status = :status, hold_reason = :hold_reason WHERE case_id = :c"),
            {**state, "status": _status(state["milestone"], state["held"], state["cancelled"]),
             "hold_reason": hold_reason if state["held"] else None, "c": case_id})
        self._states[case_id] = {k: state[k] for k in ("milestone", "held", "cancelled")}

    def on_CaseOnHold(self, conn: Connection, position: int, env: Mapping[str, Any]) -> None:
        self._flags(conn, env["stream"], held=1, hold_reason=env["data"]["reason"])

    def on_CaseResumed(self, conn: Connection, position: int, env: Mapping[str, Any]) -> None:
        self._flags(conn, env["stream"], held=0)

    def on_CaseCancelled(self, conn: Connection, position: int, env: Mapping[str, Any]) -> None:
        self._flags(conn, env["stream"], cancelled=1)

    def on_UnitLabelled(self, conn: Connection, position: int, env: Mapping[str, Any]) -> None:
        conn.execute(sql("UPDATE cases SET units = units + 1 WHERE case_id = :c"),
                     {"c": env["data"]["case"]})

    def _milestone(self, conn: Connection, env: Mapping[str, Any], milestone: str) -> None:
        case_id = self._case_of(conn, env)
        if case_id is not None:
            self._flags(conn, case_id, milestone=milestone)

    def on_MaterialCollected(self, conn: Connection, position: int, env: Mapping[str, Any]) -> None:
        self._milestone(conn, env, "collected")

    def on_UnitsDerived(self, conn: Connection, position: int, env: Mapping[str, Any]) -> None:
        self._milestone(conn, env, "in_manufacturing")

    def on_ManufacturingStarted(self, conn: Connection, position: int, env: Mapping[str, Any]) -> None:
        self._milestone(conn, env, "in_manufacturing")

    def on_ProductReleased(self, conn: Connection, position: int, env: Mapping[str, Any]) -> None:
        self._milestone(conn, env, "released")

    def on_ProductAllocated(self, conn: Connection, position: int, env: Mapping[str, Any]) -> None:
        if env["stream"] == env["data"]["patient_case"]:
            self._flags(conn, env["stream"], milestone="allocated")
            conn.execute(sql("UPDATE cases SET units = units + 1 WHERE case_id = :c"), {"c": env["stream"]})
        else:  # the dose's own stream: its donor case
            self._milestone(conn, env, "allocated")

    def on_ProductInfused(self, conn: Connection, position: int, env: Mapping[str, Any]) -> None:
        patient = env["data"]["case"]
        self._flags(conn, patient, milestone="infused")
        self._touch(patient, env, position)
        source = self._case_of(conn, env)
        if source is not None and source != patient:  # a donor dose: the donor case too
            self._flags(conn, source, milestone="infused")

    def on_EventCorrected(self, conn: Connection, position: int, env: Mapping[str, Any]) -> None:
        d = env["data"]
        if d["corrected_type"] not in ("CaseEnrolled", "DonorRegistered"):
            return
        for change in d["changes"]:
            field = change["field"]
            if field in CORRECTABLE and (field != "kind" or d["corrected_type"] == "CaseEnrolled"):
                conn.execute(sql(f"UPDATE cases SET {field} = :v WHERE case_id = :c"),
                             {"v": change["new"], "c": env["stream"]})


def case_summary(conn: Connection, coi: str) -> dict[str, Any] | None:
    """The case with COI ``coi`` (a :data:`COLUMNS` dict), or None."""
    found = rows(conn.execute(sql(f"SELECT {COLUMNS} FROM cases WHERE coi = :coi"),
                              {"coi": coi}))
    return found[0] if found else None


def list_cases(conn: Connection, *, status: str | None = None, kind: str | None = None,
               treating_site: str | None = None, product: str | None = None,
               cursor: str | None = None, limit: int = 50) -> dict[str, Any]:
    """Cases in enrolment order: ``{"items": [case dict ...], "next_cursor": str | None}``."""
    limit = max(1, min(limit, MAX_PAGE))
    where, params = ["enrolled_position > :after"], {"after": decode_cursor(cursor), "n": limit + 1}
    for column, value in (("status", status), ("kind", kind), ("treating_site", treating_site),
                          ("product", product)):
        if value is not None:
            where.append(f"{column} = :{column}")
            params[column] = value
    found = rows(conn.execute(sql(
        f"SELECT {COLUMNS}, enrolled_position FROM cases WHERE {' AND '.join(where)} "
        "ORDER BY enrolled_position LIMIT :n"), params))
    more = len(found) > limit
    items = found[:limit]
    positions = [item.pop("enrolled_position") for item in items]
    return {"items": items, "next_cursor": encode_cursor(positions[-1]) if more else None}
