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


def _requests_counted(client) -> dict[tuple[str, str, str], float]:
    counts = {}
    for line in client.get("/metrics").text.splitlines():
        if line.startswith("ledger_http_requests_total{"):
            labels, value = line[len("ledger_http_requests_total{"):].rsplit("} ", 1)
            parts = dict(item.split("=", 1) for item in labels.split(","))
            counts[(parts["method"].strip('"'), parts["route"].strip('"'), parts["status"].strip('"'))] = float(value)
    return counts


def test_portal_requests_are_counted_by_their_route_template(client):
    assert client.get("/portal/login").status_code == 200
    assert client.get("/portal/static/portal.css").status_code == 200
    assert client.get("/portal/", follow_redirects=False).status_code == 303
    assert client.get("/", follow_redirects=False).status_code == 307
    assert client.get("/no/such/page").status_code == 404
    counts = _requests_counted(client)
    assert counts[("GET", "/portal/login", "200")] == 1
    assert counts[("GET", "/portal/static/{name}", "200")] == 1
    assert counts[("GET", "/portal/", "303")] == 1
    assert counts[("GET", "/", "307")] == 1
    assert counts[("GET", "unmatched", "404")] == 1  # only what no route answers
    # portal pages name an inline icon: a browser asks no /favicon.ico that nothing answers
    assert '<link rel="icon" href="data:,">' in client.get("/portal/login").text


def test_the_root_sends_a_browser_to_the_portal(client):
    response = client.get("/", follow_redirects=False)
    assert response.status_code == 307 and response.headers["location"] == "/portal"
    assert client.get("/").status_code == 200  # through to the portal's sign-in page
