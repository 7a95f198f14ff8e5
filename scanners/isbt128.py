"""ISBT 128 data structures used on cellular therapy labels (ICCBBA ST-001, ST-028).

Decoded (structure only; no licensed ICCBBA table is shipped or consulted):

* 001 DIN ``=αppppyynnnnnnff``: 13-char DIN + 2 flag chars. The keyboard check character
  (ISO 7064 mod 37-2 over the 13 chars) is always computed; it is verified when present
  (manual entry ``G123498654321H``, or ``=`` + DIN + check char) and type 3 flags (60..96 =
  check value + 60) are verified too.
* 003 product code ``=<αooootds`` (α = S: cellular therapy).
* 004 expiration date ``=>cyyjjj`` and 005 expiration date/time ``&>cyyjjjhhmm``
  (year = 2000 + 100*c + yy, jjj = day of year): an aware UTC datetime.
* 040 chain of identity identifier ``&/CHαppppyynnnnnn``.
* 023 compound message ``=+aabbb`` followed by ``aa`` structures (``bbb`` = ``000``: any order).
* 002, 006-009, 026, 032 are recognised by length and passed through as ``isbt_structure``.
* 024 / 025 (patient date of birth / patient id) are dropped, masked in the returned text
  and reported as a ``PATIENT_DATA`` warning: the ledger never keeps patient data.

Contract: :func:`parse_isbt` returns ``(identifiers, errors, warnings, masked_text)`` and
never raises for any string.
"""

from __future__ import annotations

import calendar
import re
from datetime import UTC, datetime, timedelta

from scanners.checks import mod37_2_check_char, mod37_2_check_value
from scanners.model import (
    DinIdentifier,
    Identifier,
    IsbtCoiIdentifier,
    IsbtExpiryIdentifier,
    IsbtStructure,
    ProductCodeIdentifier,
    ScanError,
)

# data identifier -> (structure number, data content length); None = variable (025).
FIXED_STRUCTURES: dict[str, tuple[str, int | None]] = {
    "=%": ("002", 4),
    "=<": ("003", 8),
    "=>": ("004", 6),
    "&>": ("005", 10),
    "=*": ("006", 6),
    "&*": ("007", 10),
    "=}": ("008", 6),
    "&}": ("009", 10),
    "=+": ("023", 5),
    "=#": ("024", 10),
    "&#": ("025", None),
    "=]": ("026", 6),
    "=,": ("032", 6),
    "&/": ("040", 15),
}
PATIENT_STRUCTURES = {"024", "025"}
_DIN_FIRST = "ABCDEFGHIJKLMNPQRSTUVWXYZ123456789"
_FIN = r"[A-NP-Z1-9][A-NP-Z0-9]{2}[0-9]{2}"
_DIN = re.compile(rf"({_FIN})([0-9]{{2}})([0-9]{{6}})")
_FLAGS = re.compile(r"[0-9A-HJ-NPR-Y]{2}")
_MANUAL_DIN = re.compile(rf"=?({_FIN}[0-9]{{8}})([0-9A-Z*])?")
_PRODUCT = re.compile(r"([A-Z][A-Z0-9]{4})([A-Za-z0-9])([A-Z0-9][a-z0-9])")
_COI = re.compile(rf"CH({_FIN})([0-9]{{2}})([A-Z0-9]{{6}})")

IsbtParse = tuple[tuple[Identifier, ...], tuple[ScanError, ...], tuple[ScanError, ...], str]


