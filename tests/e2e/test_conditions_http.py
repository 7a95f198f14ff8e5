"""Logger uploads over HTTP: the answer says what was recorded and applied to whom (readings
before packing are counted, never silently dropped); what a container carries is kept to a
temperature range (its own or inherited, else packing is refused); excursions on what it
carries block release; the dossier prints the range or "no spec"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ledger.services.journeys import DEMO_PASSWORD, run_autologous_journey
from tests.e2e.test_dossier_http import pdf_text
from tests.support import disposition_open, sign_off_review

OPERATOR = "integrator"  # bound to hospital-1 (the case's) and factory-1 (where it labels, so the qa may act)


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class Steps:
    def __init__(self, client, login) -> None:
        self.client, self.login = client, login
        self.clock = datetime.now(UTC) - timedelta(days=2)

    def at(self, minutes: int = 5) -> str:
        self.clock += timedelta(minutes=minutes)
        return iso(self.clock)

    def event(self, user, type_, data, *, expect=201, code=None, sign=None, **target):
        body = {"type": type_, "data": data, "occurred_at": self.at(), **target}
        if sign:
            body["esign"] = {"user_id": user, "password": DEMO_PASSWORD, "meaning": sign}
        response = self.client.post("/v1/events", headers=self.login(user), json=body)
        assert response.status_code == expect, response.text
        if code:
            assert response.headers["content-type"].startswith("application/problem+json")
            assert response.json()["code"] == code, response.json()
        return response.json()

    def label(self, coi, kind, spec=None) -> str:
        data = {"kind": kind} | ({"spec": spec} if spec else {})
        return self.event(OPERATOR, "UnitLabelled", data, coi=coi)["answer"]["unit_id"]

    def upload(self, unit, start: datetime, temps: list[float]):
        readings = [{"t": iso(start + timedelta(minutes=i)), "celsius": c} for i, c in enumerate(temps)]
        response = self.client.post(f"/v1/units/{unit}/temperatures", headers=self.login(OPERATOR),
                                    json={"logger_id": "LOG-7", "readings": readings})
        assert response.status_code == 201, response.text
        return response.json()


def _case(steps: Steps) -> str:
    return steps.event("nurse", "CaseEnrolled", {"kind": "autologous", "product": "CAR-T",
                                                 "treating_site": "hospital-1", "mrn": "MRN-C-1"})["answer"]["coi"]


@pytest.mark.req("URS-TMP-1")
def test_the_upload_answers_what_it_recorded_applied_and_opened(client, login):
    steps = Steps(client, login)
    coi = _case(steps)
    bag = steps.label(coi, "cryobag", {"min_celsius": 2, "max_celsius": 8})
    shipper = steps.label(coi, "shipper")
    start = steps.clock
    steps.clock += timedelta(minutes=10)
    steps.event(OPERATOR, "PackedInto", {"container_id": shipper}, unit_id=bag)  # packed at start + 15 min
    packed = steps.clock
    steps.clock = start + timedelta(minutes=40)
    # 9.6 °C for the first 3 minutes (before packing: not applied to the bag), 9.6 °C at 20..21 (inside)
    temps = [9.6 if i < 3 or 20 <= i < 22 else 5.0 for i in range(30)]
    answer = steps.upload(shipper, start, temps)
    report = answer["answer"]
    assert answer["event_id"] and answer["events"][0]["stream"] == shipper
    assert (report["logger"], report["readings"]) == ("LOG-7", 30)
    logged, inside = report["units"]
    assert logged["unit_id"] == shipper and logged["readings_applied"] == 30
    assert logged["limits"] == {"min_celsius": 2.0, "max_celsius": 8.0, "source": "contents"}
    before = sum(1 for i in range(30) if start + timedelta(minutes=i) < packed)
    assert inside["unit_id"] == bag and inside["via_container"] == shipper
    assert inside["not_applied"] == {"before_packing": before, "after_unpacking": 0}
    assert inside["readings_applied"] == 30 - before
    assert (inside["excursions_detected"], inside["excursions_opened"]) == (1, 1)
    assert (report["excursions_detected"], report["excursions_opened"]) == (1, 1)
    assert logged["readings_checked"] == 0  # the inherited range is checked on the bag
    opened = [e for e in answer["events"] if e["stream"] == bag]
    assert len(opened) == 1

    again = steps.upload(shipper, start, temps)["answer"]  # the same file again: nothing new opened
    assert (again["excursions_detected"], again["excursions_opened"]) == (1, 0)

    position = answer["events"][-1]["position"]
    seen = client.get(f"/v1/units/{shipper}/conditions", params={"min_position": position},
                      headers=login("auditor")).json()
    assert seen["spec"] == {"min_celsius": 2.0, "max_celsius": 8.0, "source": "contents"}
    assert [x["source"] for x in client.get(f"/v1/units/{bag}/conditions", headers=login("auditor")).json()
            ["excursions"]] == [shipper]
    schema = client.get("/openapi.json").json()["components"]["schemas"]
    assert {"readings", "excursions_opened", "units"} <= set(schema["UploadReport"]["properties"])


def test_a_container_carries_nothing_without_a_temperature_range(client, login):
    steps = Steps(client, login)
    coi = _case(steps)
    dose = steps.label(coi, "final_product_bag", {"qc_required": ["sterility"]})
    frozen = steps.label(coi, "cryobag", {"min_celsius": -196, "max_celsius": -150})
    bare_shipper = steps.label(coi, "shipper")
    steps.event(OPERATOR, "PackedInto", {"container_id": bare_shipper}, unit_id=dose, expect=409,
                code="NO_TEMPERATURE_SPEC")
    cold_shipper = steps.label(coi, "shipper", {"min_celsius": 2, "max_celsius": 8})
    steps.event(OPERATOR, "PackedInto", {"container_id": cold_shipper}, unit_id=frozen, expect=409,
                code="SPEC_CONFLICT")
    steps.event(OPERATOR, "PackedInto", {"container_id": cold_shipper}, unit_id=dose)
    start = steps.clock
    steps.clock += timedelta(minutes=20)
    report = steps.upload(cold_shipper, start, [5.0, 9.6, 9.6, 5.0])["answer"]
    inside = report["units"][1]
    assert inside["unit_id"] == dose
    assert inside["limits"] == {"min_celsius": 2.0, "max_celsius": 8.0, "source": "container"}
    assert inside["excursions_opened"] == 1
    steps.event(OPERATOR, "UnpackedFrom", {"container_id": cold_shipper}, unit_id=dose)
    steps.event(OPERATOR, "QCResultRecorded", {"test": "sterility", "result": "pass"}, unit_id=dose)
    steps.event("qa", "ProductReleased", {}, unit_id=dose, sign="released", expect=409, code="EXCURSION_UNASSESSED")
    excursion = client.get(f"/v1/units/{dose}", headers=login("qa")).json()["excursions"][0]["id"]
    steps.event("qa", "ExcursionAssessed", {"excursion_id": excursion, "decision": "use",
                                            "rationale": "2 minutes at 9.6 °C: within validated limits"},
                unit_id=dose, sign="assessed")
    # the shipper's own excursion (its logger's) is the case's too: QA dispositions it before signing off
    sign_off_review(client, login("qa"), coi, expect=409, code="REVIEW_INCOMPLETE")
    assert [x.split(":")[0] for x in disposition_open(client, login("qa"), coi)] == ["excursion_unassessed"]
    sign_off_review(client, login("qa"), coi)
    steps.event("qa", "ProductReleased", {}, unit_id=dose, sign="released")


def test_the_dossier_prints_the_range_or_no_spec(client, login, tmp_path):
    services = client.app.state.container.services
    journey = run_autologous_journey(services)
    position = services.ledger.last_position()
    auditor = login("auditor")
    shipper = client.get(f"/v1/units/{journey.units['shipper']}/conditions", params={"min_position": position},
                         headers=auditor).json()
    assert shipper["spec"] == {"min_celsius": 2.0, "max_celsius": 8.0, "source": "contents"}
    pdf = client.get(f"/v1/cases/{journey.coi}/dossier", params={"format": "pdf"}, headers=auditor)
    assert pdf.status_code == 200
    text = pdf_text(pdf.content, tmp_path)
    assert "None..None" not in text and "spec None" not in text
    assert "spec 2..8" in text and "inherited from contents" in text and "spec -196..-150" in text
