"""GS1 conformance: public test vectors (tests/vectors/gs1/SOURCE.md) run through ``parse_scan``.

Each vector says what the ledger must do with one scan: read it ("ok", optionally with the
identifiers read, ``hri``, or upstream's expected AI data, ``data``) or refuse it (optionally
with the first error's ``code`` and ``position``). A refused scan names no identifier.
The syntax dictionary extract checks the tables in ``scanners.gs1`` and biip's AI table against
GS1's own: predefined lengths, check digits and maximum lengths for every AI.
"""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import pytest
from biip.gs1_application_identifiers import GS1ApplicationIdentifier

from scanners.gs1 import CHECK_DIGITS, CHECK_PAIRS, PREDEFINED_LENGTH, as_hri, length_bounds
from scanners.gs1_dl import QUALIFIERS
from scanners.model import ERROR_CODES
from scanners.parse import parse_scan

VECTORS = Path(__file__).parents[2] / "vectors" / "gs1"
FILES = ("syntax_engine.json", "digital_link_js.json", "ledger_cases.json")
TODAY = date(2025, 1, 1)


def _vectors():
    for name in FILES:
        for group, rows in json.loads((VECTORS / name).read_text())["groups"].items():
            for row in rows:
                yield pytest.param(row, id=f"{name.split('.')[0]}:{group}:{row.get('ref', row['scan'][:40])}")


def _as_data(identifiers) -> str:
    """Identifiers as upstream's AI data: '^' (FNC1) first and after each variable-length value."""
    parts = []
    for n, ident in enumerate(identifiers):
        parts.append(ident.ai + ident.value)
        if ident.ai[:2] not in PREDEFINED_LENGTH and n < len(identifiers) - 1:
            parts.append("^")
    return "^" + "".join(parts)


def _expected_data(data: str) -> str:
    if data.startswith("^"):
        return data
    primary, _, composite = data.partition("|")  # EAN/UPC primary data, then "^..." composite
    return "^01" + primary.zfill(14) + composite[1:]


@pytest.mark.parametrize("vector", list(_vectors()))
def test_vector(vector):
    result = parse_scan(vector["scan"], today=TODAY)
    if vector["expect"] == "ok":
        assert result.ok, result.errors
        if "hri" in vector:
            assert as_hri(result.identifiers) == vector["hri"]
        if vector.get("data") and ("://" in vector["scan"] or vector["scan"][:3] in ("]C1", "]e0", "]d2", "]Q3",
                                                                                   "]J1", "]E0", "]E4")):
            assert _as_data(result.identifiers) == _expected_data(vector["data"])
        return
    assert not result.ok
    assert result.identifiers == (), "a refused scan names no identifier"
    assert all(e.code in ERROR_CODES for e in result.errors)
    if "code" in vector:
        assert result.errors[0].code == vector["code"], result.errors
    if "position" in vector:
        assert result.errors[0].position == vector["position"], result.errors


def test_every_vector_file_has_its_source_and_licence():
    source = (VECTORS / "SOURCE.md").read_text()
    for name in (*FILES, "gs1-syntax-dictionary-ais.txt", "LICENSE-gs1-syntax-engine", "LICENSE-digital-link.js"):
        assert (VECTORS / name).exists(), name
        assert name in source, name


# --- GS1 Barcode Syntax Dictionary extract: tables checked against GS1's own -------------------

_LINE = re.compile(r"^(\d{2,4})(?:-(\d{2,4}))?\s+([*?]*)\s+((?:\[?[NXYZ][.\d]+[^\s]*\]?\s*)+)")
_COMPONENT = re.compile(r"(\[)?([NXYZ])(\.\.)?(\d+)((?:,\w+)*)(\])?")


def _dictionary():
    """(ai, flags, components) per AI; a component is (optional, min, max, linters)."""
    rows = []
    for line in (VECTORS / "gs1-syntax-dictionary-ais.txt").read_text().splitlines():
        match = _LINE.match(line)
        if not match:
            continue
        first, last, flags, spec = match.groups()
        components = []
        for c in _COMPONENT.finditer(spec):
            optional, variable, size, linters = bool(c.group(1)), bool(c.group(3)), int(c.group(4)), c.group(5)
            components.append((optional, 1 if variable else size, size, linters.split(",")[1:]))
        for ai in range(int(first), int(last or first) + 1):
            rows.append((str(ai).zfill(len(first)), flags, components))
    return rows


DICTIONARY = _dictionary()


def test_dictionary_extract_parsed():
    assert len(DICTIONARY) > 400
    assert {"00", "01", "10", "17", "21", "253", "7007", "8003", "8013", "8017", "8018"} <= {r[0] for r in DICTIONARY}


@pytest.mark.parametrize(("ai", "flags", "components"), DICTIONARY, ids=[r[0] for r in DICTIONARY])
def test_ai_table_matches_the_syntax_dictionary(ai, flags, components):
    known = GS1ApplicationIdentifier.extract(ai)
    assert known.ai == ai
    # predefined length ("*"): our GenSpecs table and biip's separator flag agree with GS1's
    predefined = ai[:2] in PREDEFINED_LENGTH
    assert predefined == ("*" in flags)
    assert known.separator_required == (not predefined)
    maximum = sum(c[2] for c in components)
    minimum = sum(c[1] for c in components if not c[0])
    if predefined:
        assert PREDEFINED_LENGTH[ai[:2]] == len(ai) + maximum == len(ai) + minimum
    # maximum length: biip's format (which the splitter and the error codes use) agrees
    assert length_bounds(known)[1] == maximum
    # check digits: every "csum" component is checked, over exactly its digits
    offset, spans = 0, []
    for _, _, size, linters in components:
        if "csum" in linters:
            spans.append((offset, offset + size))
        offset += size
    assert ([CHECK_DIGITS[ai]] if ai in CHECK_DIGITS else []) == spans
    assert (ai in CHECK_PAIRS) == any("csumalpha" in c[3] for c in components)


@pytest.mark.parametrize(("ai", "flags", "components"), DICTIONARY, ids=[r[0] for r in DICTIONARY])
def test_value_one_longer_than_the_maximum_is_refused(ai, flags, components):
    maximum = sum(c[2] for c in components)
    scan = "]C1" + ai + "1" * (maximum + 1)
    result = parse_scan(scan, today=TODAY)
    assert not result.ok and result.identifiers == ()


def test_digital_link_primary_keys_match_the_syntax_dictionary():
    text = (VECTORS / "gs1-syntax-dictionary-ais.txt").read_text()
    keys = {}
    for match in re.finditer(r"^(\d+)\s.*\bdlpkey(?:=([\d,|]+))?", text, flags=re.MULTILINE):
        keys[match.group(1)] = tuple(tuple(s.split(",")) for s in match.group(2).split("|")) if match.group(2) else ()
    assert keys == QUALIFIERS
