"""EPC conformance vectors (tests/vectors/epc/SOURCE.md): exact round trips, refused inputs."""

import json
from pathlib import Path

import epcpy
import pytest
from epcpy.epc_schemes.sgtin import SGTINFilterValue

from scanners.epc import EpcRefused, tag_uri_to_hex
from scanners.parse import parse_scan

DATA = json.loads((Path(__file__).parents[2] / "vectors" / "epc" / "vectors.json").read_text())


@pytest.mark.parametrize("vector", DATA["round_trip"], ids=[v["name"] for v in DATA["round_trip"]])
def test_round_trip_is_exact_both_ways(vector):
    from_uri = parse_scan(vector["tag_uri"])
    from_hex = parse_scan(vector["hex"])
    assert from_uri.ok and from_hex.ok, (from_uri.errors, from_hex.errors)
    assert from_uri.first("epc_uri").hex == vector["hex"]
    assert from_hex.first("epc_uri").tag_uri == vector["tag_uri"]
    assert from_uri.first("epc_uri").value == from_hex.first("epc_uri").value


@pytest.mark.parametrize("vector", DATA["refused"], ids=[v["name"] for v in DATA["refused"]])
def test_refused_with_code_and_position(vector):
    result = parse_scan(vector["scan"])
    assert not result.ok and result.identifiers == ()
    assert [(e.code, e.position) for e in result.errors] == [(vector["error"], vector["position"])]


def test_epcpy_is_lenient_and_the_wrapper_refuses():
    """epcpy 0.1.8 drops the leading zero of an SGTIN-96 serial (06789 -> the hex of serial 6789)
    and encodes a serial of 2^38 into 112 bits that decode as another serial. If a new epcpy
    refuses these itself, this test says so and the wrapper may be simplified."""
    lenient = epcpy.tag_uri_to_tag_encodable("urn:epc:tag:sgtin-96:3.0614141.812345.06789")
    assert lenient.hex(binary_coding_scheme=type(lenient).BinaryCodingScheme.SGTIN_96,
                       filter_value=SGTINFilterValue("3")) == "3074257BF7194E4000001A85"
    with pytest.raises(EpcRefused) as refused:
        tag_uri_to_hex("urn:epc:tag:sgtin-96:3.0614141.812345.06789")
    assert refused.value.code == "EPC_NOT_ENCODABLE"
    assert tag_uri_to_hex("urn:epc:tag:sgtin-96:3.0614141.812345.6789") == "3074257BF7194E4000001A85"


def test_pure_identity_keeps_a_leading_zero_serial():
    # a GS1 serial (AI 21) may start with 0: only its 96-bit integer encoding cannot carry it
    result = parse_scan("urn:epc:id:sgtin:0614141.812345.06789")
    assert result.ok and result.values("serial") == ("06789",)
