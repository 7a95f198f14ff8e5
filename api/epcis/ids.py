"""Identifiers between EPCIS and the ledger.

The ledger's own URIs (a private, unregistered URN namespace):

* ``urn:coi-ledger:unit:UNT-XXXX-XXXX-C``: a unit, by its label id (its EPC when its label
  carries no ``epc`` identifier);
* ``urn:coi-ledger:coi:COI-XXXX-XXXX-C``: a case (only in exported events about the case);
* ``urn:coi-ledger:lot:<COI>:<lot number>``: a manufacturing lot (``transformationID``);
* ``urn:coi-ledger:party:<id>`` and ``urn:coi-ledger:site:<id>``: custody parties (user ids)
  and sites in ``sourceList`` / ``destinationList`` / ``bizLocation``;
  ``urn:coi-ledger:device:<id>`` (loggers) and ``urn:coi-ledger:tracking:<number>``
  (``bol`` business transactions). Identifiers that already are URIs are used as they are.

Ledger data in EPCIS (``ilmd`` of a commissioning event, extension fields) uses the JSON-LD
prefix ``coi`` = ``https://coi-ledger.dev/epcis/``.

Event ids: an event's ``eventID`` if it has one, else ``ni:///sha-256;<hex>?ver=CBV2.0`` over
the JCS form of the event without ``eventID``, ``recordTime`` and ``errorDeclaration`` (so a
re-sent event carrying an ``errorDeclaration`` names the same event). This is the ledger's
own content hash, not GS1's canonical pre-hash-string algorithm.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import rfc8785

from scanners.parse import parse_scan

UNIT = "urn:coi-ledger:unit:"
CASE = "urn:coi-ledger:coi:"
PARTY = "urn:coi-ledger:party:"
SITE = "urn:coi-ledger:site:"
LOT = "urn:coi-ledger:lot:"
DEVICE = "urn:coi-ledger:device:"
TRACKING = "urn:coi-ledger:tracking:"
NS = "https://coi-ledger.dev/epcis/"
PREFIX = "coi"
CONTEXT = ["https://ref.gs1.org/standards/epcis/epcis-context.jsonld", {PREFIX: NS}]
_HASHLESS = ("eventID", "recordTime", "errorDeclaration")


def canonical(value: Any) -> bytes:
    return rfc8785.dumps(value)


def document_hash(document: Any) -> str:
    return hashlib.sha256(canonical(document)).hexdigest()


def event_id(event: Mapping[str, Any]) -> str:
    given = event.get("eventID")
    if isinstance(given, str) and given:
        return given
    content = {k: v for k, v in event.items() if k not in _HASHLESS}
    return f"ni:///sha-256;{hashlib.sha256(canonical(content)).hexdigest()}?ver=CBV2.0"


def unit_uri(label: str) -> str:
    return UNIT + label


def party(uri: str | None) -> str | None:
    """A ledger party or site identifier for an EPCIS party / location URI."""
    if not isinstance(uri, str) or not uri:
        return None
    for prefix in (PARTY, SITE, DEVICE, TRACKING):
        if uri.startswith(prefix):
            uri = uri[len(prefix):]
            break
    if len(uri) > 128 or not uri.isprintable() or not uri.strip():
        return None
    return uri


def as_uri(value: str, prefix: str = PARTY) -> str:
    """A ledger identifier as a URI (kept as is if it already is one, e.g. a GLN URN)."""
    return value if ":" in value else prefix + value


def lookup_values(epc: str) -> list[str]:
    """The values under which a label may carry ``epc``: as given, its pure identity URI and
    its GS1 element string (``(01)...(21)...``), never a class-level key (GTIN or lot alone)."""
    values = [epc]
    if epc.startswith(UNIT):
        values.append(epc[len(UNIT):])
    parsed = parse_scan(epc)
    keys = {i.kind: i.value for i in parsed.identifiers}
    for ident in parsed.identifiers:
        if ident.kind == "epc_uri":
            values.append(ident.value)
            element = getattr(ident, "gs1_element_string", None)
            if element:
                values.append(element)
        elif ident.kind in ("sscc", "giai", "gsrn"):
            values.append(ident.value)
    if "gtin" in keys and "serial" in keys:
        values.append(f"(01){keys['gtin']}(21){keys['serial']}")
    return list(dict.fromkeys(v for v in values if v))


def namespaced(data: Any) -> Any:
    """``data`` with every object key prefixed ``coi:`` (JSON-LD keeps only mapped terms)."""
    if isinstance(data, dict):
        return {f"{PREFIX}:{k}": namespaced(v) for k, v in data.items()}
    if isinstance(data, list):
        return [namespaced(v) for v in data]
    return data


def plain(data: Any) -> Any:
    """The inverse of :func:`namespaced` (keys under the ``coi`` prefix or its full URI)."""
    if isinstance(data, dict):
        out = {}
        for key, value in data.items():
            for head in (f"{PREFIX}:", NS):
                if isinstance(key, str) and key.startswith(head):
                    out[key[len(head):]] = plain(value)
        return out
    if isinstance(data, list):
        return [plain(v) for v in data]
    return data


def ours(data: Mapping[str, Any] | None) -> dict[str, Any]:
    """The ledger's own fields of an ``ilmd`` or event (``coi:...``), without the prefix."""
    return plain(dict(data)) if isinstance(data, Mapping) else {}
