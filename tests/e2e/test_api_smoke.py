from __future__ import annotations


def test_health_and_enrol_and_label(client, login):
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").status_code == 200
    nurse = login("nurse")
    enrolled = client.post("/v1/cases", headers=nurse, json={
        "kind": "autologous", "product": "CAR-T", "treating_site": "hospital-1", "mrn": "MRN-123-456"})
    assert enrolled.status_code == 201, enrolled.text
    coi = enrolled.json()["answer"]["coi"]
    case = client.get(f"/v1/cases/{coi}", headers=nurse)
    assert case.status_code == 200 and case.json()["coi"] == coi and "patient_ref" not in case.json()
    unit = client.post("/v1/units", headers=nurse, json={"coi": coi, "kind": "apheresis_bag",
                                                         "spec": {"min_celsius": 2, "max_celsius": 8}})
    assert unit.status_code == 201, unit.text
    unit_id = unit.json()["answer"]["unit_id"]
    assert client.get(f"/v1/units/{unit_id}", headers=nurse).json()["coi"] == coi
    png = client.get(f"/v1/units/{unit_id}/label.png", headers=nurse)
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
