"""Is this an EPCIS 2.0 document (or a single event) the ledger may capture?

1. Strict JSON: UTF-8, no duplicate keys, no NaN/Infinity, bounded size and depth.
2. The official EPCIS 2.0 JSON schema (draft-07) with format checks on: ``date-time`` as
   RFC 3339 with a zone. ``uri`` is not checked by the schema: read strictly it refuses
   documents the standard's own examples use (a bare ``EffectiveDoseRate`` sensor type, a
   ``persistentDisposition`` on an AggregationEvent). URI syntax is checked by the CBV rules
   on the fields where it matters (identifiers, vocabularies, extension field names).
3. The CBV 2.0 rules of ``semantic`` (vocabularies, namespaces, times).

Every fault names its JSON pointer and event index; a schema fault that a CBV rule explains
more precisely (same pointer) is reported once, as the CBV fault.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from jsonschema import Draft7Validator, FormatChecker
from jsonschema.exceptions import ValidationError, best_match

from ledger.errors import InvalidEvent, LedgerError, PayloadTooLarge

from . import cbv
from .semantic import Fault, check_document, check_events, context_prefixes, pointer

SCHEMA_INVALID = "EPCIS_SCHEMA_INVALID"
MALFORMED = "EPCIS_MALFORMED"
MAX_BYTES = 4 * 1024 * 1024
MAX_DEPTH = 64
MAX_EVENTS = 1000
MAX_FAULTS = 50
SCHEMA_ENV = "LEDGER_EPCIS_SCHEMA"
# GS1's schema ships as package data (see schema/SOURCE.md); LEDGER_EPCIS_SCHEMA may override it.
DEFAULT_SCHEMA = Path(__file__).resolve().parent / "schema" / "EPCIS-JSON-Schema.json"


class EpcisInvalid(InvalidEvent):
    """422: the document is refused; ``errors`` lists each fault (pointer, event index)."""

    code = SCHEMA_INVALID


class SchemaUnavailable(LedgerError):
    code = "EPCIS_SCHEMA_UNAVAILABLE"
    status = 503


@dataclass(frozen=True)
class Checked:
    document: dict[str, Any]  # as received (a bare event stays bare)
    events: list[dict[str, Any]]
    single: bool  # a bare event, as the REST binding allows

    def base(self, index: int) -> str:
        return "" if self.single else f"/epcisBody/eventList/{index}"


def refuse(faults: list[Fault]) -> EpcisInvalid:
    first = faults[0]
    more = f" (and {len(faults) - 1} more)" if len(faults) > 1 else ""
    return EpcisInvalid(first.message + more, code=first.code,
                        errors=[f.to_json() for f in faults[:MAX_FAULTS]])


def _malformed(message: str) -> EpcisInvalid:
    return refuse([Fault(MALFORMED, "NOT_JSON", "", None, message)])


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key[:64]!r}")
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _depth(value: Any) -> int:
    deepest, todo = 0, [(value, 1)]
    while todo:
        item, depth = todo.pop()
        deepest = max(deepest, depth)
        if depth > MAX_DEPTH:
            return depth
        if isinstance(item, dict):
            todo.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            todo.extend((v, depth + 1) for v in item)
    return deepest


def parse(body: bytes) -> Any:
    if len(body) > MAX_BYTES:
        raise PayloadTooLarge(f"an EPCIS document may have at most {MAX_BYTES} bytes",
                              code="EPCIS_TOO_LARGE")
    try:
        text = body.decode("utf-8")
        value = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except UnicodeDecodeError:
        raise _malformed("the body is not UTF-8") from None
    except RecursionError:
        raise _malformed("the JSON nests too deeply") from None
    except ValueError as exc:
        raise _malformed(f"the body is not strict JSON: {str(exc)[:200]}") from None
    if _depth(value) > MAX_DEPTH:
        raise _malformed(f"the JSON nests deeper than {MAX_DEPTH} levels")
    return value


@lru_cache(maxsize=4)
def _validator(path: str) -> Draft7Validator:
    try:
        schema = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SchemaUnavailable(f"the EPCIS JSON schema cannot be read ({type(exc).__name__}); "
                                f"set {SCHEMA_ENV}") from None
    checker = FormatChecker(formats=())
    checker.checks("date-time")(cbv.is_rfc3339)
    Draft7Validator.check_schema(schema)
    return Draft7Validator(schema, format_checker=checker)


def schema_validator() -> Draft7Validator:
    return _validator(os.environ.get(SCHEMA_ENV) or str(DEFAULT_SCHEMA))


def _event_index(path: list[Any], single: bool) -> int | None:
    if single:
        return 0
    if len(path) >= 3 and path[0] == "epcisBody" and path[1] == "eventList":
        return path[2] if isinstance(path[2], int) else None
    return None


def _message(error: ValidationError) -> str:
    """The error's message without a dump of the whole offending object."""
    message = error.message
    if isinstance(error.instance, (dict, list)):
        message = message.replace(repr(error.instance), "this " + (
            "object" if isinstance(error.instance, dict) else "array"))
    return message if len(message) <= 300 else message[:300] + "..."


def _precise(error: ValidationError) -> ValidationError:
    """For anyOf / oneOf failures, the most relevant alternative's own error."""
    seen = 0
    while error.context and seen < 8:
        error, seen = best_match(error.context), seen + 1
    return error


def _order(error: ValidationError) -> tuple[list[str], bool, list[str]]:
    """Document order by event, then direct errors before anyOf summaries."""
    path = [f"{p:08d}" if isinstance(p, int) else str(p) for p in error.path]
    return path[:3], bool(error.context), path


def schema_faults(document: Any, single: bool) -> list[Fault]:
    faults = []
    errors = sorted(schema_validator().iter_errors(document), key=_order)
    for found in errors[:MAX_FAULTS * 4]:
        error = _precise(found)
        path = list(error.absolute_path)
        where = pointer("", *path)
        message = _message(error)
        index = _event_index(path, single)
        label = f"event {index}" if index is not None else "document"
        faults.append(Fault(SCHEMA_INVALID, f"SCHEMA_{str(error.validator).upper()}", where, index,
                            f"{label} ({where or '/'}): {message}"))
    return faults


def check(document: Any) -> Checked:
    """The document's events if it may be captured, else raise ``EpcisInvalid`` (422)."""
    if not isinstance(document, dict):
        raise refuse([Fault(SCHEMA_INVALID, "NOT_AN_OBJECT", "", None,
                            "an EPCIS document or event is a JSON object")])
    kind = document.get("type")
    if kind == "EPCISQueryDocument":
        raise refuse([Fault(SCHEMA_INVALID, "NOT_CAPTURABLE", "/type", None,
                            "capture takes an EPCISDocument or a single event, not a query document")])
    single = kind != "EPCISDocument"
    body = document.get("epcisBody")
    raw_events = body.get("eventList") if isinstance(body, dict) else None
    events = [document] if single else raw_events if isinstance(raw_events, list) else []
    if len(events) > MAX_EVENTS:
        raise PayloadTooLarge(f"at most {MAX_EVENTS} events per capture", code="EPCIS_TOO_LARGE")
    schema = schema_faults(document, single)
    prefixes = context_prefixes(document.get("@context"))
    semantic = [] if single else check_document(document)
    based = [(i, "" if single else f"/epcisBody/eventList/{i}", e) for i, e in enumerate(events)]
    semantic += list(check_events(based, prefixes))
    explained = {f.pointer for f in semantic}
    remaining = [f for f in schema if f.pointer not in explained]
    faults = remaining + semantic
    if faults:
        raise refuse(faults)
    return Checked(document, events, single)
