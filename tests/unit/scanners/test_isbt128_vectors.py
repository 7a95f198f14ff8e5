"""ISBT 128 conformance vectors from ICCBBA's published examples (tests/vectors/isbt128/SOURCE.md).

Each vector is a scan and what it encodes: the identifiers of an ``ok`` scan, or the refusal
code and its position (0-based offset into the raw scan) the standard's rule requires.
"""

import json
from datetime import date
from pathlib import Path

import pytest

from scanners.parse import parse_scan

VECTORS = json.loads((Path(__file__).parents[2] / "vectors" / "isbt128" / "vectors.json").read_text())["vectors"]


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_isbt128_vector(vector):
    result = parse_scan(vector["scan"], today=date(2017, 1, 1))
    if vector["ok"]:
        assert result.ok, result.errors
        assert result.scheme == "isbt128"
        assert [[i.kind, i.value] for i in result.identifiers] == vector["identifiers"]
        assert [w.code for w in result.warnings] == vector.get("warnings", [])
        din = result.first("din")
        if "check_char" in vector:
            assert din.check_char == vector["check_char"]
        if "flags" in vector:
            assert din.flags == vector["flags"]
    else:
        assert not result.ok
        assert result.identifiers == (), "a refused scan must not yield identifiers"
        assert [(e.code, e.position) for e in result.errors][:1] == [(vector["error"], vector["position"])], (
            result.errors
        )


def test_vectors_cover_every_class_of_the_issue():
    names = " ".join(v["name"] for v in VECTORS)
    for needle in ("DIN without its flags", "032", "compound message with SEC", "type 3 flags", "manual entry"):
        assert needle in names
