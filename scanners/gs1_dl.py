"""GS1 Digital Link URIs: ``https://id.gs1.org/01/09506000134352/10/LOT42A?17=261231``.

Contract (GS1 Digital Link URI Syntax 1.x; behaviour matched to the GS1 Barcode Syntax Engine's
``dl.c`` and its tests, vectors in ``tests/vectors/gs1/digital_link.json``):

* Scheme ``http``/``https`` in lower or upper case (mixed case refused), a non-empty host, only URI
  characters (RFC 3986). The primary key is the rightmost ``/AI/value`` pair whose AI is a DL
  primary key (:data:`QUALIFIERS`); what is left of it is the stem. Qualifiers follow in the order
  the key allows.
* Every value is checked as a GS1 element (``scanners.gs1.validate``: pattern, length, dates, check
  digits). A GTIN (01) is 14 digits; GTIN-8/12/13 are zero-extended to 14 (the DL standard's
  examples); any other length is refused, never padded (biip pads ``/01/123``).
* Query: ``&``-separated; a numeric key must be a known AI with a non-empty value (biip drops
  ``?17=``); other keys are ignored. A key qualifier that could stand in the path is refused in the
  query (Syntax Engine ``AI_SHOULD_BE_IN_PATH_INFO``). An AI may appear once in the whole URI, path and query
  together (Syntax Engine "Forbid duplicate AIs"; biip took the last of repeated query values and
  kept path and query values side by side).
* Errors carry the offset in the URI of the AI or value at fault; no identifiers on any error.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, unquote_plus

from scanners.gs1 import Element, Gs1Parse, parsed_ai, validate
from scanners.model import ScanError

# GS1 Barcode Syntax Dictionary "dlpkey" attributes: primary key -> allowed qualifier sequences.
QUALIFIERS: dict[str, tuple[tuple[str, ...], ...]] = {
    "00": (), "01": (("22", "10", "21"), ("235",)), "253": (), "255": (), "401": (), "402": (),
    "414": (("254",), ("7040",)), "415": (("8020",),), "417": (("7040",),), "8003": (),
    "8004": (("7040",),), "8006": (("22", "10", "21"),), "8010": (("8011",),), "8013": (),
    "8017": (("8019",),), "8018": (("8019",),),
}
_URI = re.compile(r"(?P<scheme>http|https|HTTP|HTTPS)://(?P<host>[^/?#]+)(?P<path>/[^?#]*)?(?:\?(?P<query>[^#]*))?")
_URI_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~:/?#[]@!$&'()*+,;=%")
_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")


def parse_digital_link(text: str) -> Gs1Parse:
    """Parse a GS1 Digital Link URI into GS1 identifiers, or refuse it with positioned errors."""
    bad = next((i for i, c in enumerate(text) if c not in _URI_CHARS), None)
    if bad is None and (m := _PERCENT.search(text)):
        bad = m.start()
    if bad is not None:
        return _refuse("BAD_FORMAT", f"{text[bad]!r} is not allowed in a URI", bad)
    uri = _URI.match(text)
    if uri is None:
        return _refuse("BAD_FORMAT", "not an http(s) URI with a host (scheme in one case)", 0)
    elements, problem = _path(text, uri)
    if problem:
        return (), (problem,)
    query, problem = _query(text, uri)
    if problem:
        return (), (problem,)
    path = [e.ai for e in elements]
    for element in query:  # Syntax Engine AI_SHOULD_BE_IN_PATH_INFO: a key qualifier belongs in the path
        if any(_valid_path([*path[:j], element.ai, *path[j:]]) for j in range(1, len(path) + 1)):
            return _refuse("BAD_FORMAT", f"({element.ai}) qualifies ({path[0]}): it belongs in the path",
                           element.at - len(element.ai) - 1)
    elements += query
    seen: dict[str, Element] = {}
    for element in elements:
        if seen.setdefault(element.ai, element) is not element:
            return _refuse("GS1_AI_REPEATED", f"({element.ai}) appears twice in one Digital Link", element.at)
    for i, element in enumerate(elements):
        if element.ai == "01":
            if len(element.value) not in (8, 12, 13, 14) or not element.value.isdigit():
                return _refuse("BAD_LENGTH", f"(01) GTIN has 8, 12, 13 or 14 digits, got {element.value!r}",
                               element.at)
            elements[i] = element._replace(value=element.value.zfill(14))
    return validate(elements)


def _path(text: str, uri: re.Match) -> tuple[list[Element], ScanError | None]:
    path, at = uri.group("path") or "", uri.start("path")
    segments, offsets = path.split("/")[1:], []
    for segment in segments:
        offsets.append(at + 1)
        at += 1 + len(segment)
    key = None
    for i in range(len(segments) - 2, -1, -2):
        if parsed_ai(segments[i]) is None:
            break
        if segments[i] in QUALIFIERS:
            key = i
            break
    if key is None:
        return [], ScanError("BAD_FORMAT", "no GS1 Digital Link primary key (/AI/value) in the path",
                             uri.start("path") if uri.group("path") else len(text))
    elements = [Element(segments[i], unquote(segments[i + 1]), offsets[i + 1]) for i in range(key, len(segments), 2)]
    if not _valid_path([e.ai for e in elements]):
        wrong = elements[1]
        return [], ScanError("BAD_FORMAT", f"qualifiers {[e.ai for e in elements[1:]]} are not allowed after "
                             f"({segments[key]}) or not in this order", wrong.at - len(wrong.ai) - 1)
    return elements, None


def _valid_path(ais: list[str]) -> bool:
    """A primary key followed by qualifiers in one of its allowed orders (each optional)."""
    return not ais[1:] or any(_in_order(ais[1:], sequence) for sequence in QUALIFIERS.get(ais[0], ()))


def _in_order(order: list[str], sequence: tuple[str, ...]) -> bool:
    rest = iter(sequence)
    return all(ai in rest for ai in order)


def _query(text: str, uri: re.Match) -> tuple[list[Element], ScanError | None]:
    query = uri.group("query")
    if query is None:
        return [], None
    elements, at = [], uri.start("query")
    for parameter in query.split("&"):
        key, equals, raw = parameter.partition("=")
        if key.isdigit():
            if parsed_ai(key) is None:
                return [], ScanError("BAD_FORMAT", f"query parameter {key!r} is numeric but not a GS1 AI", at)
            if not raw:
                return [], ScanError("EMPTY_VALUE", f"query parameter ({key}) has an empty value", at + len(key) + 1)
            elements.append(Element(key, unquote_plus(raw), at + len(key) + 1))
        at += len(parameter) + 1
    return elements, None


def _refuse(code: str, message: str, position: int) -> Gs1Parse:
    return (), (ScanError(code, message, position),)

