"""Find cases by what people type or scan: one definition for the portal's search, ``GET /v1/cases?q=``
and ``GET /v1/review-queue?q=``.

A query matches, in scope only (anything else is not found):

* a COI (``COI-XXXX-XXXX-C``, any case);
* any identifier printed on a unit's label (``unit_identifiers``): the ledger's unit label
  (``UNT-...``), an ISBT 128 DIN, GS1 / SSCC / GTIN / EPC values, the lot printed on a product;
* a DIN typed or scanned in any of its forms: the 13 characters alone, with its keyboard check
  character, or as the ``=`` data structure with its two flag characters (``=A99992612345600``):
  the text is parsed by the scanner's own parser (``scanners.parse``) and looked up as the label's
  13-character DIN, the form labels store;
* a lot number (``ManufacturingStarted``, a ``UnitsDerived`` batch) or a carrier's tracking
  number (``ShipmentDispatched``), from ``search_keys`` (``projections.review_queue``).

Blanks inside the query are ignored (a DIN is often printed in groups), letters are tried as typed
and in upper case.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Connection

from scanners.parse import parse_scan

from .common import rows, sql
from .scope_query import ReadScope, visible_cases, visible_units

MAX_QUERY = 200
NOT_LOOKED_UP = frozenset({"coi", "expiry", "isbt_expiry", "isbt_structure", "product_code"})
MAX_MATCHES = 500


def candidates(query: str) -> list[str]:
    """The values a query may stand for: as typed, without blanks, in upper case, and each
    identifier the scanner's parser reads from it (a DIN without its ``=`` and flags)."""
    text = query.strip()[:MAX_QUERY]
    if not text:
        return []
    compact = re.sub(r"\s+", "", text)
    values = [text, compact, compact.upper()]
    if typed_din := re.fullmatch(r"=([A-Za-z0-9]{13})", compact):  # `=` + DIN without its flags, typed:
        values.append(typed_din[1].upper())  # a search key, though a scan of it is refused as truncated
    for raw in dict.fromkeys((compact, compact.upper())):
        parsed = parse_scan(raw)
        values += [i.value for i in parsed.identifiers if i.kind not in NOT_LOOKED_UP and isinstance(i.value, str)]
    return list(dict.fromkeys(v for v in values if v))


def search(conn: Connection, query: str, scope: ReadScope) -> list[dict[str, Any]]:
    """What ``query`` names, in ``scope``: ``[{coi, unit_id, scheme, value}]`` (``unit_id`` None and
    scheme ``coi`` for a case itself), cases first, each (scheme, unit) once."""
    values = candidates(query)
    if not values:
        return []
    marks = ", ".join(f":v{i}" for i in range(len(values)))
    params = {f"v{i}": v for i, v in enumerate(values)} | {"n": MAX_MATCHES}
    cases = rows(conn.execute(sql(
        f"SELECT coi FROM cases WHERE coi IN ({marks}) ORDER BY coi LIMIT :n"), params))  # noqa: S608
    units = rows(conn.execute(sql(
        f"SELECT scheme, value, unit_id, coi FROM unit_identifiers WHERE value IN ({marks}) "  # noqa: S608
        "UNION SELECT scheme, value, unit_id, coi FROM search_keys "
        f"WHERE value IN ({marks}) ORDER BY coi, scheme, unit_id LIMIT :n"), params))
    shown_cases = visible_cases(conn, scope, [c["coi"] for c in cases])
    shown_units = visible_units(conn, scope, [u["unit_id"] for u in units])
    found = [{"coi": c["coi"], "unit_id": None, "scheme": "coi", "value": c["coi"]}
             for c in cases if c["coi"] in shown_cases]
    found += [u for u in units if u["unit_id"] in shown_units]
    return found


def matching_cois(conn: Connection, query: str, scope: ReadScope) -> list[str]:
    """The COIs of the cases ``query`` names, in scope (each once, in order)."""
    return list(dict.fromkeys(m["coi"] for m in search(conn, query, scope) if m["coi"]))


SEARCH_HELP = ("only the cases this names: a COI, a unit label, any identifier on a label (ISBT 128 DIN with or "
               "without its = and flag characters, GS1, SSCC, EPC), a lot number or a carrier's tracking number")
