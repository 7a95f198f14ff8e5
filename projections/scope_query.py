"""Queries of the read-scope read model (see ``projections.scope``): what one principal may read.

A :class:`ReadScope` is built once per request from the principal (``api.authority.read_scope``)
and handed to every query that returns case or unit data; each turns it into a SQL condition
here, so the rule lives in one place. Outside its scope a case or unit is treated as unknown.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from .common import sql


@dataclass(frozen=True)
class ReadScope:
    """``sites`` None: every case and unit. Otherwise the cases that involve one of ``sites``
    (none if it is empty) and their units; and, with ``holder``, also the units that party holds
    or held custody of (``custody_intervals``), whatever their case."""

    sites: frozenset[str] | None = None
    holder: str | None = None

    @property
    def everything(self) -> bool:
        return self.sites is None

    def _sites(self) -> tuple[str, dict[str, Any]]:
        names = sorted(self.sites or ())
        return ", ".join(f":scope_s{i}" for i in range(len(names))), {f"scope_s{i}": s for i, s in enumerate(names)}

    def cases(self, coi_column: str) -> tuple[str, dict[str, Any]]:
        """A SQL condition: the case whose COI is in ``coi_column`` is in scope."""
        if self.everything:
            return "1 = 1", {}
        if not self.sites:
            return "1 = 0", {}
        marks, params = self._sites()
        return f"{coi_column} IN (SELECT ss.coi FROM scope_sites ss WHERE ss.site IN ({marks}))", params

    def held(self, unit_column: str) -> tuple[str, dict[str, Any]]:
        """A SQL condition: the unit in ``unit_column`` is one the holder holds or held."""
        if self.holder is None:
            return "1 = 0", {}
        return (f"{unit_column} IN (SELECT ci.unit_id FROM custody_intervals ci WHERE ci.holder = :scope_holder)",
                {"scope_holder": self.holder})

    def units(self, unit_column: str) -> tuple[str, dict[str, Any]]:
        """A SQL condition: the unit (or lot) in ``unit_column`` is in scope (its case, or held)."""
        if self.everything:
            return "1 = 1", {}
        case, params = self.cases("scope_u.coi")
        held, more = self.held(unit_column)
        return (f"({unit_column} IN (SELECT scope_u.unit_id FROM scope_units scope_u WHERE {case}) OR {held})",
                {**params, **more})

    def rows(self, coi_column: str, unit_column: str) -> tuple[str, dict[str, Any]]:
        """A SQL condition for a row about a case (``coi_column``) and perhaps one of its units
        (``unit_column``): in scope if its case is, or (for a holder) its unit is."""
        if self.everything:
            return "1 = 1", {}
        case, params = self.cases(coi_column)
        held, more = self.held(unit_column)
        return f"({case} OR {held})", {**params, **more}


EVERYTHING = ReadScope()


def _visible(conn: Connection, scope: ReadScope, table: str, column: str, condition: tuple[str, dict[str, Any]],
             keys: Iterable[Any]) -> set[str]:
    """Those of ``keys`` found in ``table.column`` under the scope's ``condition``."""
    wanted = sorted({str(k) for k in keys if k})
    if scope.everything or not wanted:
        return set(wanted)
    where, params = condition
    marks = ", ".join(f":k{i}" for i in range(len(wanted)))
    return {r[0] for r in conn.execute(sql(
        f"SELECT DISTINCT {column} FROM {table} WHERE {column} IN ({marks}) AND {where}"),  # noqa: S608
        {**params, **{f"k{i}": k for i, k in enumerate(wanted)}})}


def visible_cases(conn: Connection, scope: ReadScope, cois: Iterable[str]) -> set[str]:
    """Those of ``cois`` in scope."""
    return _visible(conn, scope, "scope_sites", "coi", scope.cases("coi"), cois)


def visible_units(conn: Connection, scope: ReadScope, units: Iterable[Any]) -> set[str]:
    """Those of ``units`` (unit or lot ids) in scope."""
    return _visible(conn, scope, "scope_units u", "u.unit_id", scope.units("u.unit_id"), units)


def case_visible(conn: Connection, scope: ReadScope, coi: str) -> bool:
    return bool(visible_cases(conn, scope, [coi]))


def unit_visible(conn: Connection, scope: ReadScope, unit_id: str) -> bool:
    return bool(visible_units(conn, scope, [str(unit_id)]))
