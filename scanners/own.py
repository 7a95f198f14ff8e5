"""The ledger's own label identifiers and the QR payload printed on unit labels.

Identifier format (issued by the ledger elsewhere; parsed and validated here)::

    COI-XXXX-XXXX-C     chain-of-identity id
    UNT-XXXX-XXXX-C     unit label id

* ``X``: 8 payload characters from ``0123456789ABCDEFGHJKLMNPQRSTUVWXYZ`` (no I, no O).
* ``C``: ISO 7064 mod 37-2 check character (alphabet ``0-9A-Z*``) computed over the prefix
  and the payload without dashes, e.g. over ``"COI" + "ABCD2345"``.
* Input is accepted in any letter case and normalised to upper case.

Accepted scan forms:

* the bare id: ``COI-ABCD-2345-K`` or ``UNT-...``;
* a URI: ``coi:COI-ABCD-2345-K`` or ``unit:UNT-...``;
* the unit-label QR payload **LDG1**, defined exactly as::

      LDG1|unit=<unit label id>|coi=<COI id>

  ASCII; three fields separated by ``|`` (U+007C) in exactly this order; ``LDG1`` names the
  format and its version; keys are printed in lower case; no spaces, no other fields and
  never patient data. Parsing accepts any letter case and normalises the ids. The payload
  is 45 characters long. An incompatible future format will be tagged ``LDG2``.
"""

from __future__ import annotations

import re

from scanners.checks import is_valid_mod37_2, mod37_2_check_char
from scanners.model import LedgerLabelIdentifier, ScanError

PAYLOAD_ALPHABET = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"
PREFIX_KIND = {"COI": "coi", "UNT": "unit_label"}
LDG1_TAG = "LDG1"

_ID_SHAPE = re.compile(r"(COI|UNT)-([0-9A-Z]{4})-([0-9A-Z]{4})-([0-9A-Z*])")
_URI_PREFIX = {"COI:": "COI", "UNIT:": "UNT"}

OwnParse = tuple[str, tuple[LedgerLabelIdentifier, ...], tuple[ScanError, ...]]


def format_ledger_id(prefix: str, payload: str) -> str:
    """Build a valid id (``COI-XXXX-XXXX-C``) from ``prefix`` ("COI"/"UNT") and 8 payload chars.

    Raises ValueError on an unknown prefix or a payload outside :data:`PAYLOAD_ALPHABET`.
    """
    prefix, payload = prefix.upper(), payload.upper()
    if prefix not in PREFIX_KIND:
        raise ValueError(f"unknown ledger id prefix {prefix!r}")
    if len(payload) != 8 or any(c not in PAYLOAD_ALPHABET for c in payload):
        raise ValueError("payload must be 8 characters from " + PAYLOAD_ALPHABET)
    check = mod37_2_check_char(prefix + payload)
    return f"{prefix}-{payload[:4]}-{payload[4:]}-{check}"


def ldg1_payload(unit_label_id: str, coi_id: str) -> str:
    """The LDG1 QR payload for a unit label. Raises ValueError if either id is invalid."""
    unit, unit_errors = parse_ledger_id(unit_label_id, expected_prefix="UNT")
    coi, coi_errors = parse_ledger_id(coi_id, expected_prefix="COI")
    if unit is None or coi is None:
        raise ValueError("; ".join(e.message for e in unit_errors + coi_errors))
    return f"{LDG1_TAG}|unit={unit.value}|coi={coi.value}"


def parse_ledger_id(
    text: str, *, expected_prefix: str | None = None
) -> tuple[LedgerLabelIdentifier | None, tuple[ScanError, ...]]:
    """Validate one bare id; return the identifier or None with the reasons."""
    normalised = text.strip().upper()
    match = _ID_SHAPE.fullmatch(normalised)
    if match is None:
        return None, (_err("BAD_FORMAT", f"{_short(text)} is not shaped like COI-XXXX-XXXX-C"),)
    prefix, first, second, check = match.groups()
    if expected_prefix is not None and prefix != expected_prefix:
        return None, (_err("BAD_FORMAT", f"expected a {expected_prefix} id, got {prefix}"),)
    payload = first + second
    bad = sorted({c for c in payload if c not in PAYLOAD_ALPHABET})
    if bad:
        return None, (_err("BAD_FORMAT", f"characters {''.join(bad)} are not used in ledger ids"),)
    if not is_valid_mod37_2(prefix + payload, check):
        expected = mod37_2_check_char(prefix + payload)
        return None, (
            _err("CHECK_DIGIT", f"{normalised}: check character should be {expected}, not {check}"),
        )
    identifier = LedgerLabelIdentifier(
        kind=PREFIX_KIND[prefix], value=normalised, payload=payload, check_char=check
    )
    return identifier, ()


def looks_like_own(text: str) -> bool:
    """True if ``text`` claims to be one of our forms (so its errors are ours to report)."""
    return text[:5].upper().startswith(("COI-", "UNT-", "COI:", "UNIT:", "LDG"))


def parse_own(text: str) -> OwnParse:
    """Parse any of the accepted forms; return ``(scheme, identifiers, errors)``."""
    upper = text.upper()
    if upper.startswith("LDG"):
        return _parse_ldg1(text)
    for uri_prefix, id_prefix in _URI_PREFIX.items():
        if upper.startswith(uri_prefix):
            ident, errors = parse_ledger_id(text[len(uri_prefix) :], expected_prefix=id_prefix)
            return PREFIX_KIND[id_prefix], _one(ident), errors
    scheme = PREFIX_KIND.get(upper[:3], "unrecognised")
    ident, errors = parse_ledger_id(text)
    return scheme, _one(ident), errors


def _parse_ldg1(text: str) -> OwnParse:
    parts = text.split("|")
    if parts[0].upper() != LDG1_TAG:
        return (
            "unit_label",
            (),
            (_err("BAD_FORMAT", f"unsupported label payload {_short(parts[0])}"),),
        )
    if len(parts) != 3:
        return (
            "unit_label",
            (),
            (_err("BAD_FORMAT", "LDG1 payload must be LDG1|unit=<unit id>|coi=<COI id>"),),
        )
    identifiers: list[LedgerLabelIdentifier] = []
    errors: list[ScanError] = []
    for part, key, prefix in ((parts[1], "unit", "UNT"), (parts[2], "coi", "COI")):
        name, sep, value = part.partition("=")
        if not sep or name.lower() != key:
            errors.append(_err("BAD_FORMAT", f"LDG1 field {_short(part)} should be {key}=<id>"))
            continue
        ident, id_errors = parse_ledger_id(value, expected_prefix=prefix)
        errors.extend(id_errors)
        identifiers.extend(_one(ident))
    return "unit_label", tuple(identifiers), tuple(errors)


def _one(ident: LedgerLabelIdentifier | None) -> tuple[LedgerLabelIdentifier, ...]:
    return () if ident is None else (ident,)


def _short(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")


def _err(code: str, message: str) -> ScanError:
    return ScanError(code=code, message=message)
