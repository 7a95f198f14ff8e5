"""RFID EPC (GS1 EPC Tag Data Standard) decoding with ``epcpy``.

Accepted input:

* the EPC memory bank as hex (e.g. 24 hex characters for the 96-bit schemes);
* an EPC tag URI ``urn:epc:tag:sgtin-96:3.0614141.812345.6789``;
* a pure identity URI ``urn:epc:id:sgtin:0614141.812345.6789``.

Supported schemes: SGTIN, SSCC, SGLN, GRAI, GIAI, GSRN, GSRNP, GDTI (all binary sizes epcpy
implements) and GID-96. The result is one :class:`EpcIdentifier` (pure identity URI + tag
URI + hex + filter when known + GS1 element string and key) and, for GS1-keyed schemes, the
GS1 identifiers of that element string (so a tag and a barcode on the same bag match).

Encodability (TDS 2.x, e.g. 14.5.1 / 14.3.3 "Integer" partitions): a tag URI is accepted only
when URI -> hex -> URI is exact, and hex only when hex -> URI -> hex is exact. epcpy 0.1.8 is
lenient here: it drops the leading zeros of an integer serial (``sgtin-96`` serial ``06789``
becomes ``6789``, another tag) and encodes a serial of 2^38 or more into more than 96 bits
(whose decoding is yet another serial); it also ignores bits after the EPC in a longer hex
string. Those inputs are refused with ``EPC_NOT_ENCODABLE`` at the first component that does
not survive the round trip. TDS 2.x ``+`` schemes (SGTIN+ header F7, DSGTIN+ header FB, which
carries a date) are not implemented by epcpy and are refused with ``EPC_UNSUPPORTED``.

Contract: :func:`parse_epc` raises :class:`EpcRefused` (with ``code`` and ``position``),
``epcpy.ConvertException`` or ValueError for text that is not a supported EPC; the caller
turns those into ``ScanError`` values.
"""

from __future__ import annotations

import re
from enum import Enum

import epcpy
from epcpy.epc_schemes.base_scheme import GS1Element, GS1Keyed, TagEncodable
from epcpy.epc_schemes.gdti import GDTIFilterValue
from epcpy.epc_schemes.giai import GIAIFilterValue
from epcpy.epc_schemes.grai import GRAIFilterValue
from epcpy.epc_schemes.gsrn import GSRNFilterValue
from epcpy.epc_schemes.gsrnp import GSRNPFilterValue
from epcpy.epc_schemes.sgln import SGLNFilterValue
from epcpy.epc_schemes.sgtin import SGTINFilterValue
from epcpy.epc_schemes.sscc import SSCCFilterValue
from epcpy.utils.common import hex_to_binary

from scanners import gs1
from scanners.model import EpcIdentifier, Identifier, ScanError

# scheme name -> filter value enum (None: the scheme has no filter, e.g. GID)
FILTERS: dict[str, type[Enum] | None] = {
    "sgtin": SGTINFilterValue,
    "sscc": SSCCFilterValue,
    "sgln": SGLNFilterValue,
    "grai": GRAIFilterValue,
    "giai": GIAIFilterValue,
    "gsrn": GSRNFilterValue,
    "gsrnp": GSRNPFilterValue,
    "gdti": GDTIFilterValue,
    "gid": None,
}
_HEX = re.compile(r"[0-9A-Fa-f]{24,128}")

EpcParse = tuple[tuple[Identifier, ...], tuple[ScanError, ...]]
# TDS 2.x schemes with a "+" (AIDC data toggle) that epcpy does not implement: header -> name
PLUS_HEADERS = {"F7": "SGTIN+", "FB": "DSGTIN+"}


