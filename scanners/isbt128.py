"""ISBT 128 data structures (ICCBBA ST-001 v6.2.2 section 2.4, ST-012 SEC, ST-028 CoI).

Every ICCBBA-defined data structure 001-040 is recognised by its data identifier, with its
length and the character set of each element as ST-001 section 2.4 gives them (Table 2
[RT003] for the index). No licensed ICCBBA table is shipped or consulted. Decoded:

* 001 DIN ``=αppppyynnnnnnff``: 13-char DIN + 2 flag characters (ST-001 2.4.1); the flags are
  part of the structure, so ``=`` + a 13-char DIN without them is a truncated scan and is
  refused (``ISBT_TRUNCATED``). The keyboard check character K (ISO/IEC 7064 mod 37-2 over
  the 13 chars, Appendix A) is always computed; type 3 flags (60..96 = checksum + 60, Table 3
  [RT004]) are verified. Manual entry (no ``=``) is the DIN followed by K (K is required for
  keyboard entry of a DIN, ST-001 Table 30 [RT002]); a typed DIN without K is refused.
* 003 product code ``=<αooootds``; 004/005 expiry (``cyyjjj[hhmm]``, year 2000 + 100c + yy,
  day of year); 006-009 collection/production dates, 026 month/year and 031 flexible date are
  validated as dates and passed through; 040 chain of identity ``&/CHαppppyynnnnnn``.
* 032 product divisions: six characters from {A-Z; 0-9} only (ST-001 2.4.32).
* 038 Single European Code ``&,4`` + 40 characters (ST-001 2.4.38, ST-012 section 2.2): country,
  TE code, donation number, coding system, product code, split number, expiry date. In the
  same scan as a DIN, a product code (coding system A) or an expiry, the SEC must agree with
  them (ST-012 3.1/3.2) or the scan is refused (``ISBT_SEC_MISMATCH``).
* 023 compound message ``=+aabbb`` followed by ``aa`` ICCBBA structures (2.4.23: no nationally
  defined structures inside, count verified; ``bbb`` other than ``000`` names a licensed table
  sequence and is reported as NOT_CHECKED).
* 024 / 025 (patient date of birth / patient id) are dropped, masked in the returned text and
  reported as ``PATIENT_DATA``; 019 / 037 / 039 (donor identifiers) likewise as ``DONOR_DATA``:
  the ledger never keeps patient or donor data.
* Other structures pass through as ``isbt_structure`` after their length and characters are
  checked. Nationally defined structures (``&a``-``&z``, ``&;``, ``&!``) have no standard length
  and are refused.

A scan holding any error yields no identifiers (ST-001 2.4.23: data is interpreted only when
the integrity of the data string is confirmed). Errors carry ``position``: the offset in
``text`` of the structure's data identifier, or of the first character outside its set.

Contract: :func:`parse_isbt` returns ``(identifiers, errors, warnings, masked_text)`` and
never raises for any string.
"""

from __future__ import annotations

import calendar
import re
from datetime import UTC, datetime, timedelta

from scanners.checks import mod37_2_check_char, mod37_2_check_value
from scanners.isbt128_structures import Bad, split
from scanners.model import (
    DinIdentifier,
    Identifier,
    IsbtCoiIdentifier,
    IsbtExpiryIdentifier,
    IsbtSecIdentifier,
    IsbtStructure,
    ProductCodeIdentifier,
    ScanError,
)

PATIENT_STRUCTURES = {"024", "025"}
DONOR_STRUCTURES = {"019", "037", "039"}
_DIN = re.compile(r"([A-NP-Z1-9][A-NP-Z0-9]{2}[0-9]{2})([0-9]{2})([0-9]{6})")
_MANUAL_DIN = re.compile(r"([A-NP-Z1-9][A-NP-Z0-9]{2}[0-9]{10})([0-9A-Z*])?")
_SEC = re.compile(r"([A-Z]{2})([A-Z0-9]{6})([A-Za-z0-9]{13})([ABE])([A-Za-z0-9]{7})([A-Za-z0-9]{3})([0-9]{8})")

IsbtParse = tuple[tuple[Identifier, ...], tuple[ScanError, ...], tuple[ScanError, ...], str]


def looks_like_isbt(text: str) -> bool:
    """True for text starting with an ISBT 128 data identifier or a manual-entry DIN."""
    if text[:1] in ("=", "&"):
        return True
    return _MANUAL_DIN.fullmatch(text) is not None and not text.isdigit()


