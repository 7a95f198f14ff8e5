"""What people read agrees with itself and with the events (issue 15, defects 4, 8, 11, 12):
one case status in every view, the dossier PDF and portal trail one row per step with labels and
names, the docs and /openapi.json saying who may post what and typing every answer, and
genealogy states, samples and packing following the events."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from uuid import UUID

import pytest

from api.commands import COMMANDS
from api.policy import EVENT_ROLES, event_roles_markdown
from ledger.services.journeys import DEMO_USERS, run_allogeneic_journey, run_autologous_journey
from tests.e2e.portal.conftest import csrf_of
from tests.e2e.test_dossier_http import pdf_text

ROOT = Path(__file__).resolve().parents[2]
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
TYPES = {*EVENT_ROLES, "OperationRefused", "ExcursionDetected"}
RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z")


def _caught_up(client) -> int:
    container = client.app.state.container
    position = container.ledger.last_position()
    assert container.runner.wait_for(position, timeout=10)
    return position


def _portal(client, user: str, path: str) -> str:
    client.cookies.clear()
    form = client.get("/portal/login")
    client.post("/portal/login", data={"username": user, "password": "demo-password-123",
                                       "csrf_token": csrf_of(form.text), "next": "/portal/cases"})
    page = client.get(path)
    assert page.status_code == 200, page.text
    return page.text


# Defect 4: one case status -------------------------------------------------------------------

@pytest.mark.req("URS-ALCOA-CONS")
def test_every_view_shows_the_same_status_for_an_infused_case(client, login, tmp_path):
    journey = run_autologous_journey(client.app.state.container.services)
    _caught_up(client)
    auditor = login("auditor")
    summary = client.get(f"/v1/cases/{journey.coi}", headers=auditor).json()
    listed = next(c for c in client.get("/v1/cases", headers=auditor).json()["items"] if c["coi"] == journey.coi)
    graph = client.get(f"/v1/cases/{journey.coi}/genealogy", headers=auditor).json()
    node = next(n for n in graph["nodes"] if n["type"] == "case" and n["coi"] == journey.coi)
    assert summary["status"] == listed["status"] == node["status"] == "infused"
    assert summary["units"] == listed["units"] == 5
    page = _portal(client, "auditor", f"/portal/cases/{journey.coi}")
    assert re.search(r'<dt>Status</dt><dd><span class="status status-infused">infused</span>', page)
    assert "status-active" not in page
    pdf = client.get(f"/v1/cases/{journey.coi}/dossier", params={"format": "pdf"}, headers=auditor)
    text = pdf_text(pdf.content, tmp_path)
    assert re.search(r"Status\s+infused", text)
    assert f"case autologous {journey.coi} [infused]" in text and "[active]" not in text


def test_an_allogeneic_recipient_counts_its_allocated_units_and_the_donor_case_moves_on(client, login):
    journey = run_allogeneic_journey(client.app.state.container.services)
    _caught_up(client)
    auditor = login("auditor")
    patient = journey.extra["patients"][0]
    summary = client.get(f"/v1/cases/{patient}", headers=auditor).json()
    assert summary["units"] == 1 and summary["status"] == "infused"
    assert client.get(f"/v1/cases/{journey.coi}", headers=auditor).json()["status"] == "infused"
    listed = {c["coi"]: c for c in client.get("/v1/cases", headers=auditor).json()["items"]}
    assert listed[patient]["units"] == 1
    page = _portal(client, "auditor", f"/portal/cases/{patient}")
    assert not re.search(r"<dt>Units</dt>\s*<dd>0</dd>", page)


def test_a_held_case_is_on_hold_everywhere(client, login):
    container = client.app.state.container
    journey = run_autologous_journey(container.services)
    response = client.post("/v1/events", headers=login("qa"), json={
        "type": "CaseOnHold", "coi": journey.coi, "data": {"reason": "deviation under review"}})
    assert response.status_code == 201, response.text
    position = response.json()["position"]
    auditor = login("auditor")
    summary = client.get(f"/v1/cases/{journey.coi}", params={"min_position": position}, headers=auditor).json()
    graph = client.get(f"/v1/cases/{journey.coi}/genealogy", headers=auditor).json()
    node = next(n for n in graph["nodes"] if n["type"] == "case")
    assert summary["status"] == node["status"] == "on_hold" and summary["milestone"] == "infused"


# Defect 8: the dossier PDF and the portal trail ------------------------------------------------

@pytest.mark.req("URS-P11-50", "URS-ALCOA-LEG")
def test_the_dossier_pdf_shows_each_step_once_with_labels_names_and_whole_times(client, login, tmp_path):
    journey = run_autologous_journey(client.app.state.container.services)
    response = client.get(f"/v1/cases/{journey.coi}/dossier", params={"format": "pdf"}, headers=login("auditor"))
    assert response.status_code == 200
    text = pdf_text(response.content, tmp_path)
    trail = text[text.index("Audit trail (21 CFR"):]
    # each packing and each move of a shipper is one row (it is recorded on the bag's stream too)
    assert trail.count("PackedInto") == 2 and trail.count("UnpackedFrom") == 2
    assert trail.count("ShipmentDispatched") == 2 and trail.count("CustodyAcknowledged") == 4
    laid_out = _layout_text(response.content, tmp_path)
    rows = [" ".join(line.split()) for line in laid_out[laid_out.index("Audit trail (21 CFR"):].splitlines()
            if RFC3339.match(line.strip()) and TYPES & set(line.split())]  # a row's first line: time, who, type
    assert len(rows) > 20 and len(rows) == len(set(rows)), [r for r in rows if rows.count(r) > 1]
    # labels, not unit ids, anywhere in the PDF
    unit_ids = {str(u) for u in journey.units.values()}
    assert not unit_ids & set(UUID_RE.findall(text))
    labels = {client.get(f"/v1/units/{u}", headers=login("auditor")).json()["label"] for u in unit_ids}
    assert all(label in text for label in labels)
    assert "Nina Nurse (nurse)" in text and "Carl Courier (courier)" in text and "Tara Technician (tech)" in text
    # event types and RFC 3339 times are never split across lines
    for event_type in ("CustodyAcknowledged", "TemperatureRecorded", "ShipmentDispatched", "MaterialCollected"):
        assert event_type in trail
    times = RFC3339.findall(trail)
    stamps = re.findall(r"\d{4}-\d{2}-\d{2}T[\d:.]*Z?", trail)
    assert stamps and all(RFC3339.fullmatch(s) for s in stamps), [s for s in stamps if not RFC3339.fullmatch(s)]
    assert len(times) >= 2 * len(rows)  # recorded and occurred, each whole


def _layout_text(data: bytes, tmp_path) -> str:
    assert shutil.which("pdftotext"), "pdftotext (poppler-utils) is needed to read the PDF back; .ci/run installs it"
    path = tmp_path / "layout.pdf"
    path.write_bytes(data)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout


def test_the_portal_trail_shows_each_step_once(client):
    journey = run_autologous_journey(client.app.state.container.services)
    _caught_up(client)
    page = _portal(client, "auditor", f"/portal/cases/{journey.coi}")
    rows = re.findall(r'<tr id="ev-[^"]+" class="trail-row[^"]*"[^>]*>(.*?)</tr>', page, re.S)
    whats = [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", r.split("</th>", 1)[1])).strip() for r in rows]
    assert len(whats) == len(set(whats)), [w for w in whats if whats.count(w) > 1]
    assert sum("PackedInto" in w for w in whats) == 2
    dispatched = next(w for w in whats if "ShipmentDispatched" in w)
    assert "contents: UNT-" in dispatched and not UUID_RE.search(dispatched)
    # the folded event keeps its anchor, so links to it still land on its row
    pack_events = [e for e in re.findall(r'id="ev-([0-9a-f-]{36})"', page)]
    assert len(pack_events) == len(set(pack_events)) > len(rows)


# Defect 11: docs and /openapi.json ------------------------------------------------------------

@pytest.mark.req("URS-P11-10k")
def test_the_docs_table_of_roles_is_the_policy():
    api_md = (ROOT / "docs" / "API.md").read_text()
    found = re.search(r"<!-- event-roles:start -->\n(.*?)\n<!-- event-roles:end -->", api_md, re.S)
    assert found, "docs/API.md has no generated event-roles table"
    assert found.group(1) == event_roles_markdown(), (
        "docs/API.md's table differs from api/policy.py: regenerate it with event_roles_markdown()")


def test_openapi_names_the_roles_of_each_event_type(client):
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    for event_type in COMMANDS:
        roles = EVENT_ROLES[event_type]
        description = schemas[f"{event_type}Request"].get("description", "")
        assert all(role in description for role in roles), (event_type, description)


def _refs(node, schemas, seen):
    if isinstance(node, dict):
        ref = node.get("$ref")
        if ref and ref.split("/")[-1] not in seen:
            seen.add(ref.split("/")[-1])
            _refs(schemas[ref.split("/")[-1]], schemas, seen)
        for value in node.values():
            _refs(value, schemas, seen)
    elif isinstance(node, list):
        for value in node:
            _refs(value, schemas, seen)
    return seen


def test_every_event_scan_and_command_request_field_has_a_description(client):
    spec = client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    bodies: set[str] = set()
    for operations in spec["paths"].values():
        for operation in operations.values():
            if "requestBody" in operation and set(operation.get("tags", [])) & {"events", "scans", "cases", "units"}:
                _refs(operation["requestBody"], schemas, bodies)
    assert {"ProductInfusedRequest", "Infuse", "ScanRequest", "Collect", "Enrolment"} <= bodies
    missing = [f"{name}.{field}" for name in sorted(bodies)
               for field, prop in schemas[name].get("properties", {}).items()
               if not prop.get("description") and not (field == "type" and "const" in prop)]
    assert missing == []


def test_every_read_route_has_a_typed_answer(client):
    spec = client.get("/openapi.json").json()
    untyped = []
    for path, operations in spec["paths"].items():
        get = operations.get("get")
        if not path.startswith("/v1") or path.startswith("/v1/epcis") or get is None:
            continue  # EPCIS answers are GS1's EPCIS 2.0 documents (application/ld+json, typed there)
        content = get["responses"]["200"].get("content", {})
        schema = (content.get("application/json") or {}).get("schema") or {}
        if not content or "application/json" in content and not (schema.get("$ref") or schema.get("type")):
            untyped.append(path)
    assert untyped == []
    for path, model in (("/v1/cases/{coi}", "CaseSummary"), ("/v1/cases", "CaseList"),
                        ("/v1/units/{unit_id}/custody", "Custody"), ("/v1/audit-trail", "AuditPage")):
        schema = spec["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        assert schema == {"$ref": f"#/components/schemas/{model}"}


def test_the_readme_lists_the_demo_users():
    readme = (ROOT / "README.md").read_text()
    for user, (name, roles, _) in DEMO_USERS.items():
        assert re.search(rf"\| `{user}` \| {re.escape(name)} \| {roles[0]} \|", readme), user


# Defect 12: genealogy states, samples and packing ------------------------------------------------

@pytest.mark.req("URS-GEN-1")
def test_genealogy_states_follow_the_events_with_samples_and_packing(client, login):
    services = client.app.state.container.services
    journey = run_autologous_journey(services)
    from ledger.services.executor import Context

    tech = Context(actor="tech", site="factory-1")
    spare = journey.units["spare_product"]
    sample = UUID(services.quality.derive(tech, coi=journey.coi, inputs=[spare], process="QC sampling",
                                          consumed=False, outputs=[{"kind": "sample"}])
                  .result.answer["outputs"][0]["unit_id"])
    services.quality.record_qc(tech, unit_id=spare, test="sterility", result="fail", value="positive",
                               sample_id=sample)  # the demo spec judges sterility: a value is due
    _caught_up(client)
    graph = client.get(f"/v1/cases/{journey.coi}/genealogy", headers=login("auditor")).json()
    status = {n["id"]: n["status"] for n in graph["nodes"]}
    u = {k: str(v) for k, v in journey.units.items()}
    assert status[u["shipper"]] == status[u["return_shipper"]] == "delivered"
    assert status[u["spare_product"]] == "qc_failed"
    assert status[u["final_product"]] == "infused" and status[u["apheresis_bag"]] == "consumed"
    donorless = next(n for n in graph["nodes"] if n["type"] == "case")
    assert donorless["status"] == "infused"
    packed = {(e["from"], e["to"]) for e in graph["edges"] if e["relation"] == "packed_in"}
    assert packed == {(u["apheresis_bag"], u["shipper"]), (u["final_product"], u["return_shipper"])}

    page = _portal(client, "auditor", f"/portal/cases/{journey.coi}")
    columns = dict(re.findall(r'<text x="(\d+)" y="22" class="col-title"[^>]*>([^<]+)</text>', page))
    column_of = {name: int(x) for x, name in columns.items()}
    boxes = re.findall(r'<g class="node node-(\w+)"[^>]*>\s*<rect x="(\d+)"[^>]*></rect>\s*<text[^>]*>([^<]*)</text>\s*'
                       r'<text[^>]*>([^<]*)</text>\s*<text[^>]*>([^<]*)</text>', page)
    by_label = {label: (css, int(x) + 92, state) for css, x, _, label, state in boxes}
    sample_label = client.get(f"/v1/units/{sample}", headers=login("auditor")).json()["label"]
    assert by_label[sample_label][1] == column_of["Samples"] and by_label[sample_label][0] == "sample"
    shipper_label = client.get(f"/v1/units/{u['shipper']}", headers=login("auditor")).json()["label"]
    assert by_label[shipper_label][1] == column_of["Shippers"] and by_label[shipper_label][2] == "delivered"
    assert any(r for r in re.findall(r"<td>([^<]*)</td><td>travelled in</td><td>([^<]*)</td>", page)
               if shipper_label in r[1])
    assert "qc failed" in page


def test_a_donor_case_moves_on_with_its_doses(client, login):
    journey = run_allogeneic_journey(client.app.state.container.services)
    _caught_up(client)
    graph = client.get(f"/v1/cases/{journey.coi}/genealogy", headers=login("auditor")).json()
    donor = next(n for n in graph["nodes"] if n["type"] == "case" and n["kind"] == "donor")
    assert donor["status"] == "infused"  # not "released": its doses went on
    dose = str(journey.units["dose_1"])
    assert next(n for n in graph["nodes"] if n["id"] == dose)["status"] == "infused"


def test_packed_then_in_transit(client, login):
    from ledger.services.executor import Context

    s = client.app.state.container.services
    nurse, courier = Context(actor="nurse", site="hospital-1"), Context(actor="courier")
    coi = s.cases.enrol(nurse, kind="autologous", product="CAR-T (example)", treating_site="hospital-1",
                        mrn="MRN-7").result.answer["coi"]
    bag = UUID(s.units.label(nurse, coi=coi, kind="apheresis_bag", spec={"min_celsius": 2, "max_celsius": 8})
               .result.answer["unit_id"])
    shipper = UUID(s.units.label(nurse, coi=coi, kind="shipper").result.answer["unit_id"])
    s.units.collect(nurse, unit_id=bag, wristband_mrn="MRN-7", material="leukapheresis", collection_site="hospital-1")
    s.units.pack(nurse, unit_id=bag, container_id=shipper)

    def states():
        _caught_up(client)
        graph = client.get(f"/v1/cases/{coi}/genealogy", headers=login("auditor")).json()
        found = {n["id"]: n["status"] for n in graph["nodes"]}
        return found[str(bag)], found[str(shipper)], found[next(n["id"] for n in graph["nodes"] if n["type"] == "case")]

    assert states() == ("packed", "packed", "collected")
    s.units.handover(nurse, unit_id=shipper, to_party="courier", location="hospital-1")
    s.units.acknowledge(courier, unit_id=shipper, location="hospital-1")
    s.units.dispatch(courier, unit_id=shipper, carrier="X", tracking="T-1", from_site="hospital-1",
                     to_site="factory-1")
    assert states() == ("in_transit", "in_transit", "collected")
