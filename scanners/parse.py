"""``parse_scan``: what a keyboard-wedge scanner typed -> a :class:`ScanResult`.

Contract:

* Never raises for any ``raw`` value (hostile, binary, huge, empty, not even a str).
  The only exception is ValueError for an invalid ``gs_substitute`` argument, which is a
  programming error, not scanned input.
* Input longer than :data:`MAX_LENGTH` characters is refused (``TOO_LONG``) unread.
* An optional ISO/IEC 15424 symbology identifier is split off into ``symbology``. GS1 mode
  (``]C1`` GS1-128, ``]e0`` GS1 DataBar/composite, ``]d2`` GS1 DataMatrix, ``]Q3`` GS1 QR,
  ``]J1`` GS1 DotCode) carries element strings only; ``]E0`` (EAN-13/UPC-A/UPC-E), ``]E4``
  (EAN-8) and ``]I1`` (ITF-14) carry a GTIN with its check digit; plain mode (``]C0``, ``]d1``,
  ``]Q1``, ``]J0``) carries a Digital Link URI or a non-GS1 format, never element strings.
  Any other identifier is refused (``UNSUPPORTED_SYMBOLOGY``). Sources: GS1 General
  Specifications 5.1.2 (symbology identifiers), GS1 Syntax Engine ``scandata.c``.
* ``ScanError.position`` is an offset into ``raw`` as given (parsers report offsets into the
  text after the symbology identifier; ``_parse`` adds the stripped prefix).
* ``scheme`` is the family that produced at least one identifier; when nothing was
  identified it is ``"unrecognised"`` and ``errors`` says why (each with a ``code`` and, where
  one place is at fault, a ``position``: the 0-based offset into ``raw``, whitespace and
  symbology identifier included).
* ``expired`` is True when an expiry (GS1 AI 17/7003, ISBT 128 004/005) lies before
  ``today`` (default: today in UTC), or before ``now`` when given and the expiry has a time.
* Routing: own labels (``COI-``, ``UNT-``, ``coi:``, ``unit:``, ``LDG1|``), EPC URIs
  (``urn:epc:``), GS1 Digital Link (``http(s)://``), ISBT 128 (``=``/``&`` data identifiers,
  manual-entry DIN), GS1 HRI (``(01)...``), then digit strings: EPC hex when it holds a hex
  letter, else a bare GTIN/SSCC with a valid check digit, else a GS1 element string, else EPC hex.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import UTC, date, datetime

from scanners import epc, gs1, gs1_dl, isbt128, own
from scanners.model import (
    Gs1Identifier,
    Identifier,
    IsbtExpiryIdentifier,
    ScanError,
    ScanResult,
)

MAX_LENGTH = 4096
# Data Matrix rectangular extension symbols (DMRE, ISO/IEC 21471) report their modifier plus 6:
# ]d7 plain, ]d8 GS1 (zxing-cpp DMDecoder: ``modifier += isDMRE * 6``)
GS1_SYMBOLOGIES = frozenset({"]C1", "]e0", "]d2", "]d8", "]Q3", "]J1"})  # GS1 mode: element strings
GTIN_SYMBOLOGIES = frozenset({"]E0", "]E4", "]I1"})  # EAN-13/UPC-A/UPC-E, EAN-8, ITF-14
PLAIN_SYMBOLOGIES = frozenset({"]C0", "]d1", "]d7", "]Q1", "]J0"})  # Code 128, DataMatrix, QR, DotCode
_SYMBOLOGY = re.compile(r"\][A-Za-z][0-9A-Za-z]")
_HEX_LETTER = re.compile(r"[A-Fa-f]")

Family = tuple[str, tuple[Identifier, ...], tuple[ScanError, ...], tuple[ScanError, ...], str]


def parse_scan(
    raw: str,
    *,
    gs_substitute: str | None = None,
    today: date | None = None,
    now: datetime | None = None,
) -> ScanResult:
    """Parse one scan. See the module docstring for the contract."""
    if gs_substitute is not None and (
        not isinstance(gs_substitute, str) or len(gs_substitute) != 1 or gs_substitute.isalnum()
    ):
        raise ValueError("gs_substitute must be one non-alphanumeric character")
    if not isinstance(raw, str):
        return _refused("", None, "NOT_TEXT", f"expected text, got {type(raw).__name__}")
    if len(raw) > MAX_LENGTH:
        return _refused(
            raw[:MAX_LENGTH],
            None,
            "TOO_LONG",
            f"input too long: {len(raw)} characters (maximum {MAX_LENGTH})",
        )
    try:
        return _parse(raw, gs_substitute, today, now)
    except Exception as exc:  # noqa: BLE001 - last line of defence: never raise on input
        return _refused(raw, None, "INTERNAL", f"could not decode ({type(exc).__name__})")


def _parse(raw: str, gs_substitute: str | None, today: date | None, now: datetime | None) -> ScanResult:
    text = raw.strip(" \t\r\n")
    if not text:
        return _refused(raw, None, "EMPTY", "nothing was scanned")
    symbology = None
    lead = len(raw) - len(raw.lstrip(" \t\r\n"))
    if text.startswith("]"):
        if _SYMBOLOGY.match(text) is None:
            return _refused(raw, None, "BAD_SYMBOLOGY", f"malformed symbology identifier {text[:3]!r}", lead)
        symbology, text = text[:3], text[3:]
        if symbology not in GS1_SYMBOLOGIES | GTIN_SYMBOLOGIES | PLAIN_SYMBOLOGIES:
            return _refused(raw, symbology, "UNSUPPORTED_SYMBOLOGY",
                            f"symbology identifier {symbology!r} is not one this ledger reads", lead)
    if not text:
        return _refused(raw, symbology, "EMPTY", "only a symbology identifier was scanned")
    if not text.isascii():
        return _refused(raw, symbology, "UNRECOGNISED", "non-ASCII characters: no supported format has them")
    bad = sorted({f"0x{ord(c):02X}" for c in text if (ord(c) < 32 or ord(c) == 127) and c != gs1.GS})
    if bad:
        return _refused(raw, symbology, "CONTROL_CHAR", f"control characters {', '.join(bad)}")
    separators = (gs1.GS,) if gs_substitute is None else (gs1.GS, gs_substitute)
    scheme, identifiers, errors, warnings, masked = _route(text, symbology, separators)
    # the family parsers give positions in ``text``; a ScanError's position is into ``raw``
    shift = lead + len(symbology or "")
    errors, warnings = _into_raw(errors, shift), _into_raw(warnings, shift)
    if not identifiers:
        scheme = "unrecognised"
        if not errors:
            errors = (ScanError("UNRECOGNISED", "the scan matches no supported format"),)
    reference_day = today or (now.date() if now else datetime.now(UTC).date())
    expired, expiry_warnings = _expiry(identifiers, reference_day, now)
    if masked != text:
        raw = (symbology or "") + masked
    return ScanResult(
        raw=raw,
        symbology=symbology,
        scheme=scheme,
        identifiers=identifiers,
        errors=errors,
        warnings=warnings + expiry_warnings,
        expired=expired,
    )


def _route(text: str, symbology: str | None, separators: tuple[str, ...]) -> Family:
    if symbology in GS1_SYMBOLOGIES:
        return _guarded("gs1", lambda t: gs1.parse_element_string(t, separators=separators), text)
    if symbology in GTIN_SYMBOLOGIES:
        return _guarded("gs1", lambda t: gs1.parse_gtin_carrier(t, symbology, separators=separators), text)
    if own.looks_like_own(text):
        scheme, identifiers, errors = own.parse_own(text)
        return scheme, identifiers, errors, (), text
    if epc.looks_like_epc_uri(text):
        return _guarded("epc", epc.parse_epc, text)
    if text.lower().startswith(("http://", "https://")):
        return _guarded("gs1_digital_link", gs1_dl.parse_digital_link, text)
    if isbt128.looks_like_isbt(text):
        identifiers, errors, warnings, masked = isbt128.parse_isbt(text)
        return "isbt128", identifiers, errors, warnings, masked
    if symbology in PLAIN_SYMBOLOGIES and (text.startswith("(") or text[0].isdigit() or text[0] == gs1.GS):
        message = f"{symbology} is a plain (non-GS1) mode: it carries no GS1 element string or key"
        return "unrecognised", (), (ScanError("UNSUPPORTED_SYMBOLOGY", message, -len(symbology)),), (), text
    if text.startswith("("):
        return _guarded("gs1", gs1.parse_hri, text)
    if text[0].isdigit() or text[0] == gs1.GS:
        return _digits(text, separators)
    if epc.looks_like_epc_hex(text):  # headers from A0 up (e.g. TDS 2.x F7, FB)
        return _guarded("epc", epc.parse_epc, text)
    return (
        "unrecognised",
        (),
        (ScanError("UNRECOGNISED", "the scan matches no supported format"),),
        (),
        text,
    )


def _digits(text: str, separators: tuple[str, ...]) -> Family:
    if _HEX_LETTER.search(text) and epc.looks_like_epc_hex(text):
        return _guarded("epc", epc.parse_epc, text)
    bare = gs1.parse_bare_key(text)
    if bare is not None:
        return "gs1", bare[0], bare[1], (), text
    result = _guarded("gs1", lambda t: gs1.parse_element_string(t, separators=separators), text)
    if not result[1] and epc.looks_like_epc_hex(text):
        return _guarded("epc", epc.parse_epc, text)
    return result


def _guarded(scheme: str, parser: Callable[[str], tuple], text: str) -> Family:
    """Run a library-backed parser; turn its exceptions into one error."""
    try:
        identifiers, errors = parser(text)
    except Exception as exc:  # noqa: BLE001 - biip/epcpy raise several types
        message = str(exc) or type(exc).__name__
        code = getattr(exc, "code", None) or _classify(message)
        error = ScanError(code, message[:300], getattr(exc, "position", None))
        return scheme, (), (error,), (), text
    return scheme, identifiers, errors, (), text


def _classify(message: str) -> str:
    lowered = message.lower()
    if "check digit" in lowered:
        return "CHECK_DIGIT"
    if "date" in lowered:
        return "BAD_DATE"
    return "BAD_FORMAT"


def _expiry(
    identifiers: Iterable[Identifier], today: date, now: datetime | None
) -> tuple[bool, tuple[ScanError, ...]]:
    if now is not None and now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    expired_at: list[str] = []
    for ident in identifiers:
        if isinstance(ident, IsbtExpiryIdentifier):
            past = ident.expires_at <= now if now else ident.expires_at.date() < today
        elif isinstance(ident, Gs1Identifier) and ident.kind == "expiry" and ident.date:
            if now is not None and ident.datetime is not None:
                past = ident.datetime.replace(tzinfo=UTC) <= now
            else:
                past = ident.date < today
        else:
            continue
        if past:
            expired_at.append(ident.value)
    if not expired_at:
        return False, ()
    return True, (ScanError("EXPIRED", f"expired: {', '.join(expired_at)}"),)


def _into_raw(problems: tuple[ScanError, ...], offset: int) -> tuple[ScanError, ...]:
    """Shift the positions of ``problems`` from the parsed text into the raw scan."""
    if not offset:
        return problems
    return tuple(p if p.position is None else replace(p, position=p.position + offset) for p in problems)


def _refused(raw: str, symbology: str | None, code: str, message: str, position: int | None = None) -> ScanResult:
    return ScanResult(
        raw=raw,
        symbology=symbology,
        scheme="unrecognised",
        errors=(ScanError(code=code, message=message, position=position),),
    )
