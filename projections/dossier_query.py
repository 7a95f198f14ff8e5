"""Collect one case's dossier from the database (``ledger.verification.dossier`` builds and verifies it).

Which streams (see ``ledger.verification.dossier`` for the bundle format):

* ``case``/``unit``/``lot``, whole: every case, unit and manufacturing lot node of the genealogy of the COI (its units,
  what they derive from and into, and for an allogeneic patient the donor ancestors of the
  allocated dose), plus every container an included unit was packed into (its readings are the
  unit's). Streams are read straight from the event table: the records as stored, byte-exact.
* ``user``/``device``, key events only: the user stream of every e-signer and the device stream
  of every device signature in the case's events.

Proofs go to the latest signed checkpoint. :func:`issue_dossier` first lets the Merkle follower
catch up and, if the checkpoint does not cover every included event, has one published; an
event still not covered gets ``leaf_index``/``proof`` null (``verify_dossier`` reports it).
The summary holds the read models' answers as of ``generated_at``; they never hold pseudonyms.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, Engine

from ledger.domain.events_registry import UserCreated
from ledger.domain.events_unit import PackedInto
from ledger.keys.sealing import KeyRing
from ledger.merkle import NoteSigner
from ledger.store.database import POSTGRES_EVENTS_TABLE, SQLITE_EVENTS_TABLE
from ledger.streams import device_stream, user_stream
from ledger.timefmt import format_utc, utc_now
from ledger.verification.dossier import REGISTRY, build_dossier

from .audit_query import audit_trail_page
from .cases_query import case_summary
from .checkpoints import latest_checkpoint
from .common import sql
from .conditions_query import conditions_for_unit
from .custody_query import custody_timeline
from .genealogy_query import genealogy_for_coi
from .merkle_log import ProofUnavailable, inclusion_proof

CASE_FIELDS = ("coi", "kind", "product", "treating_site", "collection_site", "protocol", "status",
               "milestone", "hold_reason", "enrolled_at", "event_id")
CHART_POINTS = 400


def read_records(conn: Connection, stream: str) -> list[dict[str, Any]]:
    """The stored records ``{envelope, hash, seal, key_id}`` of one stream, in seq order."""
    sqlite = conn.dialect.name == "sqlite"
    table = SQLITE_EVENTS_TABLE if sqlite else POSTGRES_EVENTS_TABLE
    key = UUID(stream).hex if sqlite else UUID(stream)
    rows = conn.execute(sql(f"SELECT state FROM {table} WHERE originator_id = :s "  # noqa: S608
                            "ORDER BY originator_version"), {"s": key})
    return [json.loads(bytes(r[0])) for r in rows]


def case_streams(conn: Connection, coi: str) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
    """(genealogy, ``[{stream, role, records}]``) of the case, or None for an unknown COI."""
    graph = genealogy_for_coi(conn, coi)
    if graph is None or not any(n["type"] == "case" and n["coi"] == coi for n in graph["nodes"]):
        return None
    order = [(n["id"], n["type"]) for n in graph["nodes"] if n["type"] in ("case", "unit", "lot")]
    own = next(n["id"] for n in graph["nodes"] if n["type"] == "case" and n["coi"] == coi)
    order.sort(key=lambda n: 0 if n[0] == own else 1 if n[1] == "case" else 2)  # stable: log order
    parts, seen = [], set()
    while order:
        stream, role = order.pop(0)
        if stream in seen:
            continue
        seen.add(stream)
        records = read_records(conn, stream)
        parts.append({"stream": stream, "role": role, "records": records})
        order += [(r["envelope"]["data"]["container"], "unit") for r in records
                  if r["envelope"]["type"] == PackedInto.__name__ and r["envelope"]["data"].get("container")]
    holders: dict[str, set[str]] = {"user": set(), "device": set()}
    for part in parts:
        for record in part["records"]:
            env = record["envelope"]
            if env["esign"]:
                holders["user"].add(env["esign"]["signer"])
            if env["device_sig"]:
                holders["device"].add(env["device_sig"]["device"])
    for role, names in holders.items():
        issued, revoked, _, _ = REGISTRY[role]
        derive = user_stream if role == "user" else device_stream
        for name in sorted(names):
            stream = str(derive(name))
            records = [r for r in read_records(conn, stream) if r["envelope"]["type"] in (issued, revoked)]
            if records:
                parts.append({"stream": stream, "role": role, "records": records})
    return graph, parts


def proofs_for(conn: Connection, event_ids: list[str], tree_size: int) -> dict[str, dict[str, Any]]:
    """Event id -> ``{leaf_index, proof}`` for every event the tree of ``tree_size`` covers."""
    out = {}
    for event_id in event_ids:
        try:
            found = inclusion_proof(conn, event_id, tree_size)
        except ProofUnavailable:
            continue
        out[event_id] = {"leaf_index": found["leaf_index"], "proof": found["proof"]}
    return out


def summary_for(conn: Connection, coi: str, graph: dict[str, Any], parts: list[dict[str, Any]],
                now: datetime) -> dict[str, Any]:
    """Case, genealogy, per-unit custody and conditions, and the audit trail of the included
    events, as the read models give them (no pseudonyms: the read models hold none)."""
    case = case_summary(conn, coi) or {}
    included = {r["envelope"]["event_id"] for p in parts for r in p["records"]}
    units, trail = [], {}
    for part in parts:
        if part["role"] != "unit":
            continue
        custody = custody_timeline(conn, part["stream"], now=now)
        conditions = conditions_for_unit(conn, part["stream"], limit=CHART_POINTS, downsample=True)
        units.append({"unit_id": part["stream"], "custody": custody, "conditions": conditions})
        trail.update(_trail(conn, {"unit_id": part["stream"]}, included))
    for node in graph["nodes"]:
        if node["type"] == "case":
            trail.update(_trail(conn, {"coi": node["coi"]}, included))
    rows = [trail[p] for p in sorted(trail)]
    return {"case": {k: case.get(k) for k in CASE_FIELDS}, "genealogy": graph, "units": units,
            "audit_trail": rows, "names": printed_names(conn, rows, units)}


def printed_names(conn: Connection, trail: list[dict[str, Any]], units: list[dict[str, Any]]) -> dict[str, str]:
    """User id -> printed name (from its ``UserCreated``) for every actor and holder named;
    devices and unknown ids are left out."""
    parties = {r[k] for r in trail for k in ("actor", "on_behalf") if r.get(k)}
    parties |= {i["holder"] for u in units for i in (u["custody"] or {}).get("intervals", [])}
    parties |= {(u["custody"] or {}).get("custodian") for u in units} - {None}
    names = {}
    for party in sorted(parties):
        created = next((r["envelope"]["data"] for r in read_records(conn, str(user_stream(party)))
                        if r["envelope"]["type"] == UserCreated.__name__), None)
        if created and created.get("printed_name"):
            names[party] = created["printed_name"]
    return names


def _trail(conn: Connection, filters: dict[str, str], included: set[str]) -> dict[int, dict[str, Any]]:
    rows, cursor = {}, None
    while True:
        page = audit_trail_page(conn, filters, cursor, 1000)
        rows.update({r["position"]: r for r in page["items"] if r["event_id"] in included})
        cursor = page["next_cursor"]
        if cursor is None:
            return rows


def issue_dossier(engine: Engine, coi: str, *, keyring: KeyRing, signer: NoteSigner,
                  catch_up: Callable[[], object], publish: Callable[[], object],
                  now: datetime | None = None) -> dict[str, Any] | None:
    """Build the attested bundle of ``coi`` (None for an unknown case); see the module docstring.

    ``catch_up``: bring the read models and the Merkle tree up to the log's end;
    ``publish``: sign a checkpoint of the stored tree now (``CheckpointPublisher.publish_now``)."""
    catch_up()
    for attempt in range(2):
        with engine.connect() as conn:
            found = case_streams(conn, coi)
            if found is None:
                return None
            graph, parts = found
            ids = [r["envelope"]["event_id"] for p in parts for r in p["records"]]
            checkpoint = latest_checkpoint(conn)
            proofs = proofs_for(conn, ids, checkpoint["tree_size"]) if checkpoint else {}
            if checkpoint is None or len(proofs) < len(ids) and attempt == 0:
                conn.rollback()
                publish()
                continue
            moment = now or utc_now()
            summary = summary_for(conn, coi, graph, parts, moment)
        return build_dossier(coi=coi, generated_at=format_utc(moment), keyring=keyring, checkpoint=checkpoint,
                             streams=parts, proofs=proofs, summary=summary, signer=signer)
    raise ProofUnavailable("no checkpoint could be signed for this case's events")
