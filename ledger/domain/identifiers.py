"""Identifiers the ledger issues: COI ids, unit label ids and patient pseudonyms.

Fixed formats (a separate scanner package parses them independently):
``COI-XXXX-XXXX-C`` and ``UNT-XXXX-XXXX-C``; the 8 payload characters come from
:data:`ALPHABET` (no I, no O) and ``C`` is the ISO 7064 mod 37-2 check character computed
over the prefix and the payload without dashes (``"COI" + payload``). The check may be ``*``.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
import secrets
from typing import Any, Protocol

from stdnum.iso7064 import mod_37_2

from ..errors import InvalidEvent

ALPHABET = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"
_PAYLOAD = "[0-9A-HJ-NP-Z]"
_FORMAT = re.compile(rf"^(COI|UNT)-({_PAYLOAD}{{4}})-({_PAYLOAD}{{4}})-([0-9A-Z*])$")
MIN_SITE_SECRET = 16
_PSEUDONYM = re.compile(r"[0-9a-f]{64}")


class RandomSource(Protocol):
    def choice(self, seq: Any) -> Any: ...


def issue_coi(rng: RandomSource | None = None) -> str:
    """A new random COI id; ``rng`` defaults to the ``secrets`` module."""
    return _issue("COI", rng)


def issue_unit_label(rng: RandomSource | None = None) -> str:
    """A new random unit label id; ``rng`` defaults to the ``secrets`` module."""
    return _issue("UNT", rng)


def validate_coi(value: str) -> str:
    """Return the normalised (upper-case) COI id or raise ``InvalidEvent(code="INVALID_COI")``."""
    return _validate("COI", value, "INVALID_COI")


def validate_unit_label(value: str) -> str:
    """Return the normalised label id or raise ``InvalidEvent(code="INVALID_LABEL")``."""
    return _validate("UNT", value, "INVALID_LABEL")


def patient_pseudonym(site_secret: bytes, mrn: str) -> str:
    """``patient_ref``: hex HMAC-SHA256(site secret, MRN). The MRN itself is never stored.

    The MRN is only stripped of surrounding whitespace, so the wristband scan and the
    enrolment form give the same pseudonym for the same MRN.
    """
    if not isinstance(site_secret, bytes) or len(site_secret) < MIN_SITE_SECRET:
        raise ValueError(f"the site secret must be at least {MIN_SITE_SECRET} bytes")
    key = mrn.strip() if isinstance(mrn, str) else ""
    if not key:
        raise InvalidEvent("a medical record number is required", code="INVALID_DATA")
    return hmac.new(site_secret, key.encode("utf-8"), hashlib.sha256).hexdigest()


def purpose_key(master: bytes, purpose: str) -> bytes:
    """A sub-key of the master site secret for one use (``purpose``): HMAC-SHA256(master,
    "purpose:<purpose>"). Per-site pseudonym keys use "site:<site>", so the two never collide."""
    return hmac.new(master, f"purpose:{purpose}".encode(), hashlib.sha256).digest()


def scan_digest(key: bytes, raw: str) -> str:
    """A keyed digest of a scan's text: equal scans can be matched, the text cannot be recovered."""
    return hmac.new(key, raw.encode("utf-8"), hashlib.sha256).hexdigest()


def is_pseudonym(value: object) -> bool:
    """True for a well-formed ``patient_ref``; anything else may be a raw MRN: never record it."""
    return isinstance(value, str) and _PSEUDONYM.fullmatch(value) is not None


def _issue(prefix: str, rng: RandomSource | None) -> str:
    if rng is not None:
        payload = "".join(rng.choice(ALPHABET) for _ in range(8))
    else:  # one draw from the OS (not one per character): uniform over the 34**8 payloads alike
        number = secrets.randbelow(len(ALPHABET) ** 8)
        digits = []
        for _ in range(8):
            number, digit = divmod(number, len(ALPHABET))
            digits.append(ALPHABET[digit])
        payload = "".join(digits)
    check = mod_37_2.calc_check_digit(prefix + payload)
    return f"{prefix}-{payload[:4]}-{payload[4:]}-{check}"


_WHAT = {"COI": "COI id", "UNT": "unit label id"}


def _validate(prefix: str, value: str, code: str) -> str:
    if not isinstance(value, str) or len(value) > 64:
        raise InvalidEvent(f"not a {_WHAT[prefix]}", code=code)
    return _validated(prefix, value, code)


@functools.lru_cache(maxsize=4096)  # one event checks its COI several times (command, decision, fold)
def _validated(prefix: str, value: str, code: str) -> str:
    what = _WHAT[prefix]
    text = value.strip().upper()
    match = _FORMAT.match(text)
    if match is None or match.group(1) != prefix:
        raise InvalidEvent(f"{value!r} is not a {what} ({prefix}-XXXX-XXXX-C)", code=code)
    _, first, second, check = match.groups()
    if mod_37_2.calc_check_digit(prefix + first + second) != check:
        raise InvalidEvent(f"{value!r}: wrong check character", code=code)
    return text


def _as_value_error(validator: Any) -> Any:
    def check(value: str) -> str:
        try:
            return validator(value)
        except InvalidEvent as exc:
            raise ValueError(exc.detail) from None

    return check


coi_field = _as_value_error(validate_coi)
label_field = _as_value_error(validate_unit_label)


