"""The validation pack: every claimed requirement has a test, the matrix is current, the OQ report is
made from a real junit run, renders as a PDF and its signature verifies until the JSON is altered."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from ledger.keys.keystore import KeyStore, encrypt_pem
from ledger_cli.main import app
from ledger_cli.validation_pack import (
    marked_tests,
    read_requirements,
    traceability,
    traceability_markdown,
    verify_report,
)

ROOT = Path(__file__).resolve().parents[2]
URS = ROOT / "docs" / "validation" / "URS.md"
PASSPHRASE = "validation-test-passphrase"


def test_every_claimed_requirement_has_a_test_and_every_marker_names_a_requirement():
    requirements = read_requirements(URS)
    assert len(requirements) >= 40
    assert {"URS-P11-10a", "URS-P11-10e", "URS-P11-50", "URS-P11-70", "URS-A11-9", "URS-OFF-1"} <= {
        r.id for r in requirements}
    assert all(r.risk in {"H", "M", "L"} and r.clause and r.text for r in requirements)
    matrix = traceability(requirements, marked_tests(ROOT / "tests", ROOT))  # raises on an unknown id
    untested = [rid for rid, tests in matrix.items() if not tests]
    assert untested == []


def test_a_marker_naming_an_unknown_requirement_is_refused(tmp_path):
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_x.py").write_text(textwrap.dedent("""
        import pytest

        @pytest.mark.req("URS-P11-10a")
        def test_known(): ...

        @pytest.mark.req("URS-NOPE-1")
        class TestGroup:
            def test_unknown(self): ...
    """))
    markers = marked_tests(tmp_path / "tests", tmp_path)
    assert markers == {"tests/test_x.py::test_known": ["URS-P11-10a"],
                       "tests/test_x.py::TestGroup::test_unknown": ["URS-NOPE-1"]}
    with pytest.raises(ValueError, match="URS-NOPE-1"):
        traceability(read_requirements(URS), markers)
    del markers["tests/test_x.py::TestGroup::test_unknown"]
    assert traceability(read_requirements(URS), markers)["URS-P11-10a"] == ["tests/test_x.py::test_known"]


def test_the_committed_traceability_matrix_is_current():
    expected = traceability_markdown(read_requirements(URS), marked_tests(ROOT / "tests", ROOT))
    committed = (ROOT / "docs" / "validation" / "TRACEABILITY.md").read_text(encoding="utf-8")
    assert committed == expected, "run `ledger validation-report --markdown` and commit docs/validation/TRACEABILITY.md"


SAMPLE_URS = """\
| id | requirement | clause | risk |
|---|---|---|---|
| URS-T-1 | the first thing works | 21 CFR 11.10(a) | H |
| URS-T-2 | the second thing works | Annex 11 §9 | M |
| URS-T-3 | nothing tests this | ALCOA+ available | L |
"""

SAMPLE_TESTS = """\
import pytest


@pytest.mark.req("URS-T-1")
@pytest.mark.parametrize("n", [1, 2])
def test_first(n):
    assert n > 0


@pytest.mark.req("URS-T-1", "URS-T-2")
def test_both():
    assert True


@pytest.mark.req("URS-T-2")
def test_second_fails():
    assert 1 == 2
"""


@pytest.fixture
def sample_project(tmp_path):
    """A small project with three marked tests, run by pytest in a subprocess with --junitxml."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "URS.md").write_text(SAMPLE_URS)
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_sample.py").write_text(SAMPLE_TESTS)
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    req(*ids): requirements\n"
                                         "addopts = --strict-markers\n")
    junit = tmp_path / "junit.xml"
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={junit}",
                          "tests"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert run.returncode == 1, run.stdout + run.stderr  # test_second_fails fails, as it should
    return tmp_path, junit


