"""R5 (schemathesis against /openapi.json), R6 (scanner and EPCIS fuzzing), R7 (authorisation
matrix) are the existing tests named below; they run in every ``make test``. The full form
(``LEDGER_DRILLS=full``) runs them again with three fresh Hypothesis seeds; R5 then also explores
(random examples from the seed, 100 an operation, instead of the quick form's derandomised 15)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import FULL, report

ROOT = Path(__file__).parents[2]
EPCIS = ["tests/e2e/test_epcis.py"] if (ROOT / "tests/e2e/test_epcis.py").exists() else []
DRILLS = {
    "R5": ["tests/e2e/test_schemathesis.py"],
    "R6": ["tests/unit/scanners", *EPCIS],
    "R7": ["tests/e2e/test_authorisation_matrix.py"],
}


@pytest.mark.parametrize("drill", sorted(DRILLS))
def test_drill_exists(drill):
    for path in DRILLS[drill]:
        assert (ROOT / path).exists(), f"{drill}: {path} is gone"


@pytest.mark.skipif(not FULL, reason="full form only (LEDGER_DRILLS=full); the quick form is the main suite")
@pytest.mark.parametrize("drill", sorted(DRILLS))
@pytest.mark.parametrize("seed", [11, 2024, 77777])
def test_full_form_with_fresh_seeds(drill, seed):
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",  # noqa: S603
                           f"--hypothesis-seed={seed}", *DRILLS[drill]], cwd=ROOT, capture_output=True,
                          text=True, timeout=1800, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    report(drill, seed=seed, summary=done.stdout.strip().splitlines()[-1])
