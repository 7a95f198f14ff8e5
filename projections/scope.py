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

from .common import ReadModel


class ReadScopeProjection(ReadModel):
    name = "read_scope"
    tables = ("scope_sites", "scope_units")

    def __init__(self) -> None:
        super().__init__()
        self._units = self.insert_once("scope_units", ("unit_id", "coi"), ("unit_id",))
        self._sites = self.insert_once("scope_sites", ("coi", "site"), ("coi", "site"))

    def project(self, conn: Connection, position: int, env: Mapping[str, Any],
                data: EventData | None) -> None:
        found = self.directory.lookup(conn, env["stream"])
        if found is None or found[0] is None:  # a registry stream (users, sites, devices)
            return
        coi, role, _ = found
        if role == "unit":
            self._units.insert(conn, {"unit_id": env["stream"], "coi": coi})
        sites = event_sites(env["type"], data if data is not None else env["data"], env.get("site"))
        self._sites.insert(conn, *({"coi": coi, "site": site} for site in sorted(sites)))
