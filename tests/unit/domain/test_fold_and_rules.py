from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from pydantic import ValidationError

import ledger.domain as domain
from ledger.domain import unit as unit_module
from ledger.domain.base import NewEvent, new_event
from ledger.domain.case import fold_case
from ledger.domain.catalogue import DOMAIN_EVENTS, build_catalogue
from ledger.domain.events_case import CaseOnHold
from ledger.domain.events_quality import ExcursionDetected, TemperatureRecorded, UnitQuarantined
from ledger.domain.events_unit import UnitLabelled
from ledger.domain.folding import read_by
from ledger.domain.rules import CODES
from ledger.errors import InvalidEvent, LedgerError
from ledger.keys.keyevents import KEY_EVENTS

from .conftest import Ledger

SOURCE = Path(domain.__file__).parent
TESTS = Path(__file__).parent
NOT_REFUSALS = {"STREAM_OUT_OF_ORDER", "STREAM_MIXED", "TIMEZONE_REQUIRED"}


def test_fold_tracks_version_and_refuses_gaps(ledger: Ledger) -> None:
    case = ledger.enrol()
    ledger.append([NewEvent(case, "SomethingNew", {"x": 1})])
    state = ledger.case(case)
    assert state.version == 2 and state.stream == case and state.status == "active"
    envelopes = ledger.streams[case]
    with pytest.raises(LedgerError) as err:
        fold_case([envelopes[1]])
    assert err.value.code == "STREAM_OUT_OF_ORDER"
    with pytest.raises(LedgerError) as err:
        fold_case([envelopes[0], {**envelopes[1], "stream": str(uuid4())}])
    assert err.value.code == "STREAM_MIXED"
    assert fold_case([]).version == 0


def test_new_event_validates_and_dumps_json() -> None:
    stream = uuid4()
    assert new_event(stream, CaseOnHold, reason="r") == NewEvent(stream, "CaseOnHold",
                                                                 {"reason": "r"})
    with pytest.raises(InvalidEvent) as err:
        new_event(stream, CaseOnHold, reason="r", mrn="123")
    assert err.value.code == "INVALID_DATA"


def test_catalogue_covers_every_event_type() -> None:
    catalogue = build_catalogue()
    assert set(catalogue.names()) == set(DOMAIN_EVENTS)
    assert all(DOMAIN_EVENTS[name] is model for name, model in KEY_EVENTS.items())
    for name, model in DOMAIN_EVENTS.items():
        assert model.__name__ == name
        assert model.model_config.get("extra") == "forbid"


def test_no_event_has_a_field_for_identifying_patient_data() -> None:
    forbidden = re.compile(r"mrn|birth|dob|name_of|first_name|last_name|patient_name|address")
    for model in DOMAIN_EVENTS.values():
        for field in model.model_fields:
            assert not forbidden.search(field), f"{model.__name__}.{field}"


def _upper_snake_literals(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and re.fullmatch(
                r"[A-Z][A-Z0-9]*(_[A-Z0-9]+)+", node.value):
            found.add(node.value)
    return found


def test_every_code_the_domain_uses_is_documented() -> None:
    used = set().union(*(_upper_snake_literals(p) for p in SOURCE.glob("*.py")
                         if p.name != "rules.py"))
    assert used - set(CODES) - NOT_REFUSALS == set()
    assert all(CODES[c].strip() for c in CODES)


def test_every_documented_code_has_a_test() -> None:
    tested = set().union(*(_upper_snake_literals(p) for p in TESTS.glob("test_*.py")))
    assert set(CODES) - tested == set()


def test_domain_modules_are_small_and_pure() -> None:
    for path in SOURCE.glob("*.py"):
        text = path.read_text()
        assert len(text.splitlines()) <= 300, path.name
        for banned in ("import sqlite3", "import requests", "open(", "datetime.now", "utcnow",
                       "utc_now", "time.time"):
            assert banned not in text, f"{path.name}: {banned}"


def test_events_are_json_ready(ledger: Ledger) -> None:
    ledger.enrol()
    json.dumps(ledger.dump())


def test_folds_see_typed_events_and_skip_the_ones_they_do_not_read(ledger: Ledger) -> None:
    """A fold converts only the events its ``match`` names: a unit's temperature uploads (up to
    20,000 readings each) are not validated again on every write."""
    case = ledger.enrol()
    bag = ledger.label(case, "apheresis_bag")
    unread = {"logger": "LOG-1", "readings": [{"t": "not a time", "celsius": "warm"}]}
    ledger.append([NewEvent(bag, TemperatureRecorded.__name__, unread)])
    state = ledger.unit(bag)
    assert state.version == 2 and state.kind == "apheresis_bag" and isinstance(state.case, UUID)
    assert TemperatureRecorded.__name__ not in read_by(unit_module._evolve)
    assert read_by(unit_module._evolve) >= {UnitLabelled.__name__, ExcursionDetected.__name__}
    ledger.append([NewEvent(bag, UnitQuarantined.__name__, {"reason": ""})])  # a read event: checked
    with pytest.raises(ValidationError):
        ledger.unit(bag)
