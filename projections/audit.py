"""The Part 11 audit trail (21 CFR 11.10(e), Annex 11 §9): one row per event of the log.

Each row says who (actor, on behalf of), what (a readable summary and the data kept), when
(server ``recorded_at`` and the device's ``occurred_at``), where (site), why (the reason or
rationale the event gives) and the e-signature manifestation (printed name, date/time,
meaning, signer). A correction (``EventCorrected``) row carries each field's old and new
value; the corrected row stays as it was recorded and is marked ``corrected_by`` once the
correction takes effect (at once, or when QA approves a correction of GMP-critical facts).

``audit_links`` indexes each row under every COI and unit it concerns (its stream's, and the
ones its data names: a container's packing, a derivation's inputs and outputs, the patient
of an infusion of a donor dose, the bag of a refused attempt), so filtering by COI or unit is
an index range walked in log order.

Each row carries its event's log ``position`` and ``event_hash`` (the sealed envelope's hash,
as stored and as the Merkle leaf commits to it), so a row can be checked against the log.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection

from ledger.datatypes import EventData
from ledger.domain.corrections import takes_effect
from ledger.domain.events_case import CorrectionApproved, EventCorrected, FieldChange
from ledger.envelope import envelope_hash
from ledger.store.records import SealedEvent

from .audit_text import detail, what, why
from .common import DirectoryEntry, ReadModel, dumps, loads, scrub, sql

COI_FIELDS = ("coi", "donor_coi", "patient_coi", "bag_coi")
UNIT_FIELDS = ("unit", "container", "source", "via_container")
UNIT_LISTS = ("inputs", "outputs", "parents")


def listed_under(env: Mapping[str, Any], own: DirectoryEntry | None) -> tuple[set[str], set[str]]:
    """The COIs and units the event's row is indexed under (``audit_links``)."""
    d = env["data"]
    cois: set[str] = set()
    units: set[str] = set()
    if own is not None:
        if own[0]:
            cois.add(own[0])
        if own[1] == "unit":
            units.add(env["stream"])
    for nested in (d, d.get("attempted") or {}, d.get("expected") or {}):
        if not isinstance(nested, Mapping):
            continue
        cois.update(v for k in COI_FIELDS if isinstance(v := nested.get(k), str))
        units.update(v for k in UNIT_FIELDS if isinstance(v := nested.get(k), str))
    for key in UNIT_LISTS:
        units.update(v for v in d.get(key) or [] if isinstance(v, str))
    return cois, units


class AuditTrailProjection(ReadModel):
    name = "audit_trail"
    tables = ("audit_trail", "audit_links")
    append_only = ("audit_trail", "audit_links")

    def project_sealed(self, conn: Connection, position: int, event: SealedEvent | Mapping[str, Any],
                       data: EventData | None) -> None:
        """One row for every event of the log (Part 11), whether or not this code knows its type,
        carrying the sealed event's hash (the one its Merkle leaf commits to)."""
        if isinstance(event, SealedEvent):
            self._insert(conn, position, event.envelope, data, event.hash)
        else:
            self.project(conn, position, event, data)

    def project(self, conn: Connection, position: int, env: Mapping[str, Any],
                data: EventData | None) -> None:
        self._insert(conn, position, env, data, envelope_hash(env))

    def row(self, conn: Connection, position: int, env: Mapping[str, Any], data: EventData | None,
            event_hash: str, own: DirectoryEntry | None) -> dict[str, Any]:
        """The ``audit_trail`` row of one event as this projector writes it (reads only; the
        ``corrected_by`` column is filled by later corrections); ``own``: the stream directory's
        entry for its stream. Also used to check a stored row against its sealed event
        (:mod:`projections.audit_evidence`)."""
        kind, raw = env["type"], env["data"]
        esign = env.get("esign") or {}
        unit_id = env["stream"] if own and own[1] == "unit" else raw.get("unit")
        changes, corrected = None, None
        match data:
            case EventCorrected(corrected_event_id=target, changes=fields):
                corrected = str(target)
                changes = self._changes(conn, corrected, fields)
        return {"position": position, "event_id": env["event_id"], "stream": env["stream"],
                "seq": env["seq"], "type": kind, "recorded_at": env["recorded_at"],
                "occurred_at": env.get("occurred_at"), "actor": env["actor"],
                "on_behalf": env.get("on_behalf"), "site": env.get("site"),
                "coi": own[0] if own else raw.get("coi"),
                "unit_id": unit_id if isinstance(unit_id, str) else None,
                "what": what(kind, raw if data is None else data), "why": why(kind, raw),
                "changes": dumps(changes) if changes is not None else None,
                "corrected_event_id": corrected,
                "signer": esign.get("signer"), "signer_name": esign.get("printed_name"),
                "sign_meaning": esign.get("meaning"), "signed_at": esign.get("signed_at"),
                "sign_key_id": esign.get("key_id"), "detail": dumps(detail(kind, raw)),
                "event_hash": event_hash}

    def _insert(self, conn: Connection, position: int, env: Mapping[str, Any], data: EventData | None,
                event_hash: str) -> None:
        own = self.directory.lookup(conn, env["stream"])
        row = self.row(conn, position, env, data, event_hash, own)
        conn.execute(sql(
            "INSERT INTO audit_trail (position, event_id, stream, seq, type, recorded_at, "
            "occurred_at, actor, on_behalf, site, coi, unit_id, what, why, changes, "
            "corrected_event_id, corrected_by, signer, signer_name, sign_meaning, signed_at, "
            "sign_key_id, detail, event_hash) VALUES (:position, :event_id, :stream, :seq, :type, "
            ":recorded_at, :occurred_at, :actor, :on_behalf, :site, :coi, :unit_id, :what, :why, "
            ":changes, :corrected_event_id, NULL, :signer, :signer_name, :sign_meaning, :signed_at, "
            ":sign_key_id, :detail, :event_hash)"), row)
        cois, units = listed_under(env, own)
        links = [{"k": "coi", "v": c, "p": position} for c in sorted(cois)]
        links += [{"k": "unit", "v": u, "p": position} for u in sorted(units)]
        if links:
            conn.execute(sql("INSERT INTO audit_links (key_kind, link_key, position) "
                              "VALUES (:k, :v, :p)"), links)
        if row["corrected_event_id"] is not None and takes_effect(data):
            self._mark_corrected(conn, row["corrected_event_id"], env["event_id"])
        elif isinstance(data, CorrectionApproved):  # a pending correction marks its record once approved
            self._mark_corrected(conn, str(data.corrected_event_id), str(data.correction_event_id))

    def _changes(self, conn: Connection, target: str, fields: list[FieldChange]) -> list[dict[str, Any]]:
        """Each change with the value the corrected event was first recorded with."""
        row = conn.execute(sql("SELECT detail FROM audit_trail WHERE event_id = :e"),
                           {"e": target}).first()
        original = loads(row[0]) if row else {}
        return [{"field": c.field, "old": scrub(c.old), "new": scrub(c.new),
                 "original": scrub(original.get(c.field))} for c in fields]
    def _mark_corrected(self, conn: Connection, target: str, by: str) -> None:
        row = conn.execute(sql("SELECT corrected_by FROM audit_trail WHERE event_id = :e"),
                           {"e": target}).first()
        if row is None:
            return
        marks = [*(loads(row[0]) or []), by]
        conn.execute(sql("UPDATE audit_trail SET corrected_by = :c WHERE event_id = :e"),
                     {"c": dumps(marks), "e": target})
