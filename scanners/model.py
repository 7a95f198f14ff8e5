"""Value types returned by :func:`scanners.parse.parse_scan`.

Contract:

* Every type here is a frozen dataclass: a scan result can be logged, compared and hashed
  but never changed after parsing.
* An :class:`Identifier` always has a ``kind`` (one of :data:`IDENTIFIER_KINDS`) and a
  canonical ``value`` (normalised: upper case for our own ids, digits only for GS1 keys,
  pure identity URI for EPC).  Scheme-specific subclasses add typed extras.
* A :class:`ScanError` always has a machine ``code`` (one of :data:`ERROR_CODES`) and a
  non-empty human-readable ``message``; ``position`` is the 0-based character offset into the
  raw scan where the problem lies, or None when no single place is at fault.
* No type here has a field for patient data (name, date of birth, MRN).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

SCHEMES = (
    "gs1",
    "gs1_digital_link",
    "isbt128",
    "epc",
    "coi",
    "unit_label",
    "unrecognised",
)

IDENTIFIER_KINDS = (
    # GS1
    "gtin",
    "sscc",
    "gln",
    "gsrn",
    "giai",
    "lot",
    "serial",
    "expiry",
    "production_date",
    "gs1_ai",
    # ISBT 128
    "din",
    "product_code",
    "isbt_expiry",
    "coi_isbt",
    "isbt_structure",
    "isbt_sec",
    # RFID
    "epc_uri",
    # the ledger's own labels
    "coi",
    "unit_label",
)

ERROR_CODES = {
    "NOT_TEXT": "the input is not a text string",
    "EMPTY": "nothing was scanned",
    "TOO_LONG": "the input is longer than the accepted maximum",
    "CONTROL_CHAR": "the input holds a control character that no supported format allows",
    "BAD_SYMBOLOGY": "the symbology identifier prefix is malformed",
    "UNSUPPORTED_SYMBOLOGY": "the symbology identifier names a carrier or mode whose data no supported format uses",
    "GS1_AI_REPEATED": "a GS1 AI appears twice with different values (in a Digital Link: twice at all)",
    "EMPTY_VALUE": "a GS1 element or Digital Link query parameter has an empty value",
    "BAD_LENGTH": "a value is shorter or longer than its fixed or maximum length",
    "UNRECOGNISED": "the input matches no supported format",
    "BAD_FORMAT": "the input looks like a supported format but its structure is wrong",
    "CHECK_DIGIT": "a check digit or check character does not match",
    "BAD_DATE": "a date or time field is not a valid date or time",
    "ISBT_COMPOUND_COUNT": "an ISBT 128 compound message announces a different structure count",
    "ISBT_TRUNCATED": "an ISBT 128 data structure is shorter than its fixed length (e.g. a DIN without its flags)",
    "ISBT_SEC_MISMATCH": "the Single European Code (038) disagrees with the DIN, product or expiry scanned with it",
    "DONOR_DATA": "a donor identifier (ISBT 128 019/037/039) was present in the scan and has been dropped",
    "EPC_NOT_ENCODABLE": "an EPC whose round trip (tag URI -> hex -> tag URI, or hex -> URI -> hex) is not exact",
    "EPC_UNSUPPORTED": "an EPC scheme the EPC library does not implement (TDS 2.x SGTIN+/DSGTIN+)",
    "NOT_CHECKED": "a rule needing a licensed table was not checked (warning only)",
    "EXPIRED": "the product is past its expiry (warning; see ScanResult.expired)",
    "PATIENT_DATA": "patient data was present in the scan and has been dropped",
    "INTERNAL": "an unexpected failure inside a decoding library",
}


@dataclass(frozen=True)
class ScanError:
    """One problem found in a scan: a stable machine ``code``, a message for people and, where
    one place is at fault, its ``position``: a 0-based character offset into the raw scan."""

    code: str
    message: str
    position: int | None = None

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


@dataclass(frozen=True)
class Identifier:
    """An identifier read from a scan; ``kind`` says what it is, ``value`` is canonical."""

    kind: str
    value: str


@dataclass(frozen=True)
class Gs1Identifier(Identifier):
    """A GS1 element (AI + value).

    ``ai`` is the application identifier ("01", "8018"...), ``title`` the GS1 data title.
    ``date`` is set for date AIs (11, 17, 7003...); ``datetime`` (naive, as encoded) for 7003.
    """

    ai: str
    title: str = ""
    date: date | None = None
    datetime: datetime | None = None


@dataclass(frozen=True)
class DinIdentifier(Identifier):
    """ISBT 128 Donation Identification Number (data structure 001); ``value`` is the 13-char DIN.

    ``check_char`` is the keyboard entry check character (ISO 7064 mod 37-2), always computed;
    ``flags`` the two flag characters when they were scanned.
    """

    facility: str
    year: str
    sequence: str
    check_char: str
    flags: str | None = None


@dataclass(frozen=True)
class ProductCodeIdentifier(Identifier):
    """ISBT 128 Product Code (data structure 003); ``value`` is the 8-char ``αooootds``.

    No product description table is shipped (ICCBBA licence): only the structure is decoded.
    """

    product_description_code: str
    collection_type: str
    division: str
    cellular_therapy: bool


@dataclass(frozen=True)
class IsbtExpiryIdentifier(Identifier):
    """ISBT 128 expiration (data structure 005, or 004 without time); ``value`` is ISO 8601.

    ``expires_at`` is an aware UTC datetime (the label's local time is read as UTC).
    """

    expires_at: datetime
    structure: str = "005"


@dataclass(frozen=True)
class IsbtCoiIdentifier(Identifier):
    """ISBT 128 Chain of Identity identifier (data structure 040, ST-028).

    ``value`` is the 13 characters after ``CH``: facility (5) + year (2) + 6 alphanumerics.
    """

    facility: str
    year: str
    sequence: str


@dataclass(frozen=True)
class IsbtStructure(Identifier):
    """An ISBT 128 data structure whose length is known but whose content is not interpreted."""

    structure: str


@dataclass(frozen=True)
class IsbtSecIdentifier(Identifier):
    """ISBT 128 Single European Code (data structure 038, ST-012); ``value`` is the 40 characters.

    Donation identification sequence: ``country`` (ISO 3166-1 alpha-2), ``te_code`` (EU tissue
    establishment, 6), ``donation_number`` (13; the DIN for ISBT 128 labelled products).
    Product identification sequence: ``coding_system`` (A = ISBT 128, B = Eurocode, E = EUTC),
    ``product_code`` (7), ``split_number`` (3), ``expiry`` (None for ``00000000``).
    """

    country: str
    te_code: str
    donation_number: str
    coding_system: str
    product_code: str
    split_number: str
    expiry: date | None = None


@dataclass(frozen=True)
class EpcIdentifier(Identifier):
    """An RFID EPC; ``value`` is the pure identity URI (``urn:epc:id:...``).

    ``tag_uri``/``hex``/``filter_value`` are set when the scan carried the tag encoding.
    ``gs1_element_string`` (HRI form) and ``gs1_key`` are set for GS1-keyed schemes.
    """

    epc_scheme: str
    tag_uri: str | None = None
    hex: str | None = None
    filter_value: int | None = None
    gs1_element_string: str | None = None
    gs1_key: str | None = None


@dataclass(frozen=True)
class LedgerLabelIdentifier(Identifier):
    """The ledger's own COI id or unit label id; ``value`` is the canonical upper-case id."""

    payload: str
    check_char: str


@dataclass(frozen=True)
class ScanResult:
    """What one scan meant.

    ``raw`` is the text as received (with any patient-data structure masked by ``*``),
    ``symbology`` the ISO/IEC 15424 prefix (e.g. ``"]d2"``) or None, ``scheme`` one of
    :data:`SCHEMES`. ``errors`` make the scan unusable; ``warnings`` do not.
    ``expired`` is True when any expiry date read is before the reference date.
    """

    raw: str
    symbology: str | None
    scheme: str
    identifiers: tuple[Identifier, ...] = ()
    errors: tuple[ScanError, ...] = ()
    warnings: tuple[ScanError, ...] = field(default=())
    expired: bool = False

    @property
    def ok(self) -> bool:
        """True when the scan was understood and has no errors (it may still be expired)."""
        return self.scheme != "unrecognised" and not self.errors

    def first(self, kind: str) -> Identifier | None:
        """The first identifier of ``kind``, or None."""
        return next((i for i in self.identifiers if i.kind == kind), None)

    def values(self, kind: str) -> tuple[str, ...]:
        """The values of every identifier of ``kind``, in scan order."""
        return tuple(i.value for i in self.identifiers if i.kind == kind)
