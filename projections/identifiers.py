"""The ``unit_identifiers`` index: a scanned label value -> the unit and its COI.

Filled from ``UnitLabelled``: the ledger's own label id (scheme ``label``) and every other
identifier printed on the label (``isbt_din``, ``gs1``, ``sscc``, ``epc`` ...: the keys of
``identifiers``). A correction of ``identifiers`` replaces that unit's entries (the label
id itself is an identity field and cannot be corrected).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection

from .common import ReadModel, rows, sql

LABEL = "label"


class UnitIdentifiersProjection(ReadModel):
    name = "unit_identifiers"
    tables = ("unit_identifiers",)

    def _add(self, conn: Connection, env: Mapping[str, Any], unit: str, coi: str | None,
             identifiers: Mapping[str, str]) -> None:
        values = [{"s": scheme, "v": value, "u": unit, "c": coi, "e": env["event_id"]}
                  for scheme, value in sorted(identifiers.items())]
        if values:
            conn.execute(sql("INSERT INTO unit_identifiers (scheme, value, unit_id, coi, "
                              "event_id) VALUES (:s, :v, :u, :c, :e)"), values)

    def on_UnitLabelled(self, conn: Connection, position: int, env: Mapping[str, Any]) -> None:
        d = env["data"]
        others = {k: v for k, v in (d.get("identifiers") or {}).items() if k != LABEL}
        self._add(conn, env, env["stream"], d["coi"], {LABEL: d["label"], **others})

    def on_EventCorrected(self, conn: Connection, position: int, env: Mapping[str, Any]) -> None:
        d = env["data"]
        if d["corrected_type"] != "UnitLabelled":
            return
        for change in d["changes"]:
            if change["field"] == "identifiers":
                conn.execute(sql("DELETE FROM unit_identifiers WHERE unit_id = :u "
                                  "AND scheme <> :label"), {"u": env["stream"], "label": LABEL})
                new = {k: v for k, v in (change["new"] or {}).items() if k != LABEL}
                self._add(conn, env, env["stream"], self.directory.coi(conn, env["stream"]), new)


def lookup_identifier(conn: Connection, value: str, scheme: str | None = None
                      ) -> list[dict[str, Any]]:
    """Units whose label carries ``value`` (under ``scheme`` if given)::

        [{scheme, value, unit_id, coi, event_id}]   # usually one; several means ambiguous
    """
    where, params = "value = :v", {"v": value}
    if scheme is not None:
        where += " AND scheme = :s"
        params["s"] = scheme
    return rows(conn.execute(sql(
        "SELECT scheme, value, unit_id, coi, event_id FROM unit_identifiers "
        f"WHERE {where} ORDER BY scheme, unit_id"), params))


def identifiers_of(conn: Connection, unit_id: str) -> dict[str, str]:
    """Every identifier of one unit, by scheme (``label`` included)."""
    return {r[0]: r[1] for r in conn.execute(sql(
        "SELECT scheme, value FROM unit_identifiers WHERE unit_id = :u ORDER BY scheme"),
        {"u": str(unit_id)})}
