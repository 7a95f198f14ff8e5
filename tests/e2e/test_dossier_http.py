"""GET /v1/cases/{coi}/dossier over HTTP: readers (auditors included) get the verifiable JSON and
the PDF; devices cannot read; unknown cases are 404 problems."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from ledger.services.executor import Context
from ledger.services.journeys import run_autologous_journey
from ledger.verification.dossier import verify_dossier
from tests.unit.test_dossier import tool

MRN = "MRN-0042-7781"


@pytest.mark.req("URS-P11-10b")
def test_dossier_json_and_pdf_for_an_auditor(client, login, tmp_path):
    journey = run_autologous_journey(client.app.state.container.services, mrn=MRN)
    response = client.get(f"/v1/cases/{journey.coi.lower()}/dossier", headers=login("auditor"))
    assert response.status_code == 200, response.text
    bundle = response.json()
    assert bundle["coi"] == journey.coi
    assert verify_dossier(bundle) == [] and tool.verify(bundle) == []
    keys = client.get("/v1/ledger/keys").json()
    assert {k["key_id"] for k in bundle["keys"]} == {k["key_id"] for k in keys["keys"]}
    assert MRN not in response.text

    pdf = client.get(f"/v1/cases/{journey.coi}/dossier", params={"format": "pdf"}, headers=login("auditor"))
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    text = pdf_text(pdf.content, tmp_path)
    assert journey.coi in text and "Dr. Quentin Assurance" in text and "released" in text
    assert "INTACT" in text and MRN not in text


def test_dossier_roles_and_unknown_case(client, login):
    journey = run_autologous_journey(client.app.state.container.services)
    url = f"/v1/cases/{journey.coi}/dossier"
    assert client.get(url).status_code == 401
    assert client.get(url, headers=login("auditor")).status_code == 200
    assert client.get(url, headers=login("courier")).status_code == 403  # it holds the audit trail
    container = client.app.state.container
    container.services.identity.register_device(Context(actor="system"), device_id="scanner-9", kind="scanner",
                                                site="hospital-1")
    token = container.tokens.issue("scanner-9", "device", ttl=None)
    denied = client.get(url, headers={"Authorization": f"Bearer {token}"})
    assert denied.status_code == 403 and denied.headers["content-type"].startswith("application/problem+json")
    missing = client.get("/v1/cases/COI-NONE-0000-0/dossier", headers=login("auditor"))
    assert missing.status_code == 404 and missing.json()["code"] == "CASE_NOT_FOUND"


def pdf_text(data: bytes, tmp_path) -> str:
    """pdftotext if installed; else the text operators of an uncompressed rendering."""
    path = tmp_path / "d.pdf"
    path.write_bytes(data)
    if shutil.which("pdftotext"):
        return subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    import zlib

    out = []
    for chunk in data.split(b"stream\r\n")[1:] + data.split(b"stream\n")[1:]:
        body = chunk.split(b"endstream")[0]
        try:
            out.append(zlib.decompress(body).decode("latin-1"))
        except zlib.error:
            out.append(body.decode("latin-1"))
    return "".join(out)
