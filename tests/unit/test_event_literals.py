"""Issue 17's measure, kept: no event type's name is a string literal in more than two production
files (code names types by their classes: ``Model.__name__``, ``match``, dicts keyed by class)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

TOOL = Path(__file__).resolve().parents[2] / "tools" / "event_literals.py"


def test_no_event_type_name_is_a_literal_in_more_than_two_production_files():
    spec = importlib.util.spec_from_file_location("event_literals", TOOL)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    over = {name: files for name, files in tool.literal_files().items() if len(files) > 2}
    assert over == {}