class EpcRefused(ValueError):
    """An EPC the ledger will not read: ``code`` (an ERROR_CODES key) and ``position`` in the text."""

    def __init__(self, code: str, message: str, position: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.position = position


def looks_like_epc_uri(text: str) -> bool:
    """True if ``text`` starts like an EPC URI (any letter case)."""
    return text[:8].lower() == "urn:epc:"


def looks_like_epc_hex(text: str) -> bool:
    """True if ``text`` is hex of a plausible length with a supported EPC header."""
    if _HEX.fullmatch(text) is None or len(text) % 2:
        return False
    if text[:2].upper() in PLUS_HEADERS:
        return True  # refused by parse_epc with EPC_UNSUPPORTED, not left unrecognised
    try:
        return _scheme_name(type(epcpy.hex_to_tag_encodable(text))) in FILTERS
    except Exception:  # noqa: BLE001 - any decoding failure means "not an EPC"
        return False


def parse_epc(text: str) -> EpcParse:
    """Decode hex, a tag URI or a pure identity URI into identifiers."""
    if looks_like_epc_uri(text):
        head, rest = text[:11].lower(), text[11:]
        scheme_name = rest[1:].split(":", 1)[0]
        if scheme_name.endswith("+") or "+" in scheme_name:
            raise EpcRefused(
                "EPC_UNSUPPORTED",
                f"EPC scheme {scheme_name.upper()} (TDS 2.x) is not supported by the EPC library (epcpy)",
                12,
            )
        if head == "urn:epc:tag":
            return _from_tag_uri(head + rest)
        if head == "urn:epc:id:":
            scheme = epcpy.epc_pure_identity_to_scheme(head + rest)
            _require_supported(scheme)
            return _identifiers(scheme, None, None, None)
        raise ValueError(f"unsupported EPC URI type {text[:16]!r}")
    if text[:2].upper() in PLUS_HEADERS:
        name = PLUS_HEADERS[text[:2].upper()]
        message = f"EPC scheme {name} (TDS 2.x) is not supported by the EPC library (epcpy)"
        raise EpcRefused("EPC_UNSUPPORTED", message, 0)
    scheme = epcpy.hex_to_tag_encodable(text)
    _require_supported(scheme)
    header = hex_to_binary(text)[:8]
    coding = type(scheme).header_to_schemes()[header]
    filter_value = int(hex_to_binary(text)[8:11], 2) if FILTERS[_scheme_name(type(scheme))] else None
    tag_uri = _tag_uri(scheme, coding, filter_value)
    again = epcpy.tag_uri_to_tag_encodable(tag_uri).hex(**_encoding_args(scheme, coding, filter_value))
    _require_exact(text.upper(), again.upper(), "hex", "does not re-encode to itself (bits beyond the EPC?)")
    return _identifiers(scheme, tag_uri, text.upper(), filter_value)


def tag_uri_to_hex(tag_uri: str) -> str:
    """Encode an EPC tag URI as hex (e.g. ``urn:epc:tag:sgtin-96:3...`` -> 24 hex chars)."""
    scheme = epcpy.tag_uri_to_tag_encodable(tag_uri)
    _require_supported(scheme)
    coding, filter_value = _coding_and_filter(scheme, tag_uri)
    hex_value = scheme.hex(**_encoding_args(scheme, coding, filter_value))
    _require_round_trip(tag_uri, hex_value)
    return hex_value


def _from_tag_uri(tag_uri: str) -> EpcParse:
    scheme = epcpy.tag_uri_to_tag_encodable(tag_uri)
    _require_supported(scheme)
    coding, filter_value = _coding_and_filter(scheme, tag_uri)
    hex_value = scheme.hex(**_encoding_args(scheme, coding, filter_value))
    _require_round_trip(tag_uri, hex_value)
    return _identifiers(scheme, tag_uri, hex_value, filter_value)


def _require_round_trip(tag_uri: str, hex_value: str) -> None:
    """URI -> hex -> URI must give the URI back, or the hex names another tag."""
    try:
        scheme = epcpy.hex_to_tag_encodable(hex_value)
        coding = type(scheme).header_to_schemes()[hex_to_binary(hex_value)[:8]]
        filter_value = int(hex_to_binary(hex_value)[8:11], 2) if FILTERS[_scheme_name(type(scheme))] else None
        back = _tag_uri(scheme, coding, filter_value)
    except Exception:  # noqa: BLE001 - the encoding epcpy produced does not even decode
        back = ""
    _require_exact(tag_uri, back, "tag URI", "cannot be encoded in its scheme (TDS 2.x: e.g. a serial with "
                   "leading zeros or of 2^38 or more in SGTIN-96)")


def _require_exact(given: str, again: str, what: str, why: str) -> None:
    if given == again:
        return
    differ = (i for i, (a, b) in enumerate(zip(given, again, strict=False)) if a != b)
    position = next(differ, min(len(given), len(again)))
    component = max(given.rfind(".", 0, position + 1), given.rfind(":", 0, position + 1)) + 1
    start = component if what == "tag URI" else position
    raise EpcRefused("EPC_NOT_ENCODABLE", f"EPC {what} {why}: it would be read back as {again or 'nothing'}", start)


def _coding_and_filter(scheme: TagEncodable, tag_uri: str) -> tuple[Enum, int | None]:
    """The binary coding scheme and filter value named in a tag URI."""
    coding = type(scheme).BinaryCodingScheme(tag_uri.split(":")[3])
    if FILTERS[_scheme_name(type(scheme))] is None:
        return coding, None
    return coding, int(tag_uri.split(":")[4].split(".")[0])


def _identifiers(
    scheme: epcpy.epc_schemes.base_scheme.EPCScheme,
    tag_uri: str | None,
    hex_value: str | None,
    filter_value: int | None,
) -> EpcParse:
    element_string = scheme.gs1_element_string() if isinstance(scheme, GS1Element) else None
    key = scheme.gs1_key() if isinstance(scheme, GS1Keyed) else None
    epc = EpcIdentifier(
        kind="epc_uri",
        value=scheme.epc_uri,
        epc_scheme=_scheme_name(type(scheme)),
        tag_uri=tag_uri,
        hex=hex_value,
        filter_value=filter_value,
        gs1_element_string=element_string,
        gs1_key=key,
    )
    if element_string is None:
        return (epc,), ()
    keys, errors = gs1.parse_hri(element_string)
    return (epc, *keys), errors


def _tag_uri(scheme: TagEncodable, coding: Enum, filter_value: int | None) -> str:
    return scheme.tag_uri(**_encoding_args(scheme, coding, filter_value))


def _encoding_args(scheme: TagEncodable, coding: Enum, filter_value: int | None) -> dict:
    filter_enum = FILTERS[_scheme_name(type(scheme))]
    if filter_enum is None:
        return {"binary_coding_scheme": coding}
    return {"binary_coding_scheme": coding, "filter_value": filter_enum(str(filter_value))}


def _scheme_name(cls: type) -> str:
    return cls.__name__.lower()


def _require_supported(scheme: object) -> None:
    if _scheme_name(type(scheme)) not in FILTERS:
        raise ValueError(f"EPC scheme {_scheme_name(type(scheme))} is not supported here")