class _Bad(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.error = ScanError(code=code, message=message)


def looks_like_isbt(text: str) -> bool:
    """True for text starting with an ISBT 128 data identifier or a manual-entry DIN."""
    if text[:1] in ("=", "&"):
        return True
    match = _MANUAL_DIN.fullmatch(text)
    return match is not None and not text.isdigit()


def parse_isbt(text: str) -> IsbtParse:
    """Parse one structure, several concatenated ones, a compound message or a manual DIN."""
    manual = _MANUAL_DIN.fullmatch(text)
    if manual is not None and (text.startswith("=") or not text.isdigit()) and len(text) <= 15:
        din, check = manual.groups()
        try:
            return (_din(din, None, check),), (), (), text
        except _Bad as bad:
            return (), (bad.error,), (), text
    identifiers: list[Identifier] = []
    errors: list[ScanError] = []
    warnings: list[ScanError] = []
    masked = text
    try:
        structures = _split(text)
    except _Bad as bad:
        return (), (bad.error,), (), text
    announced: int | None = None
    for number, content, start in structures:
        try:
            if number == "023":
                announced = _compound_header(content, start, warnings)
            elif number in PATIENT_STRUCTURES:
                masked = masked[:start] + "*" * len(content) + masked[start + len(content) :]
                warnings.append(
                    ScanError("PATIENT_DATA", f"ISBT 128 structure {number} (patient data) dropped")
                )
            else:
                identifiers.append(_decode(number, content))
        except _Bad as bad:
            errors.append(bad.error)
    counted = sum(1 for n, _, _ in structures if n != "023")
    if announced is not None and announced != counted:
        errors.append(
            ScanError(
                "ISBT_COMPOUND_COUNT",
                f"compound message announces {announced} structures but holds {counted}",
            )
        )
    return tuple(identifiers), tuple(errors), tuple(warnings), masked


def _split(text: str) -> list[tuple[str, str, int]]:
    """Split concatenated structures into (number, content, content start offset)."""
    out: list[tuple[str, str, int]] = []
    pos = 0
    while pos < len(text):
        ident = text[pos : pos + 2]
        if ident[:1] == "=" and ident[1:2] in _DIN_FIRST and ident[1:2] != "":
            number, start, length = "001", pos + 1, 15
        elif ident in FIXED_STRUCTURES:
            number, length_or_none = FIXED_STRUCTURES[ident]
            start = pos + 2
            length = length_or_none if length_or_none is not None else _var_length(text, start)
        else:
            raise _Bad("BAD_FORMAT", f"unknown ISBT 128 data identifier {ident!r} at {pos}")
        content = text[start : start + length]
        if len(content) != length:
            raise _Bad("BAD_FORMAT", f"ISBT 128 structure {number} is truncated")
        out.append((number, content, start))
        pos = start + length
    return out


def _var_length(text: str, start: int) -> int:
    """Length of structure 025 content ``aallxx...``: 4 + ll."""
    ll = text[start + 2 : start + 4]
    if not (ll.isascii() and ll.isdigit()):
        raise _Bad("BAD_FORMAT", "ISBT 128 structure 025 has no valid length field")
    return 4 + int(ll)


def _compound_header(content: str, start: int, warnings: list[ScanError]) -> int:
    if start != 2 or not (content.isascii() and content.isdigit()):
        raise _Bad("BAD_FORMAT", "ISBT 128 compound message header must lead: =+aabbb")
    if content[2:] != "000":
        warnings.append(
            ScanError(
                "NOT_CHECKED",
                f"compound message sequence {content[2:]} is defined by a licensed ICCBBA "
                "table and was not checked",
            )
        )
    return int(content[:2])


def _decode(number: str, content: str) -> Identifier:
    if number == "001":
        return _din(content[:13], content[13:], None)
    if number == "003":
        return _product(content)
    if number in ("004", "005"):
        return _expiry(number, content)
    if number == "040":
        return _coi(content)
    return IsbtStructure(kind="isbt_structure", value=content, structure=number)


def _din(din: str, flags: str | None, check: str | None) -> DinIdentifier:
    match = _DIN.fullmatch(din)
    if match is None:
        raise _Bad("BAD_FORMAT", f"{din!r} is not a valid ISBT 128 DIN")
    expected = mod37_2_check_char(din)
    if check is not None and check != expected:
        raise _Bad("CHECK_DIGIT", f"DIN {din}: check character should be {expected}, not {check}")
    if flags is not None:
        if _FLAGS.fullmatch(flags) is None:
            raise _Bad("BAD_FORMAT", f"DIN {din}: invalid flag characters {flags!r}")
        if flags.isdigit() and 60 <= int(flags) <= 96 and int(flags) - 60 != mod37_2_check_value(din):
            raise _Bad("CHECK_DIGIT", f"DIN {din}: type 3 check flags {flags} do not match")
    facility, year, sequence = match.groups()
    return DinIdentifier(
        kind="din",
        value=din,
        facility=facility,
        year=year,
        sequence=sequence,
        check_char=expected,
        flags=flags or None,
    )


def _product(content: str) -> ProductCodeIdentifier:
    match = _PRODUCT.fullmatch(content)
    if match is None:
        raise _Bad("BAD_FORMAT", f"{content!r} is not a valid ISBT 128 product code")
    pdc, collection, division = match.groups()
    return ProductCodeIdentifier(
        kind="product_code",
        value=content,
        product_description_code=pdc,
        collection_type=collection,
        division=division,
        cellular_therapy=pdc.startswith("S"),
    )


def _expiry(number: str, content: str) -> IsbtExpiryIdentifier:
    if not (content.isascii() and content.isdigit()):
        raise _Bad("BAD_DATE", f"ISBT 128 expiry {content!r} must be digits")
    year = 2000 + 100 * int(content[0]) + int(content[1:3])
    day = int(content[3:6])
    hour, minute = (int(content[6:8]), int(content[8:10])) if number == "005" else (23, 59)
    days_in_year = 366 if calendar.isleap(year) else 365
    if not 1 <= day <= days_in_year or hour > 23 or minute > 59:
        raise _Bad("BAD_DATE", f"ISBT 128 expiry {content!r} is not a valid date/time")
    at = datetime(year, 1, 1, hour, minute, tzinfo=UTC) + timedelta(days=day - 1)
    return IsbtExpiryIdentifier(kind="isbt_expiry", value=at.isoformat(), expires_at=at, structure=number)


def _coi(content: str) -> IsbtCoiIdentifier:
    match = _COI.fullmatch(content)
    if match is None:
        raise _Bad("BAD_FORMAT", f"{content!r} is not a valid ISBT 128 chain of identity id")
    facility, year, sequence = match.groups()
    return IsbtCoiIdentifier(
        kind="coi_isbt", value=content[2:], facility=facility, year=year, sequence=sequence
    )
