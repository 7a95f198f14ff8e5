"""GS1 element strings, GS1 carriers' primary data and bare GS1 keys; AIs looked up and matched with ``biip``.

Contract (every rule names its source; vectors in ``tests/vectors/gs1/``):

* Each ``parse_*`` function returns ``(identifiers, errors)`` and never raises for scanned text.
  When there is any error, no identifier is returned: a wrong read is worse than no read.
  Each error has a ``position``: the 0-based offset, in the text given, of the AI or value at fault.
* Splitting (GS1 General Specifications, table of element strings with predefined length, figure
  7.8.5-2 in recent editions): an AI whose first two digits
  are in :data:`PREDEFINED_LENGTH` has exactly that length; every other AI's value runs to FNC1 (GS, or
  a configured substitute) or the end of the data. ``biip`` instead stops a value where its pattern
  stops matching and reads the rest as a new AI (``7007`` + 6 digits + ``21ABC`` became a serial
  ``ABC``); that silent repair is refused here (``BAD_LENGTH``/``BAD_FORMAT``).
* Each value must match its AI's whole pattern (``biip.GS1ElementString.parse``): lengths, character
  set, dates. An empty value is refused (``EMPTY_VALUE``; biip's HRI parser dropped ``(10)``).
* Check digits (GS1 mod 10) for every AI with a ``csum`` component in the GS1 Barcode Syntax
  Dictionary (:data:`CHECK_DIGITS`) and the alphanumeric check character pair (``csumalpha``) for
  GMN 8013 and 8014. biip verifies only 00, 01-03 and 41x.
* (7007) is a date or a date range, each half a date; biip read 12 digits as one datetime.
* Repeated AIs (GS1 General Specifications: an AI repeated in the data of one item, e.g. from two
  carriers on one label, must carry the same value; GS1 Syntax Engine ``validateAIrepeats``): the
  same AI with a different value is refused (``GS1_AI_REPEATED``); an identical repeat is allowed
  and reported once.
* EAN/UPC (``]E0`` 13 digits, ``]E4`` 8 digits) and ITF-14 (``]I1`` 14 digits) carry a GTIN with its
  check digit, never element strings; ``|]e0`` may add a composite component (GS1 Syntax Engine
  ``scandata.c``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace
from typing import NamedTuple

from biip import ParseConfig, ParseError
from biip.gs1_application_identifiers import GS1ApplicationIdentifier
from biip.gs1_element_strings import GS1ElementString
from biip.gtin import Gtin
from biip.sscc import Sscc

from scanners.checks import is_valid_gs1_check_pair, is_valid_gs1_mod10
from scanners.model import Gs1Identifier, Identifier, ScanError

GS = "\x1d"

# AI -> identifier kind; AIs not listed become kind "gs1_ai".
AI_KINDS = {
    "00": "sscc", "01": "gtin", "10": "lot", "11": "production_date", "17": "expiry", "21": "serial",
    **dict.fromkeys(("410", "411", "412", "413", "414", "415", "416", "417"), "gln"),
    "7003": "expiry", "8004": "giai", "8017": "gsrn", "8018": "gsrn",
}

# GS1 General Specifications "Element strings with predefined length using GS1 Application Identifiers":
# the first two digits of the AI -> length of AI plus value. These never need FNC1; all others do.
PREDEFINED_LENGTH = {
    "00": 20, "01": 16, "02": 16, "03": 16, "04": 18,
    **{str(p): 8 for p in range(11, 20)}, "20": 4,
    **{str(p): 10 for p in range(31, 37)}, "41": 16,
}

# GS1 mod 10 check digits: AI -> (start, end) of the digits checked, the check digit last
# (GS1 Barcode Syntax Dictionary, components marked "csum"). 8003 GRAI: N1 (zero) then N13,csum.
CHECK_DIGITS = {
    "00": (0, 18), "01": (0, 14), "02": (0, 14), "03": (0, 14), "253": (0, 13), "255": (0, 13),
    "402": (0, 17), **dict.fromkeys(("410", "411", "412", "413", "414", "415", "416", "417"), (0, 13)),
    "8003": (1, 14), "8006": (0, 14), "8017": (0, 18), "8018": (0, 18), "8026": (0, 14),
}
CHECK_PAIRS = frozenset({"8013", "8014"})  # GS1 alphanumeric check character pair ("csumalpha")

_NO_DATES = ParseConfig(gs1_element_strings_verify_date=False)
_LENGTH_TOKEN = re.compile(r"([NXYZ])(\.\.)?(\d+)")

Gs1Parse = tuple[tuple[Identifier, ...], tuple[ScanError, ...]]


class Element(NamedTuple):
    """One AI and its value as found in the scan; ``at`` is the offset of the value."""

    ai: str
    value: str
    at: int


def parse_element_string(text: str, *, separators: Iterable[str] = (GS,)) -> Gs1Parse:
    """Parse a GS1 element string (no symbology prefix; one leading GS/FNC1 is tolerated)."""
    elements, errors = split_element_string(text, tuple(separators))
    return validate(elements, errors)


def split_element_string(text: str, separators: tuple[str, ...], base: int = 0) -> tuple[list[Element], list]:
    """Split element strings: predefined lengths (GS1 General Specifications), else up to FNC1 or the end."""
    elements: list[Element] = []
    pos = 1 if text[:1] in separators else 0
    while pos < len(text):
        try:
            ai = GS1ApplicationIdentifier.extract(text[pos:pos + 4]).ai
        except ParseError:
            return elements, [ScanError("BAD_FORMAT", f"no GS1 application identifier at {text[pos:pos + 4]!r}",
                                        base + pos)]
        start = pos + len(ai)
        if ai[:2] in PREDEFINED_LENGTH:
            end = pos + PREDEFINED_LENGTH[ai[:2]]
            if end > len(text) or any(c in separators for c in text[start:end]):
                return elements, [ScanError("BAD_LENGTH", f"({ai}) needs {end - start} characters", base + start)]
        else:
            end = min((i for i in (text.find(s, start) for s in separators) if i >= 0), default=len(text))
        elements.append(Element(ai, text[start:end], base + start))
        pos = end + 1 if end < len(text) and text[end] in separators else end
    if not elements:
        return elements, [ScanError("EMPTY", "no GS1 element string after the separator", base)]
    return elements, []


_HRI_AI = re.compile(r"\((\d{2,4})\)")


def parse_hri(text: str) -> Gs1Parse:
    """Parse the human-readable form ``(01)09506000134352(10)LOT42A``."""
    marks = list(_HRI_AI.finditer(text))
    if not marks or marks[0].start() != 0:
        return (), (ScanError("BAD_FORMAT", "GS1 HRI must start with an (AI)", 0),)
    elements = []
    for mark, following in zip(marks, [*marks[1:], None], strict=True):
        end = following.start() if following else len(text)
        elements.append(Element(mark.group(1), text[mark.end():end], mark.end()))
    return validate(elements, [])


def parse_gtin_carrier(text: str, symbology: str, *, separators: Iterable[str] = (GS,)) -> Gs1Parse:
    """EAN-13/UPC-A/UPC-E (``]E0``), EAN-8 (``]E4``) or ITF-14 (``]I1``): a GTIN with its check digit."""
    length = {"]E0": 13, "]E4": 8, "]I1": 14}[symbology]
    primary, _, composite = text.partition("|")
    if composite and (symbology == "]I1" or not composite.startswith("]e0")):
        return (), (ScanError("BAD_FORMAT", "only '|]e0' may follow EAN/UPC primary data", len(primary)),)
    bad = next((i for i, c in enumerate(primary) if not ("0" <= c <= "9")), None)
    if bad is not None:
        return (), (ScanError("BAD_FORMAT", f"{symbology} carries digits only", bad),)
    if len(primary) != length:
        return (), (ScanError("BAD_LENGTH", f"{symbology} carries {length} digits, got {len(primary)}", 0),)
    elements = [Element("01", primary.zfill(14), 0)]
    errors: list[ScanError] = []
    if composite:
        found, errors = split_element_string(composite[3:], tuple(separators), len(primary) + 4)
        elements += found
    return validate(elements, errors)


def parse_bare_key(text: str) -> Gs1Parse | None:
    """A bare GTIN (8/12/13/14 digits) or SSCC (18 digits) with a valid check digit, or None.

    Bare keys are ambiguous with element strings, so only a key whose check digit is valid
    is taken as a key; anything else is left to the element-string parser.
    """
    if not (text.isascii() and text.isdigit()) or not is_valid_gs1_mod10(text):
        return None
    if len(text) in (8, 12, 13, 14):
        gtin = Gtin.parse(text)
        return (Gs1Identifier(kind="gtin", value=gtin.as_gtin_14(), ai="01", title="GTIN"),), ()
    if len(text) == 18:
        Sscc.parse(text)
        return (Gs1Identifier(kind="sscc", value=text, ai="00", title="SSCC"),), ()
    return None


def validate(elements: Iterable[Element], errors: Iterable[ScanError] = ()) -> Gs1Parse:
    """Check each element (pattern, dates, check digits), then repeats; identifiers only if all pass."""
    problems = list(errors)
    seen: dict[str, Element] = {}
    identifiers: list[Identifier] = []
    for element in elements:
        identifier = _identifier(element, problems)
        first = seen.setdefault(element.ai, element)
        if first.value != element.value:
            problems.append(ScanError(
                "GS1_AI_REPEATED",
                f"({element.ai}) repeated with a different value: {first.value!r} then {element.value!r}",
                element.at))
        elif first is element and identifier is not None:
            identifiers.append(identifier)
    return ((), tuple(problems)) if problems else (tuple(identifiers), ())


def as_hri(identifiers: Iterable[Identifier]) -> str:
    """The GS1 human-readable interpretation ``(AI)value...`` of GS1 identifiers."""
    return "".join(f"({i.ai}){i.value}" for i in identifiers if isinstance(i, Gs1Identifier))


def _identifier(element: Element, problems: list[ScanError]) -> Gs1Identifier | None:
    ai, value, at = element
    if not value:
        problems.append(ScanError("EMPTY_VALUE", f"({ai}) has an empty value", at))
        return None
    try:
        parsed = GS1ElementString.parse(ai + value, config=_NO_DATES if ai == "7007" else None)
        if ai == "7007":
            parsed = _date_range(parsed)
    except ParseError as exc:
        problems.append(ScanError(_classify(parsed_ai(ai), value, str(exc)), str(exc)[:300], at))
        return None
    if parsed.ai.ai != ai:  # HRI "(1)..." style AIs that are not AIs
        problems.append(ScanError("BAD_FORMAT", f"({ai}) is not a GS1 application identifier", at))
        return None
    check = CHECK_DIGITS.get(ai)
    if check and not is_valid_gs1_mod10(value[check[0]:check[1]]):
        problems.append(ScanError("CHECK_DIGIT", f"({ai}): invalid check digit in {value!r}", at + check[1] - 1))
        return None
    if ai in CHECK_PAIRS and not is_valid_gs1_check_pair(value):
        problems.append(ScanError("CHECK_DIGIT", f"({ai}): invalid check character pair in {value!r}",
                                  at + len(value) - 2))
        return None
    return Gs1Identifier(kind=AI_KINDS.get(ai, "gs1_ai"), value=parsed.value, ai=ai, title=parsed.ai.data_title,
                         date=parsed.date, datetime=parsed.datetime)


def _date_range(parsed: GS1ElementString) -> GS1ElementString:
    """(7007) is N6,yymmdd [N6,yymmdd]: a date or a date range (syntax dictionary). biip reads a
    12-digit value as one datetime YYMMDDhhmmss (refusing 010101491231, misreading 211225211231);
    here each half is read as a date (as AI 7006, a plain N6 date) and the start is kept."""
    halves = [parsed.value[i:i + 6] for i in range(0, len(parsed.value), 6)]
    try:
        days = [GS1ElementString.parse("7006" + half).date for half in halves]
    except ParseError as exc:
        raise ParseError(f"Failed to parse GS1 AI (7007) date range from {parsed.value!r}.") from exc
    return replace(parsed, date=days[0], datetime=None)


def parsed_ai(ai: str) -> GS1ApplicationIdentifier | None:
    """biip's description of ``ai`` when it is exactly a known AI, else None."""
    try:
        found = GS1ApplicationIdentifier.extract(ai)
    except ParseError:
        return None
    return found if found.ai == ai else None


def length_bounds(ai: GS1ApplicationIdentifier) -> tuple[int, int]:
    """(minimum, maximum) value length from biip's format, e.g. ``N4+N14[+X..16]`` -> (14, 30)."""
    spec = ai.format.split("+", 1)[1] if "+" in ai.format else ""
    spec = re.sub(r"([NXYZ])\d+\.\.[NXYZ](\d+)", r"\1..\2", spec)  # 8043 "[N1..N2]" means N..2
    mandatory, _, optional = spec.partition("[")
    low = sum(1 if m.group(2) else int(m.group(3)) for m in _LENGTH_TOKEN.finditer(mandatory))
    high = sum(int(m.group(3)) for m in _LENGTH_TOKEN.finditer(spec)) + spec.count("[-]")  # 4330-4333 "N6+[-]"
    return low, high


def _classify(ai: GS1ApplicationIdentifier | None, value: str, message: str) -> str:
    if ai is None:
        return "BAD_FORMAT"
    low, high = length_bounds(ai)
    if not low <= len(value) <= high:
        return "BAD_LENGTH"
    return "BAD_DATE" if "date" in message.lower() else "BAD_FORMAT"