def parse_isbt(text: str) -> IsbtParse:
    """Parse one structure, several concatenated ones, a compound message or a manual DIN."""
    if text[:1] not in ("=", "&"):
        try:
            return (_manual_din(text),), (), (), text
        except Bad as bad:
            return (), (bad.error,), (), text
    try:
        structures = split(text)
    except Bad as bad:
        return (), (bad.error,), (), text
    identifiers: list[Identifier] = []
    errors: list[ScanError] = []
    warnings: list[ScanError] = []
    masked = text
    announced: int | None = None
    for number, content, start in structures:
        try:
            if number == "023":
                announced = _compound_header(content, start, warnings)
            elif number in PATIENT_STRUCTURES or number in DONOR_STRUCTURES:
                masked = masked[:start] + "*" * len(content) + masked[start + len(content) :]
                code, what = ("PATIENT_DATA", "patient") if number in PATIENT_STRUCTURES else ("DONOR_DATA", "donor")
                warnings.append(ScanError(code, f"ISBT 128 structure {number} ({what} data) dropped", start))
            else:
                identifiers.append(_decode(number, content, start))
        except Bad as bad:
            errors.append(bad.error)
    counted = sum(1 for n, _, _ in structures if n != "023")
    if announced is not None and announced != counted:
        errors.append(
            ScanError(
                "ISBT_COMPOUND_COUNT",
                f"compound message announces {announced} structures but holds {counted}",
                0,
            )
        )
    if not errors:
        errors.extend(_sec_consistency(identifiers, structures))
    if errors:
        return (), tuple(errors), tuple(warnings), masked
    return tuple(identifiers), (), tuple(warnings), masked


def _manual_din(text: str) -> DinIdentifier:
    match = _MANUAL_DIN.fullmatch(text)
    if match is None:
        raise Bad("BAD_FORMAT", "not an ISBT 128 data structure or manual-entry DIN", 0)
    din, check = match.groups()
    if check is None:
        raise Bad(
            "BAD_FORMAT",
            f"manual entry of DIN {din} needs its keyboard check character (ST-001 Table 30)",
            len(text),
        )
    return _din(din, None, check, 0)


def _compound_header(content: str, start: int, warnings: list[ScanError]) -> int:
    if start != 2:
        raise Bad("BAD_FORMAT", "ISBT 128 compound message header must lead: =+aabbb", start - 2)
    if content[2:] != "000":
        warnings.append(
            ScanError(
                "NOT_CHECKED",
                f"compound message sequence {content[2:]} is defined by a licensed ICCBBA "
                "table and was not checked",
                start + 2,
            )
        )
    return int(content[:2])


def _decode(number: str, content: str, start: int) -> Identifier:
    if number == "001":
        return _din(content[:13], content[13:], None, start)
    if number == "003":
        return _product(content)
    if number in ("004", "005"):
        return _expiry(number, content, start)
    if number in ("006", "007", "008", "009"):
        _julian(content, start)
    elif number == "026":
        _month_year(content, start)
    elif number == "031":
        _flexible(content, start)
    elif number == "038":
        return _sec(content, start)
    elif number == "039" and int(content[-2:]) > 36:
        raise Bad("BAD_FORMAT", "ISBT 128 structure 039: checksum must be 00 to 36", start + 17)
    elif number == "040":
        return _coi(content, start)
    return IsbtStructure(kind="isbt_structure", value=content, structure=number)


def _din(din: str, flags: str | None, check: str | None, start: int) -> DinIdentifier:
    match = _DIN.fullmatch(din)
    if match is None:
        raise Bad("BAD_FORMAT", f"{din!r} is not a valid ISBT 128 DIN", start)
    expected = mod37_2_check_char(din)
    if check is not None and check != expected:
        raise Bad("CHECK_DIGIT", f"DIN {din}: check character should be {expected}, not {check}", start + 13)
    if flags is not None and flags.isdigit() and 60 <= int(flags) <= 96 and int(flags) - 60 != mod37_2_check_value(din):
        raise Bad("CHECK_DIGIT", f"DIN {din}: type 3 check flags {flags} do not match", start + 13)
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
    pdc, collection, division = content[:5], content[5], content[6:]
    return ProductCodeIdentifier(
        kind="product_code",
        value=content,
        product_description_code=pdc,
        collection_type=collection,
        division=division,
        cellular_therapy=pdc.startswith("S"),
    )


