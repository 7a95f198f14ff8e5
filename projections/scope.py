"""The read-scope read model: which sites each case involves, for site-scoped reads.

One definition of "involves" (``ledger.domain.scope.event_sites``): an event involves the site
where it happened and the sites its data names. A case involves the sites of its own events and
of its units' events (a unit's or a lot's events count for the case the unit belongs to).

* ``scope_sites``: one row per (COI, site) the case involves; a case gains a site the first time
  one of its events involves it (a hospital when it enrols, a factory once a unit is shipped
  there) and never loses it.
* ``scope_units``: each unit's (and lot's) COI, so a unit is judged by its case.

Queries: ``projections.scope_query``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection

from ledger.datatypes import EventData
from ledger.domain.scope import event_sites

from .common import ReadModel, sql


class ReadScopeProjection(ReadModel):
    name = "read_scope"
    tables = ("scope_sites", "scope_units")

    def __init__(self) -> None:
        super().__init__()
        self._sites: set[tuple[str, str]] = set()  # rows written in this batch (no need to repeat)
        self._units: set[str] = set()

    def begin_batch(self) -> None:
        self._sites, self._units = set(), set()

    def project(self, conn: Connection, position: int, env: Mapping[str, Any],
                data: EventData | None) -> None:
        found = self.directory.lookup(conn, env["stream"])
        if found is None or found[0] is None:  # a registry stream (users, sites, devices)
            return
        coi, role, _ = found
        if role == "unit" and env["stream"] not in self._units:
            conn.execute(sql("INSERT INTO scope_units (unit_id, coi) VALUES (:u, :c) "
                             "ON CONFLICT (unit_id) DO NOTHING"), {"u": env["stream"], "c": coi})
            self._units.add(env["stream"])
        sites = event_sites(env["type"], data if data is not None else env["data"], env.get("site"))
        new = sorted(site for site in sites if (coi, site) not in self._sites)
        if new:
            conn.execute(sql("INSERT INTO scope_sites (coi, site) VALUES (:c, :s) "
                             "ON CONFLICT (coi, site) DO NOTHING"), [{"c": coi, "s": site} for site in new])
            self._sites.update((coi, site) for site in new)
