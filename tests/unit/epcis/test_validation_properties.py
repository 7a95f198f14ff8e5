"""Random and hostile JSON against the capture validator: never an unexpected exception;
every refusal is a 4xx problem whose faults name a JSON pointer that exists in the input."""

from __future__ import annotations

import contextlib
import copy
import json
from pathlib import Path
from typing import Any

import rfc8785
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.epcis import ids
from api.epcis.validation import check, parse
from ledger.errors import LedgerError

TESTDATA = Path(__file__).resolve().parents[2] / "vectors" / "epcis2"
VALID = sorted((TESTDATA / "valid").glob("*.json"))

keys = st.one_of(st.sampled_from(["type", "eventTime", "epcList", "bizStep", "disposition", "ilmd",
                                  "@context", "action", "sensorElementList", "epcisBody", "eventList",
                                  "x:y", "ext1:z", "", "~/", "a" * 300]), st.text(max_size=12))
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                    st.text(max_size=40), st.sampled_from(["shipping", "transforming", "ObjectEvent",
                                                           "EPCISDocument", "2026-07-22T06:45:00Z",
                                                           "22-07-2026", "urn:epc:id:sgtin:1.2.3"]))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=5)), max_leaves=30)


def resolve(document: Any, pointer: str) -> bool:
    node = document
    for raw in pointer.split("/")[1:] if pointer else []:
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return False
    return True


def judged(document: Any) -> None:
    try:
        checked = check(document)
    except LedgerError as refusal:
        assert 400 <= refusal.status < 500 and refusal.code.startswith("EPCIS_")
        faults = refusal.extra.get("errors") or []
        assert faults and refusal.detail
        for fault in faults:
            assert fault["message"] and fault["code"]
            assert resolve(document, fault["pointer"]), (fault, document)
        return
    assert isinstance(checked.events, list)
    for event in checked.events:
        # numbers JCS cannot represent (1e400, 2**60) are refused by the capture (422)
        with contextlib.suppress(rfc8785.CanonicalizationError, ValueError):
            assert ids.event_id(event)


def test_testdata_is_there():
    assert len(VALID) == 37


@settings(max_examples=300, deadline=None)
@given(values)
def test_any_json_value(value):
    judged(value)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes(body):
    try:
        judged(parse(body))
    except LedgerError as refusal:
        assert refusal.status in (413, 422) and refusal.code.startswith("EPCIS_")


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(VALID), st.data(), values)
def test_mutated_valid_documents(path, data, replacement):
    document = json.loads(path.read_text())
    target = data.draw(st.sampled_from(_paths(document)[1:]))
    mutated = copy.deepcopy(document)
    node = mutated
    for part in target[:-1]:
        node = node[part]
    if data.draw(st.booleans()) and isinstance(node, dict):
        del node[target[-1]]
    else:
        node[target[-1]] = replacement
    judged(mutated)
