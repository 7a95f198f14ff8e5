"""RFID EPC decoding/encoding (STANDARDS.md SGTIN-96 vectors + other 96-bit schemes)."""

import pytest

from scanners.epc import tag_uri_to_hex
from scanners.parse import parse_scan

HEX = "3074257BF7194E4000001A85"
TAG_URI = "urn:epc:tag:sgtin-96:3.0614141.812345.6789"
PURE_URI = "urn:epc:id:sgtin:0614141.812345.6789"
HRI = "(01)80614141123458(21)6789"


def test_sgtin96_hex_to_uris_and_element_string():
    result = parse_scan(HEX)
    assert result.ok, result.errors
    assert result.scheme == "epc"
    epc = result.first("epc_uri")
    assert (epc.value, epc.tag_uri, epc.hex, epc.filter_value) == (PURE_URI, TAG_URI, HEX, 3)
    assert epc.gs1_element_string == HRI
    assert epc.gs1_key == "80614141123458"
    assert result.values("gtin") == ("80614141123458",)
    assert result.values("serial") == ("6789",)


def test_sgtin96_tag_uri_to_hex():
    assert tag_uri_to_hex(TAG_URI) == HEX
    result = parse_scan(TAG_URI)
    assert result.ok
    assert result.first("epc_uri").hex == HEX
    assert result.first("epc_uri").value == PURE_URI


def test_pure_identity_uri_input():
    result = parse_scan(PURE_URI)
    epc = result.first("epc_uri")
    assert result.ok
    assert epc.value == PURE_URI and epc.tag_uri is None and epc.hex is None
    assert epc.gs1_element_string == HRI


def test_filter_one_vector():
    result = parse_scan("3034257BF7194E4000003039")
    assert result.first("epc_uri").value == "urn:epc:id:sgtin:0614141.812345.12345"
    assert result.first("epc_uri").filter_value == 1


def test_lower_case_hex_accepted():
    assert parse_scan(HEX.lower()).first("epc_uri").value == PURE_URI


@pytest.mark.parametrize(
    ("tag_uri", "kind", "value"),
    [
        ("urn:epc:tag:sscc-96:0.0614141.1234567890", "sscc", "106141412345678908"),
        ("urn:epc:tag:sgln-96:0.0614141.12345.400", "gln", "0614141123452"),
        ("urn:epc:tag:giai-96:0.0614141.12345400", "giai", "061414112345400"),
        ("urn:epc:tag:gsrn-96:0.0614141.1234567890", "gsrn", "061414112345678902"),
        ("urn:epc:tag:grai-96:0.0614141.12345.400", "gs1_ai", "00614141123452400"),
    ],
)
def test_other_96_bit_schemes_round_trip(tag_uri, kind, value):
    hex_value = tag_uri_to_hex(tag_uri)
    from_hex = parse_scan(hex_value)
    assert from_hex.ok, from_hex.errors
    assert from_hex.first("epc_uri").tag_uri == tag_uri
    assert from_hex.values(kind) == (value,)


def test_gid96_has_no_filter():
    result = parse_scan("urn:epc:tag:gid-96:95100000.12345.400")
    epc = result.first("epc_uri")
    assert result.ok and epc.filter_value is None and epc.gs1_key is None
    assert parse_scan(epc.hex).first("epc_uri").value == "urn:epc:id:gid:95100000.12345.400"


@pytest.mark.parametrize(
    "bad",
    [
        "urn:epc:id:sgtin:0614141.812345",
        "urn:epc:tag:sgtin-96:9.0614141.812345.6789",
        "urn:epc:id:nothing:1.2.3",
        "urn:epc:raw:96.x3074257BF7194E4000001A85",
        "3074257BF7194E4000001A8G",
        "FF74257BF7194E4000001A85",
    ],
)
def test_bad_epc_is_unrecognised_with_reason(bad):
    result = parse_scan(bad)
    assert not result.ok
    assert result.scheme == "unrecognised"
    assert result.errors and all(e.code and e.message for e in result.errors)
