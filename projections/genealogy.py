"""The genealogy read model: patient case -> units -> derived units -> infusion, as a graph.

Nodes (``genealogy_nodes``): ``case`` (kind autologous / allogeneic / donor, label = COI),
``unit`` (kind, label, COI, status), ``lot`` (kind = process, label = lot number, status
``started`` / ``in_process`` / ``filled``) and ``infusion`` (one per ``ProductInfused``, id = its
event id). Edges (``genealogy_edges``, one row per creating event), all pointing downstream:

* ``labelled``: case -> unit (``UnitLabelled``)
* ``derived``: parent -> child (``UnitLabelled.parents`` and ``UnitsDerived`` on each input);
  staged manufacturing: input -> lot (``ManufacturingStarted``), lot -> output (the outputs'
  ``UnitLabelled.parents``)
* ``allocated_to``: donor dose -> patient case (``ProductAllocated``, on both streams)
* ``infused``: unit -> infusion, and ``received``: patient case -> infusion (``ProductInfused``)
* ``packed_in``: unit -> container (``PackedInto`` and ``UnpackedFrom``: which bag travelled in
  which shipper); never walked upwards, so a shared shipper does not pull in other cases

A unit node's ``status`` follows its events: the first set of ``disposed``, ``infused``,
``consumed``, ``quarantined``, ``qc_failed`` (latest result of a test failed), ``in_transit``,
``packed``, ``delivered``, ``allocated``, ``released``, ``collected``, else ``labelled``. A case
node's status is the ``cases`` read model's (see ``projections.cases``).

The graph is acyclic, so walking up (ancestors) and down (descendants) from the seeds with a
recursive CTE terminates; both walks run in one query on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection

from ledger.datatypes import EventData
from ledger.domain.corrections import takes_effect
from ledger.domain.events_case import (
    CaseEnrolled,
    CorrectionApproved,
    DonorRegistered,
    EventCorrected,
    ProductAllocated,
)
from ledger.domain.events_quality import (
    ManufacturingStarted,
    ManufacturingStepRecorded,
    ProductFilled,
    ProductInfused,
    ProductReleased,
    QCResultRecorded,
    UnitDisposed,
    UnitQuarantined,
    UnitReleasedFromQuarantine,
    UnitsDerived,
)
from ledger.domain.events_unit import (
    MaterialCollected,
    PackedInto,
    ShipmentDelivered,
    ShipmentDispatched,
    UnitLabelled,
    UnpackedFrom,
)

from .common import ReadModel, dumps, is_in, loads, sql, when

KIND_CORRECTABLE = (UnitLabelled.__name__, CaseEnrolled.__name__)  # node kinds a correction may change
PRECEDENCE = ("disposed", "infused", "consumed", "quarantined", "qc_failed", "in_transit", "packed",
              "delivered", "allocated", "released", "collected", "filled", "in_process", "started")


def _status(flags: set[str]) -> str:
    """The first of :data:`PRECEDENCE` set (``qc_failed:<test>`` counts as ``qc_failed``)."""
    kinds = {f.split(":", 1)[0] for f in flags}
    return next((f for f in PRECEDENCE if f in kinds), "labelled")


class GenealogyProjection(ReadModel):
    name = "genealogy"
    tables = ("genealogy_nodes", "genealogy_edges")
    append_only = tables

    def __init__(self) -> None:
        super().__init__()
        self._flags: dict[str, set[str]] = {}  # node -> flags, as they stand in this batch
        self._dirty: set[str] = set()  # nodes whose flags changed in this batch
        self._all_nodes = False  # True: _flags holds every node (sole writer), kept across batches

    def sole_writer(self) -> None:
        super().sole_writer()
        self._all_nodes = True

    def begin_batch(self) -> None:
        super().begin_batch()
        if not self._all_nodes:
            self._flags = {}
        self._dirty = set()

    def finish_batch(self, conn: Connection) -> None:
        """Each node whose flags the batch changed is written once (not once per event)."""
        if self._dirty:
            conn.execute(sql("UPDATE genealogy_nodes SET flags = :f, status = :s WHERE node_id = :n"),
                         [{"f": dumps(sorted(self._flags[n])), "s": _status(self._flags[n]), "n": n}
                          for n in sorted(self._dirty)])
            self._dirty = set()

    def _node(self, conn: Connection, position: int, env: Mapping[str, Any], node_id: str,
              node_type: str, coi: str | None, kind: str | None, label: str | None,
              status: str, case_id: str | None) -> None:
        conn.execute(sql(
            "INSERT INTO genealogy_nodes (node_id, node_type, coi, kind, label, status, flags, "
            "case_id, created_at, position, event_id) VALUES (:id, :t, :coi, :kind, :label, "
            ":status, '[]', :case_id, :at, :p, :e)"),
            {"id": node_id, "t": node_type, "coi": coi, "kind": kind, "label": label,
             "status": status, "case_id": case_id, "at": when(env), "p": position,
             "e": env["event_id"]})
        self._flags[node_id] = set()  # as just written: no read-back for its first flag

    def _edge(self, conn: Connection, position: int, env: Mapping[str, Any], src: str, dst: str,
              relation: str) -> None:
        conn.execute(sql(
            "INSERT INTO genealogy_edges (src, dst, relation, event_id, position, at) "
            "VALUES (:s, :d, :r, :e, :p, :at)"),
            {"s": src, "d": dst, "r": relation, "e": env["event_id"], "p": position,
             "at": when(env)})

    def _flag(self, conn: Connection, node_id: str, flag: str, on: bool = True) -> None:
        self._update(conn, node_id, add=(flag,) if on else (), drop=() if on else (flag,))

    def _update(self, conn: Connection, node_id: str, add: tuple[str, ...] = (),
                drop: tuple[str, ...] = ()) -> None:
        flags = self._flags.get(node_id)
        if flags is None:
            if self._all_nodes:
                return
            row = conn.execute(sql("SELECT flags FROM genealogy_nodes WHERE node_id = :n"),
                               {"n": node_id}).first()
            if row is None:
                return
            flags = set(loads(row[0]))
        self._flags[node_id] = (flags - set(drop)) | set(add)
        self._dirty.add(node_id)

    def project(self, conn: Connection, position: int, env: Mapping[str, Any],
                data: EventData | None) -> None:
        stream = env["stream"]
        match data:
            case CaseEnrolled(coi=coi, kind=kind):
                self._node(conn, position, env, stream, "case", coi, kind, coi, "enrolled", stream)
            case DonorRegistered(coi=coi):
                self._node(conn, position, env, stream, "case", coi, "donor", coi, "enrolled", stream)
            case UnitLabelled(coi=coi, kind=kind, label=label, case=case, parents=parents):
                self._node(conn, position, env, stream, "unit", coi, kind, label, "labelled", str(case))
                self._edge(conn, position, env, str(case), stream, "labelled")
                for parent in parents:
                    self._edge(conn, position, env, str(parent), stream, "derived")
            case UnitsDerived(outputs=outputs, consumed=consumed):
                for output in outputs:
                    self._edge(conn, position, env, stream, str(output), "derived")
                if consumed:
                    self._flag(conn, stream, "consumed")
            case ManufacturingStarted(inputs=inputs) if is_in(stream, inputs):
                self._flag(conn, stream, "consumed")
            case ManufacturingStarted(coi=coi, process=process, lot=lot, case=case, inputs=inputs):
                self._node(conn, position, env, stream, "lot", coi, process, lot, "started", str(case))
                self._flag(conn, stream, "started")
                for source in inputs:
                    self._edge(conn, position, env, str(source), stream, "derived")
            case ManufacturingStepRecorded():
                self._flag(conn, stream, "in_process")
            case ProductFilled():
                self._flag(conn, stream, "filled")
            case ProductAllocated(unit=unit, patient_case=patient_case):
                self._edge(conn, position, env, str(unit), str(patient_case), "allocated_to")
                if stream == str(unit):
                    self._update(conn, stream, add=("allocated",), drop=("delivered",))
            case PackedInto(unit=unit, container=container):
                if stream == str(unit):  # recorded on both streams: one edge
                    self._edge(conn, position, env, stream, str(container), "packed_in")
                self._update(conn, stream, add=("packed",), drop=("delivered",))
            case UnpackedFrom(unit=unit, container=container):
                if stream == str(unit):
                    self._edge(conn, position, env, stream, str(container), "packed_in")
                self._update(conn, stream, drop=("packed", "in_transit"))
            case ShipmentDispatched():
                self._update(conn, stream, add=("in_transit",), drop=("delivered",))
            case ShipmentDelivered():
                self._update(conn, stream, add=("delivered",), drop=("in_transit",))
            case QCResultRecorded(test=test, result=result):
                flag, failed = f"qc_failed:{test}", result != "pass"  # the latest result of each test counts
                self._update(conn, stream, add=(flag,) if failed else (), drop=() if failed else (flag,))
            case ProductInfused(coi=coi, label=label, case=case):
                infusion = env["event_id"]
                self._node(conn, position, env, infusion, "infusion", coi, None, label, "infused", str(case))
                self._edge(conn, position, env, stream, infusion, "infused")
                self._edge(conn, position, env, str(case), infusion, "received")
                self._flag(conn, stream, "infused")
            case MaterialCollected():
                self._flag(conn, stream, "collected")
            case ProductReleased():
                self._update(conn, stream, add=("released",), drop=("delivered",))
            case UnitQuarantined():
                self._flag(conn, stream, "quarantined")
            case UnitReleasedFromQuarantine():
                self._flag(conn, stream, "quarantined", on=False)
            case UnitDisposed():
                self._flag(conn, stream, "disposed")
            case EventCorrected(corrected_type=corrected, changes=changes) | CorrectionApproved(
                    corrected_type=corrected, changes=changes) if corrected in KIND_CORRECTABLE and takes_effect(data):
                for change in changes:
                    if change.field == "kind":
                        conn.execute(sql("UPDATE genealogy_nodes SET kind = :k WHERE node_id = :n"),
                                     {"k": change.new, "n": stream})
