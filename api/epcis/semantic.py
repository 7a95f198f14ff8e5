"""CBV 2.0 rules the EPCIS JSON schema cannot express (its ``format: uri`` and ``date-time``
are not enough): bare words must be CBV terms, extension and ``ilmd`` fields must be
namespaced with a declared prefix, times must be RFC 3339 with a zone.

Written for any JSON at all: it never assumes the schema passed (both run on every document).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from . import cbv

VOCABULARY, SEMANTIC = "EPCIS_VOCABULARY", "EPCIS_SEMANTIC"
MAX_EXTENSION_DEPTH = 32  # where nested @context prefixes are looked for


@dataclass(frozen=True)
class Fault:
    code: str  # the problem class: EPCIS_SCHEMA_INVALID, EPCIS_VOCABULARY, EPCIS_SEMANTIC
    rule: str  # the finer rule broken
    pointer: str  # JSON pointer (RFC 6901) of the offending field
    event: int | None  # index in the eventList (0 for a bare event), None for the document
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"code": self.rule, "pointer": self.pointer, "event_index": self.event,
                "message": self.message}


def pointer(base: str, *parts: object) -> str:
    out = base
    for part in parts:
        out += "/" + str(part).replace("~", "~0").replace("/", "~1")
    return out


def context_prefixes(context: Any) -> set[str]:
    """Prefixes an ``@context`` (string, object or list of them) declares."""
    items = context if isinstance(context, list) else [context]
    return {k for item in items if isinstance(item, dict) for k, v in item.items()
            if isinstance(k, str) and isinstance(v, (str, dict)) and not k.startswith("@")}


def nested_prefixes(value: Any, depth: int = 0) -> set[str]:
    """Every prefix declared by an ``@context`` anywhere inside ``value``."""
    found: set[str] = set()
    if depth > MAX_EXTENSION_DEPTH:
        return found
    if isinstance(value, dict):
        found |= context_prefixes(value.get("@context"))
        for item in value.values():
            found |= nested_prefixes(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            found |= nested_prefixes(item, depth + 1)
    return found


class EventChecker:
    def __init__(self, event: dict[str, Any], index: int | None, base: str, prefixes: set[str]):
        self.event, self.index, self.base = event, index, base
        self.prefixes = prefixes | nested_prefixes(event)
        self.faults: list[Fault] = []

    def fault(self, code: str, rule: str, path: str, message: str) -> None:
        where = f"event {self.index}" if self.index is not None else "document"
        self.faults.append(Fault(code, rule, path, self.index, f"{where} ({path or '/'}): {message}"))

    def time(self, value: Any, path: str, name: str) -> None:
        if isinstance(value, str) and not cbv.is_rfc3339(value):
            self.fault(SEMANTIC, "TIME_NOT_RFC3339", path,
                       f"{name} {value[:64]!r} is not an RFC 3339 date-time with a zone offset")

    def vocab(self, value: Any, path: str, field: str, *, closed: bool = True) -> None:
        """``closed``: a bare word must be a CBV term (an open list only needs URIs to be URIs)."""
        if not isinstance(value, str):
            return
        what, terms, _ = cbv.VOCABULARIES[field]
        if ":" not in value:
            if closed and value not in terms:
                self.fault(VOCABULARY, "NOT_A_CBV_TERM", path,
                           f"{value[:64]!r} is not a CBV 2.0 {what}: use a CBV term or a URI")
            return
        if not cbv.is_uri(value):
            self.fault(VOCABULARY, "NOT_A_URI", path, f"the {what} {value[:64]!r} is not a URI")

    def keys(self, obj: Any, path: str, standard: frozenset[str] | set[str], what: str) -> None:
        """Keys not in ``standard`` are extensions: prefix:name (declared) or a full URI.
        What an extension holds inside is its own business (JSON-LD scopes it)."""
        if not isinstance(obj, dict):
            return
        for key in obj:
            if key in standard or key == "@context":
                continue
            problem = cbv.namespaced(key, self.prefixes)
            if problem:
                self.fault(SEMANTIC, "FIELD_NOT_NAMESPACED", pointer(path, key),
                           f"{what} field {key[:64]!r} {problem}: extension fields are prefix:name "
                           "with a prefix declared in @context, or a full URI")

    def uris(self, value: Any, path: str, name: str) -> None:
        values = value if isinstance(value, list) else [value]
        for i, item in enumerate(values):
            if isinstance(item, str) and not cbv.is_uri(item):
                here = pointer(path, i) if isinstance(value, list) else path
                self.fault(SEMANTIC, "NOT_A_URI", here, f"{name} {item[:64]!r} is not a URI")

    def run(self) -> list[Fault]:
        e, base = self.event, self.base
        kind = e.get("type")
        standard = cbv.COMMON_KEYS | cbv.EVENT_KEYS.get(kind, frozenset()) if isinstance(
            kind, str) else cbv.COMMON_KEYS
        if isinstance(kind, str) and kind not in cbv.EVENT_TYPES:
            problem = cbv.namespaced(kind, self.prefixes)
            if problem:
                self.fault(SEMANTIC, "UNKNOWN_EVENT_TYPE", pointer(base, "type"),
                           f"event type {kind[:64]!r} is not an EPCIS event type and {problem}")
        self.keys(e, base, standard, "event")
        for name in cbv.URI_FIELDS:
            self.uris(e.get(name), pointer(base, name), name)
        for name in ("readPoint", "bizLocation"):
            if isinstance(e.get(name), dict):
                self.uris(e[name].get("id"), pointer(base, name, "id"), f"{name} id")
        for name in ("eventTime", "recordTime"):
            self.time(e.get(name), pointer(base, name), name)
        offset = e.get("eventTimeZoneOffset")
        if isinstance(offset, str) and not cbv.OFFSET.match(offset):
            self.fault(SEMANTIC, "BAD_TIME_ZONE_OFFSET", pointer(base, "eventTimeZoneOffset"),
                       f"eventTimeZoneOffset {offset[:16]!r} is not ±hh:mm within ±14:00")
        for name in ("bizStep", "disposition"):
            self.vocab(e.get(name), pointer(base, name), name)
        persistent = e.get("persistentDisposition")
        if isinstance(persistent, dict):
            for part in ("set", "unset"):
                for i, item in enumerate(_list(persistent.get(part))):
                    self.vocab(item, pointer(base, "persistentDisposition", part, i), "disposition")
        for name in ("readPoint", "bizLocation"):
            self.keys(e.get(name), pointer(base, name), {"id"}, name)
        for name in ("sourceList", "destinationList"):
            for i, item in enumerate(_list(e.get(name))):
                if isinstance(item, dict):
                    self.vocab(item.get("type"), pointer(base, name, i, "type"), "source_dest")
        for i, item in enumerate(_list(e.get("bizTransactionList"))):
            if isinstance(item, dict):
                self.vocab(item.get("type"), pointer(base, "bizTransactionList", i, "type"),
                           "bizTransaction")
        ilmd = e.get("ilmd")
        if isinstance(ilmd, dict):
            self.keys(ilmd, pointer(base, "ilmd"), set(), "ilmd")
        self.error_declaration(e.get("errorDeclaration"), pointer(base, "errorDeclaration"))
        for i, element in enumerate(_list(e.get("sensorElementList"))):
            self.sensor_element(element, pointer(base, "sensorElementList", i))
        return self.faults

    def error_declaration(self, value: Any, path: str) -> None:
        if not isinstance(value, dict):
            return
        self.time(value.get("declarationTime"), pointer(path, "declarationTime"), "declarationTime")
        self.uris(value.get("correctiveEventIDs"), pointer(path, "correctiveEventIDs"), "eventID")
        self.vocab(value.get("reason"), pointer(path, "reason"), "errorReason")
        self.keys(value, path, cbv.ERROR_DECLARATION_KEYS, "errorDeclaration")

    def sensor_element(self, element: Any, path: str) -> None:
        if not isinstance(element, dict):
            return
        self.keys(element, path, {"sensorMetadata", "sensorReport", "isA"}, "sensorElement")
        meta = element.get("sensorMetadata")
        if isinstance(meta, dict):
            for name in ("time", "startTime", "endTime"):
                self.time(meta.get(name), pointer(path, "sensorMetadata", name), name)
            self.keys(meta, pointer(path, "sensorMetadata"), cbv.SENSOR_METADATA_KEYS,
                      "sensorMetadata")
        for i, report in enumerate(_list(element.get("sensorReport"))):
            if not isinstance(report, dict):
                continue
            here = pointer(path, "sensorReport", i)
            self.time(report.get("time"), pointer(here, "time"), "time")
            # GS1's measurement-type code list grows (e.g. EffectiveDoseRate): bare words pass
            self.vocab(report.get("type"), pointer(here, "type"), "measurement", closed=False)
            self.vocab(report.get("exception"), pointer(here, "exception"), "alert")
            self.vocab(report.get("component"), pointer(here, "component"), "component")
            self.keys(report, here, cbv.SENSOR_REPORT_KEYS, "sensorReport")


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def check_document(doc: dict[str, Any]) -> list[Fault]:
    """Header rules of an EPCISDocument (its events are checked one by one)."""
    checker = EventChecker({}, None, "", context_prefixes(doc.get("@context")))
    checker.time(doc.get("creationDate"), "/creationDate", "creationDate")
    checker.keys(doc, "", cbv.DOCUMENT_KEYS, "document")
    return checker.faults


def check_events(events: list[tuple[int, str, Any]], prefixes: set[str]) -> Iterator[Fault]:
    for index, base, event in events:
        if isinstance(event, dict):
            yield from EventChecker(event, index, base, prefixes).run()
