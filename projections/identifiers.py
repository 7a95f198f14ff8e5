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

from ledger.datatypes import EventData
from ledger.domain.corrections import takes_effect
from ledger.domain.events_case import CorrectionApproved, EventCorrected
from ledger.domain.events_unit import UnitLabelled

from .common import ReadModel, sql

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

    def project(self, conn: Connection, position: int, env: Mapping[str, Any],
                data: EventData | None) -> None:
        match data:
            case UnitLabelled(coi=coi, label=label, identifiers=identifiers):
                others = {k: v for k, v in identifiers.items() if k != LABEL}
                self._add(conn, env, env["stream"], coi, {LABEL: label, **others})
            case EventCorrected(corrected_type=corrected, changes=changes) | CorrectionApproved(
                    corrected_type=corrected, changes=changes) if (corrected == UnitLabelled.__name__
                                                                   and takes_effect(data)):
                for change in changes:
                    if change.field == "identifiers":
                        self._replace(conn, env, change.new or {})

    def _replace(self, conn: Connection, env: Mapping[str, Any], identifiers: Mapping[str, Any]) -> None:
        conn.execute(sql("DELETE FROM unit_identifiers WHERE unit_id = :u AND scheme <> :label"),
                     {"u": env["stream"], "label": LABEL})
        new = {k: v for k, v in identifiers.items() if k != LABEL}
        self._add(conn, env, env["stream"], self.directory.coi(conn, env["stream"]), new)