def _report(project: Path, junit: Path, out: Path, *extra: str):
    return CliRunner().invoke(app, ["validation-report", "--root", str(project), "--urs", "docs/URS.md",
                                    "--from-junit", str(junit), "--out", str(out), *extra])


def test_the_signed_oq_report_from_a_real_junit_run(sample_project, tmp_path, monkeypatch):
    project, junit = sample_project
    monkeypatch.setenv("LEDGER_KEY_PASSPHRASE", PASSPHRASE)
    monkeypatch.setenv("LEDGER_KEYS_DIR", str(tmp_path / "keys"))
    KeyStore(tmp_path / "keys").create(PASSPHRASE)  # the ledger's sealing key signs by default

    result = _report(project, junit, tmp_path / "out")
    assert result.exit_code == 1, result.output  # a requirement failed, one has no test: the OQ fails
    json_path = next((tmp_path / "out").glob("OQ-*.json"))
    pdf_path = json_path.with_suffix(".pdf")
    document = json.loads(json_path.read_text())
    report = document["report"]
    rows = {r["id"]: r for r in report["requirements"]}
    assert rows["URS-T-1"]["verdict"] == "verified"
    assert {t["test"]: (t["outcome"], t["cases"]) for t in rows["URS-T-1"]["tests"]} == {
        "tests/test_sample.py::test_first": ("passed", 2), "tests/test_sample.py::test_both": ("passed", 1)}
    assert rows["URS-T-2"]["verdict"] == "failed"
    assert {t["test"]: t["outcome"] for t in rows["URS-T-2"]["tests"]}[
        "tests/test_sample.py::test_second_fails"] == "failed"
    assert rows["URS-T-3"] == {**rows["URS-T-3"], "verdict": "not verified", "tests": []}
    assert report["result"] == "fail" and report["summary"] == {"verified": 1, "failed": 1, "not verified": 1}
    assert report["run"] == {"junit": str(junit)} and report["commit"] and report["environment"]["python"]

    # the signature verifies, against the published key ring too, and fails once the JSON is altered
    ring = tmp_path / "keys" / "keyring.json"
    runner = CliRunner()
    assert verify_report(document) is None
    ok = runner.invoke(app, ["validation-verify", str(json_path), "--keys", str(ring)])
    assert ok.exit_code == 0 and "valid" in ok.output, ok.output
    report["requirements"][1]["verdict"] = "verified"
    altered = tmp_path / "altered.json"
    altered.write_text(json.dumps(document))
    refused = runner.invoke(app, ["validation-verify", str(altered), "--keys", str(ring)])
    assert refused.exit_code == 1 and "bad signature" in refused.output, refused.output
    assert verify_report(document) is not None

    # the PDF is a PDF and says what the JSON says
    pdf = pdf_path.read_bytes()
    assert pdf.startswith(b"%PDF-")
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", "-layout", str(pdf_path), "-"], capture_output=True, text=True,
                              check=True).stdout
        for needle in ("Operational qualification report", "URS-T-1", "URS-T-2", "URS-T-3", "test_second_fails",
                       "failed", "not verified", document["signature"]["key_id"]):
            assert needle in text, needle


def test_a_key_from_the_command_line_signs_and_another_ring_does_not_trust_it(sample_project, tmp_path, monkeypatch):
    project, junit = sample_project
    monkeypatch.setenv("LEDGER_KEY_PASSPHRASE", PASSPHRASE)
    key = Ed25519PrivateKey.generate()
    pem = tmp_path / "signer.pem"
    pem.write_bytes(encrypt_pem(key, PASSPHRASE))
    result = _report(project, junit, tmp_path / "out", "--key", str(pem))
    assert result.exit_code == 1, result.output
    document = json.loads(next((tmp_path / "out").glob("OQ-*.json")).read_text())
    assert verify_report(document) is None
    other = KeyStore(tmp_path / "other-keys")
    other.create(PASSPHRASE)
    assert "unknown key" in verify_report(document, other.key_ring())