# Other identifiers a label may carry, checked so that each one accepted can be printed on
# the label and resolved by a scan of its barcode (stored in the form the scanner yields).
_DIN = re.compile(r"=?([A-NP-Z1-9][A-NP-Z0-9]{2}[0-9]{2}[0-9]{8})([0-9A-Z*]|[0-9A-HJ-NPR-Y]{2})?")
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:[\x21-\x7e]+")
_EPC_ID = re.compile(r"urn:epc:id:([a-z0-9]+):([A-Za-z0-9.%_*!'()+,;=-]+)")
_EPC_FIELDS = {"sgtin": 3, "sscc": 2, "sgln": 3, "grai": 3, "giai": 2, "gsrn": 2, "gsrnp": 2, "gdti": 3, "gid": 3}
_HRI = re.compile(r"(\((\d{2,4})\)([\x21-\x27\x2a-\x7e]+))")
_GS1_KEYS = {"gtin": (8, 12, 13, 14), "sscc": (18,), "gln": (13,)}
_LOT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/+-]{0,127}")
LABEL_IDENTIFIER_KINDS = ("din", "isbt_din", "gtin", "sscc", "gln", "epc", "gs1", "source_coi", "lot")
MAX_GS1_TEXT = 120
_MOD37_2 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ*"


def validate_label_identifiers(identifiers: Any) -> dict[str, str]:
    """The label's other identifiers, normalised, or ``InvalidEvent(code="INVALID_IDENTIFIER")``.

    ``din``/``isbt_din``: the 13-character ISBT 128 DIN (``=`` data identifier, keyboard check
    character or flag characters are checked and dropped); ``gtin`` (as GTIN-14), ``sscc``,
    ``gln``: digits with a valid GS1 check digit; ``epc``: a URI (an ``urn:epc:id:`` one well
    formed); ``gs1``: a GS1 element string in ``(AI)value`` form; ``source_coi``: a COI id;
    ``lot``: the manufacturing lot the unit was filled from (printed, not a scan key).
    """
    out: dict[str, str] = {}
    for kind, value in dict(identifiers or {}).items():
        if kind not in LABEL_IDENTIFIER_KINDS:
            raise InvalidEvent(f"identifier kind {kind!r} is not one a label can carry "
                               f"({', '.join(LABEL_IDENTIFIER_KINDS)})", code="INVALID_IDENTIFIER")
        if not isinstance(value, str) or not value.strip() or len(value) > 128:
            raise InvalidEvent(f"identifiers.{kind} must be a non-empty text", code="INVALID_IDENTIFIER")
        out[kind] = _LABEL_CHECKS[kind](value.strip())
    return out


def _bad(kind: str, value: str, why: str) -> InvalidEvent:
    return InvalidEvent(f"identifiers.{kind} {value!r}: {why}", code="INVALID_IDENTIFIER")


def _din(value: str, kind: str = "din") -> str:
    match = _DIN.fullmatch(value.upper())
    if match is None:
        raise _bad(kind, value, "not an ISBT 128 DIN (13 characters: facility, year, sequence)")
    din, tail = match.groups()
    if tail and len(tail) == 1 and mod_37_2.calc_check_digit(din) != tail:
        raise _bad(kind, value, f"wrong check character (expected {mod_37_2.calc_check_digit(din)})")
    if tail and len(tail) == 2 and not value.startswith("="):
        raise _bad(kind, value, "flag characters belong to the =DIN data structure")
    if tail and len(tail) == 2 and tail.isdigit() and 60 <= int(tail) <= 96 and (
            int(tail) - 60 != _MOD37_2.index(mod_37_2.calc_check_digit(din))):
        raise _bad(kind, value, "type 3 check flags do not match")
    return din


def _gs1_key(kind: str, value: str) -> str:
    digits = value.removeprefix({"gtin": "(01)", "sscc": "(00)", "gln": "(414)"}[kind])
    if not digits.isascii() or not digits.isdigit() or len(digits) not in _GS1_KEYS[kind]:
        raise _bad(kind, value, f"not a {kind.upper()} ({' or '.join(map(str, _GS1_KEYS[kind]))} digits)")
    if not _gs1_check_ok(digits):
        raise _bad(kind, value, "wrong GS1 check digit")
    return digits.zfill(14) if kind == "gtin" else digits


def _gs1_check_ok(digits: str) -> bool:
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(reversed(digits)))
    return total % 10 == 0


def _epc(value: str) -> str:
    if _URI.fullmatch(value) is None:
        raise _bad("epc", value, "not a URI")
    if value.lower().startswith("urn:epc:id:"):
        match = _EPC_ID.fullmatch(value)
        if match is None or len(match[2].split(".")) != _EPC_FIELDS.get(match[1], len(match[2].split("."))) \
                or "" in match[2].split("."):
            raise _bad("epc", value, "not an EPC pure identity URI (urn:epc:id:<scheme>:<fields>)")
    return value


def _gs1(value: str) -> str:
    if len(value) > MAX_GS1_TEXT or "".join(m[0] for m in _HRI.findall(value)) != value:
        raise _bad("gs1", value, f"not a GS1 element string in (AI)value form, at most {MAX_GS1_TEXT} characters")
    for _, ai, data in _HRI.findall(value):
        if ai in ("01", "00"):
            _gs1_key("gtin" if ai == "01" else "sscc", data)
    return value


def _lot(value: str) -> str:
    if _LOT.fullmatch(value) is None:
        raise _bad("lot", value, "not a lot number (letters, digits and ._:/+-, at most 128)")
    return value


def _source_coi(value: str) -> str:
    try:
        return validate_coi(value)
    except InvalidEvent:
        raise _bad("source_coi", value, "not a COI id") from None


_LABEL_CHECKS = {"din": _din, "isbt_din": lambda v: _din(v, "isbt_din"),
                 "gtin": lambda v: _gs1_key("gtin", v), "sscc": lambda v: _gs1_key("sscc", v),
                 "gln": lambda v: _gs1_key("gln", v), "epc": _epc, "gs1": _gs1, "source_coi": _source_coi,
                 "lot": _lot}
