"""R8: privacy sweep of a demo run: the patients' MRNs, a name and a date of birth must appear in no
event, read-model row, server log, label (PNG decoded, SVG, PDF text) or export."""

from __future__ import annotations

import io
import re
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from ledger.store.rawstore import connect

from .conftest import report

MRNS = ["MRN-0042-7781", "MRN-9999-0001", "MRN-A-1001", "MRN-A-1002", "DONOR-77", "MRN-R8-5550123",
        "MRN-0042-7790", "MRN-9999-0002"]
NAME, DOB = "Jane Quinn Doe", "1961-07-04"
NEEDLES = [*MRNS, NAME, DOB, DOB.replace("-", ""), "04/07/1961", "07/04/1961"]


def _sweep(where: str, blob: bytes | str, leaks: list[str]) -> None:
    text = blob if isinstance(blob, str) else blob.decode("utf-8", "replace")
    for needle in NEEDLES:
        if needle.lower() in text.lower():
            leaks.append(f"{needle!r} in {where}")


def _pdf_text(pdf: bytes) -> str:
    out = [pdf.decode("latin-1")]
    for match in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        try:
            out.append(zlib.decompress(match.group(1)).decode("latin-1"))
        except zlib.error:
            continue
    return "\n".join(out)


def _all_tables(database) -> str:
    dump = []
    with connect(database) as conn:
        if database.kind == "sqlite":
            names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        else:
            names = [r[0] for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()]
        for name in names:
            for row in conn.execute(f'SELECT * FROM "{name}"').fetchall():  # noqa: S608
                dump.append(" ".join(bytes(v).decode("utf-8", "replace") if isinstance(v, bytes | memoryview)
                                     else str(v) for v in row))
    return "\n".join(dump)


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
@pytest.mark.req("URS-PRIV-1")
def test_no_patient_identifier_anywhere_after_a_demo_run(served):
    import zxingcpp
    from PIL import Image

    ledger = str(Path(sys.executable).with_name("ledger"))
    demo = subprocess.run([ledger, "demo"], env=served.environ, capture_output=True, text=True,  # noqa: S603
                          timeout=300, check=False)
    assert demo.returncode == 0, demo.stderr
    served.start()
    leaks: list[str] = []
    labels = 0
    with served.client("nurse") as nurse:
        enrol = {"type": "CaseEnrolled", "data": {"kind": "autologous", "product": "CAR-T (drill)",
                                                  "treating_site": "hospital-1", "mrn": MRNS[-1]}}
        sneaky = {**enrol, "data": {**enrol["data"], "patient_name": NAME, "date_of_birth": DOB}}
        assert nurse.post("/v1/events", json=sneaky).status_code == 422  # no field for a name or DOB
        coi = nurse.post("/v1/events", json=enrol).json()
        coi = nurse.get("/v1/cases?limit=100").json()
    with served.client("auditor") as auditor:
        cases = [c["coi"] for c in coi["items"]] if isinstance(coi, dict) and "items" in coi else []
        for case in cases:
            _sweep(f"audit trail CSV of {case}",
                   auditor.get("/v1/audit-trail", params={"coi": case, "format": "csv"}).text, leaks)
            dossier = auditor.get(f"/v1/cases/{case}/dossier")
            if dossier.status_code == 200:
                _sweep(f"dossier of {case}", dossier.content, leaks)
            genealogy = auditor.get(f"/v1/cases/{case}/genealogy")
            _sweep(f"genealogy of {case}", genealogy.content, leaks)
            for node in genealogy.json().get("nodes", []):
                unit = node.get("id") if node.get("type") == "unit" else None
                if not unit:
                    continue
                for fmt in ("png", "svg", "pdf"):
                    label = auditor.get(f"/v1/units/{unit}/label.{fmt}")
                    if label.status_code != 200:
                        continue
                    labels += 1
                    if fmt == "png":
                        decoded = [r.text for r in zxingcpp.read_barcodes(Image.open(io.BytesIO(label.content)))]
                        _sweep(f"label.png of {unit} (decoded)", "\n".join(decoded), leaks)
                    _sweep(f"label.{fmt} of {unit}", _pdf_text(label.content) if fmt == "pdf" else label.content,
                           leaks)
        epcis = auditor.get("/v1/epcis/events")
        if epcis.status_code == 200:
            _sweep("EPCIS events", epcis.content, leaks)
    assert cases and labels >= 3 * 6, (cases, labels)  # png, svg and pdf of every unit of the demo
    served.server.stop()
    _sweep("database (every table)", _all_tables(served.database), leaks)
    _sweep("server stdout/stderr", served.log.read_text(errors="replace"), leaks)
    _sweep("ledger demo output", demo.stdout + demo.stderr, leaks)
    assert not leaks, leaks
    report("R8", cases=len(cases), labels=labels, leaks=len(leaks))
