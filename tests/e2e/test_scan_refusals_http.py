"""``POST /v1/scans`` shows each refused scan as parse errors with their code and position
(0-based offset into ``raw``): in the problem when nothing is expected, in the response when the
scan is recorded against an expected case. One or more refusals from each family (ISBT 128, EPC).
"""

from __future__ import annotations

import pytest

SEC = "PL001499Z549917123456A00T041600320181231"
SYMBOL_1 = "=+05000=Z54991712345600=%T300=<T0416003&>0183652359&,4" + SEC  # ST-012 6.2

REFUSALS = [
    ("=A999917123456", "ISBT_TRUNCATED", 0),  # DIN without its flag characters
    ("]C0=A999917123456", "ISBT_TRUNCATED", 3),
    ("=,00001a", "BAD_FORMAT", 7),  # 032 is {A-Z; 0-9}
    (SYMBOL_1[:-8] + "20181230", "ISBT_SEC_MISMATCH", 86),  # SEC expiry is not the label's
    ("=G12341765432171", "CHECK_DIGIT", 14),  # type 3 flags
    ("urn:epc:tag:sgtin-96:3.0614141.812345.06789", "EPC_NOT_ENCODABLE", 38),
    ("urn:epc:tag:sgtin-96:3.0614141.812345.274877906944", "EPC_NOT_ENCODABLE", 38),
    ("FB0074257BF7194E4000001A85", "EPC_UNSUPPORTED", 0),  # DSGTIN+
]


@pytest.mark.parametrize(("raw", "code", "position"), REFUSALS)
def test_a_refused_scan_answers_its_parse_errors(client, login, raw, code, position):
    response = client.post("/v1/scans", headers=login("nurse"), json={"raw": raw, "purpose": "verify"})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "UNKNOWN_IDENTIFIER"
    assert [(e["code"], e["position"]) for e in body["parse_errors"]] == [(code, position)]
    assert all(e["message"] for e in body["parse_errors"])


def test_a_refused_scan_against_an_expected_case_is_recorded_with_its_errors(client, login):
    nurse = login("nurse")
    coi = client.post("/v1/cases", headers=nurse, json={"kind": "autologous", "product": "CAR-T",
                      "treating_site": "hospital-1", "mrn": "MRN-SCAN-REF-1"}).json()["answer"]["coi"]
    response = client.post("/v1/scans", headers=nurse, json={"raw": "=A999917123456", "purpose": "verify",
                                                             "expect": {"coi": coi}})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["verdict"] == "unknown" and body["identifiers"] == []
    assert body["errors"] == [{"code": "ISBT_TRUNCATED", "position": 0, "message": body["errors"][0]["message"]}]


def test_the_same_label_read_whole_is_accepted(client, login):
    nurse = login("nurse")
    coi = client.post("/v1/cases", headers=nurse, json={"kind": "autologous", "product": "CAR-T",
                      "treating_site": "hospital-1", "mrn": "MRN-SCAN-REF-2"}).json()["answer"]["coi"]
    labelled = client.post("/v1/units", headers=nurse, json={"coi": coi, "kind": "apheresis_bag",
                                                             "identifiers": {"din": "Z549917123456"}}).json()
    assert client.app.state.container.wait_for(labelled["position"], timeout=5)
    response = client.post("/v1/scans", headers=nurse, json={"raw": SYMBOL_1, "purpose": "verify"})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["errors"] == [] and body["unit_id"] == labelled["answer"]["unit_id"]
    assert {"kind": "isbt_sec", "value": SEC} in body["identifiers"]
