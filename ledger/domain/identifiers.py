"""Identifiers the ledger issues: COI ids, unit label ids and patient pseudonyms.

Fixed formats (a separate scanner package parses them independently):
``COI-XXXX-XXXX-C`` and ``UNT-XXXX-XXXX-C``; the 8 payload characters come from
:data:`ALPHABET` (no I, no O) and ``C`` is the ISO 7064 mod 37-2 check character computed
over the prefix and the payload without dashes (``"COI" + payload``). The check may be ``*``.
"""

from __future__ import annotations

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


def is_pseudonym(value: object) -> bool:
    """True for a well-formed ``patient_ref``; anything else may be a raw MRN: never record it."""
    return isinstance(value, str) and _PSEUDONYM.fullmatch(value) is not None


def _issue(prefix: str, rng: RandomSource | None) -> str:
    source = rng if rng is not None else secrets
    payload = "".join(source.choice(ALPHABET) for _ in range(8))
    check = mod_37_2.calc_check_digit(prefix + payload)
    return f"{prefix}-{payload[:4]}-{payload[4:]}-{check}"


def _validate(prefix: str, value: str, code: str) -> str:
    what = "COI id" if prefix == "COI" else "unit label id"
    if not isinstance(value, str) or len(value) > 64:
        raise InvalidEvent(f"not a {what}", code=code)
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
