"""GS1 element strings, GS1 Digital Link URIs and bare GS1 keys, decoded with ``biip``.

Contract:

* Each ``parse_*`` function returns ``(identifiers, errors)`` and raises only
  :class:`biip.ParseError` / ValueError for text that is not GS1 at all; the caller
  (:func:`scanners.parse.parse_scan`) turns those into ``ScanError`` values.
* A bad check digit is never accepted silently: biip reports GTIN, SSCC and GLN check
  failures as ``*_error`` fields, which become ``CHECK_DIGIT`` errors here; GSRN (8017/8018)
  check digits, which biip does not verify, are verified here with GS1 mod 10.
* Variable-length fields end with GS (ASCII 29); ``separators`` may add a substitute
  character for scanners that drop GS.
"""

from __future__ import annotations

from collections.abc import Iterable

import biip
from biip.gs1_digital_link_uris import GS1DigitalLinkURI
from biip.gs1_element_strings import GS1ElementString
from biip.gs1_messages import GS1Message
from biip.gtin import Gtin
from biip.sscc import Sscc

from scanners.checks import is_valid_gs1_mod10
from scanners.model import Gs1Identifier, Identifier, ScanError

GS = "\x1d"

# AI -> identifier kind; AIs not listed become kind "gs1_ai".
AI_KINDS = {
    "00": "sscc",
    "01": "gtin",
    "10": "lot",
    "11": "production_date",
    "17": "expiry",
    "21": "serial",
    "410": "gln",
    "411": "gln",
    "412": "gln",
    "413": "gln",
    "414": "gln",
    "415": "gln",
    "416": "gln",
    "417": "gln",
    "7003": "expiry",
    "8004": "giai",
    "8017": "gsrn",
    "8018": "gsrn",
}
_CHECKED_BY_US = {"8017", "8018"}

Gs1Parse = tuple[tuple[Identifier, ...], tuple[ScanError, ...]]


def parse_element_string(text: str, *, separators: Iterable[str] = (GS,)) -> Gs1Parse:
    """Parse a GS1 element string (no symbology prefix; a leading GS/FNC1 is tolerated)."""
    config = biip.ParseConfig(separator_chars=tuple(separators))
    message = GS1Message.parse(text.lstrip(GS), config=config)
    return identifiers_from_elements(message.element_strings)


def parse_hri(text: str) -> Gs1Parse:
    """Parse the human-readable form ``(01)09506000134352(10)LOT42A``."""
    return identifiers_from_elements(GS1Message.parse_hri(text).element_strings)


def parse_digital_link(text: str) -> Gs1Parse:
    """Parse a GS1 Digital Link URI (``https://id.gs1.org/01/.../10/...?17=...``)."""
    return identifiers_from_elements(GS1DigitalLinkURI.parse(text).element_strings)


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


def identifiers_from_elements(elements: Iterable[GS1ElementString]) -> Gs1Parse:
    """Map biip element strings to identifiers, collecting check-digit errors."""
    identifiers: list[Identifier] = []
    errors: list[ScanError] = []
    for element in elements:
        ai = element.ai.ai
        problem = element.gtin_error or element.sscc_error or element.gln_error
        if problem is None and ai in _CHECKED_BY_US and not is_valid_gs1_mod10(element.value):
            problem = f"Invalid GSRN check digit for {element.value!r} in AI ({ai})."
        if problem is not None:
            errors.append(ScanError(code=_error_code(problem), message=f"({ai}): {problem}"))
            continue
        identifiers.append(
            Gs1Identifier(
                kind=AI_KINDS.get(ai, "gs1_ai"),
                value=element.value,
                ai=ai,
                title=element.ai.data_title,
                date=element.date,
                datetime=element.datetime,
            )
        )
    return tuple(identifiers), tuple(errors)


def as_hri(identifiers: Iterable[Identifier]) -> str:
    """The GS1 human-readable interpretation ``(AI)value...`` of GS1 identifiers."""
    return "".join(f"({i.ai}){i.value}" for i in identifiers if isinstance(i, Gs1Identifier))


def _error_code(problem: str) -> str:
    return "CHECK_DIGIT" if "check digit" in problem.lower() else "BAD_FORMAT"