def _julian(content: str, start: int) -> datetime:
    """``cyyjjj[hhmm]`` (ST-001 2.4.4-2.4.9) as an aware UTC datetime; 23:59 without a time."""
    year = 2000 + 100 * int(content[0]) + int(content[1:3])
    day = int(content[3:6])
    hour, minute = (int(content[6:8]), int(content[8:10])) if len(content) == 10 else (23, 59)
    days_in_year = 366 if calendar.isleap(year) else 365
    if not 1 <= day <= days_in_year or hour > 23 or minute > 59:
        raise Bad("BAD_DATE", f"ISBT 128 date {content!r} is not a valid date/time", start)
    return datetime(year, 1, 1, hour, minute, tzinfo=UTC) + timedelta(days=day - 1)


def _month_year(content: str, start: int) -> None:
    if not 1 <= int(content[4:6]) <= 12:
        raise Bad("BAD_DATE", f"ISBT 128 month/year {content!r} has no month {content[4:6]}", start + 4)


def _flexible(content: str, start: int) -> None:
    try:
        datetime.strptime(content[4:], "%Y%m%d%H%M")  # noqa: DTZ007 - validation only
    except ValueError:
        raise Bad("BAD_DATE", f"ISBT 128 flexible date {content[4:]!r} is not a valid date/time", start + 4) from None


def _expiry(number: str, content: str, start: int) -> IsbtExpiryIdentifier:
    at = _julian(content, start)
    return IsbtExpiryIdentifier(kind="isbt_expiry", value=at.isoformat(), expires_at=at, structure=number)


def _sec(content: str, start: int) -> IsbtSecIdentifier:
    """ST-012 2.2: donation identification sequence (21) + product identification sequence (19)."""
    match = _SEC.fullmatch(content)
    if match is None:
        raise Bad("BAD_FORMAT", f"{content!r} is not a Single European Code (ST-012 2.2)", start)
    country, te_code, donation, system, product, split, expiry_text = match.groups()
    expiry = None
    if expiry_text != "00000000":
        try:
            expiry = datetime.strptime(expiry_text, "%Y%m%d").date()  # noqa: DTZ007 - a date
        except ValueError:
            raise Bad("BAD_DATE", f"SEC expiry date {expiry_text!r} is not a valid date", start + 32) from None
    return IsbtSecIdentifier(
        kind="isbt_sec",
        value=content,
        country=country,
        te_code=te_code,
        donation_number=donation,
        coding_system=system,
        product_code=product,
        split_number=split,
        expiry=expiry,
    )


def _sec_consistency(identifiers: list[Identifier], structures: list[tuple[str, str, int]]) -> list[ScanError]:
    """A SEC scanned with a DIN, product code or expiry must name the same (ST-012 3.1, 3.2)."""
    secs = [i for i in identifiers if isinstance(i, IsbtSecIdentifier)]
    if not secs:
        return []
    at = next(start for number, _, start in structures if number == "038")
    sec = secs[0]
    problems: list[tuple[str, int]] = []  # (what, offset of the SEC element)
    for ident in identifiers:
        if isinstance(ident, DinIdentifier) and ident.value != sec.donation_number:
            problems.append((f"donation number {sec.donation_number} is not the DIN {ident.value}", 8))
        elif (
            isinstance(ident, ProductCodeIdentifier)
            and sec.coding_system == "A"
            and sec.product_code != "00" + ident.product_description_code
        ):
            problems.append((f"product code {sec.product_code} is not 00{ident.product_description_code}", 22))
        elif isinstance(ident, IsbtExpiryIdentifier) and sec.expiry != ident.expires_at.date():
            problems.append((f"expiry {sec.expiry} is not {ident.expires_at.date()}", 32))
        elif isinstance(ident, IsbtSecIdentifier) and ident.value != sec.value:
            problems.append(("two different SECs", 0))
    return [ScanError("ISBT_SEC_MISMATCH", "Single European Code: " + what, at + where) for what, where in problems]


def _coi(content: str, start: int) -> IsbtCoiIdentifier:
    if content[:2] != "CH":
        raise Bad("BAD_FORMAT", "ISBT 128 structure 040 must start with the literal CH", start)
    return IsbtCoiIdentifier(kind="coi_isbt", value=content[2:], facility=content[2:7], year=content[7:9],
                             sequence=content[9:])
