"""QA's work queue and the search QA needs, over real HTTP on SQLite and PostgreSQL.

Known journeys (the demo's autologous and allogeneic ones, a case in manufacturing with a filled
but unreleased product, a case enrolled at the hospital only) give known rows: stage, open
exceptions by severity, due date, figures; every filter, sort and the cursor; every search key
(COI, unit label, DIN with and without its ``=``, lot, tracking number) in ``GET /v1/cases``,
``GET /v1/review-queue`` and the portal; site scope; and the allogeneic patient's page showing
the QC and release of the dose given.
"""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import pytest
from sqlalchemy import text

from ledger.services.executor import Context
from ledger.services.journeys import DEMO_PASSWORD, FACTORY, HOSPITAL, sign_off_review
from projections.verify_read_models import verify_read_models

from .portal.conftest import csrf_of
from .portal.demo import seed_demo, wait_for_read_models

DIN = "A999926123456"
DIN_SCANNED = "=A99992612345600"  # ISBT 128 data structure 001: '=' + DIN + two flag characters


@pytest.fixture
def world(client):
    """The demo journeys, a case filled but not released (``manufacturing``), a case only enrolled
    at the hospital (``local``), and a unit carrying an ISBT 128 DIN."""
    container = client.app.state.container
    demo = seed_demo(container)
    s = container.services
    clock = s.quality.clock()

    def at(actor: str, site: str, hours: float) -> Context:
        return Context(actor=actor, site=site, occurred_at=(clock - timedelta(hours=hours)).strftime(
            "%Y-%m-%dT%H:%M:%SZ"), may_backfill=True, backfill_reason="test journey")

    made = s.cases.enrol(at("nurse", HOSPITAL, 50), kind="autologous", product="CAR-T", treating_site=HOSPITAL,
                         mrn="MRN-Q-1", collection_site=HOSPITAL).result.answer["coi"]
    bag = UUID(s.units.label(at("nurse", HOSPITAL, 49), coi=made, kind="apheresis_bag",
                             spec={"min_celsius": 2, "max_celsius": 8}, identifiers={"din": DIN_SCANNED}
                             ).result.answer["unit_id"])
    s.units.collect(at("nurse", HOSPITAL, 48), unit_id=bag, wristband_mrn="MRN-Q-1", material="leukapheresis",
                    collection_site=HOSPITAL)
    s.units.handover(at("nurse", HOSPITAL, 47), unit_id=bag, to_party="tech", location=HOSPITAL)
    s.units.acknowledge(at("tech", FACTORY, 46), unit_id=bag, location=FACTORY)
    s.quality.start_manufacturing(at("tech", FACTORY, 45), coi=made, lot="LOT-Q-7", inputs=[bag],
                                  process="expansion")
    expiry = (clock + timedelta(days=20)).strftime("%Y-%m-%dT%H:%M:%SZ")
    filled = s.quality.fill(at("tech", FACTORY, 10), coi=made, lot="LOT-Q-7", outputs=[
        {"kind": "final_product_bag", "spec": {"qc_required": ["sterility"], "expiry": expiry}}])
    product = filled.result.answer["outputs"][0]
    local = s.cases.enrol(at("nurse", HOSPITAL, 5), kind="autologous", product="CAR-T", treating_site=HOSPITAL,
                          mrn="MRN-Q-2").result.answer["coi"]
    wait_for_read_models(container)
    return {"demo": demo, "made": made, "bag": str(bag), "product": product, "expiry": expiry, "local": local}


def queue(client, login, user="qa", **params):
    response = client.get("/v1/review-queue", headers=login(user), params=params)
    assert response.status_code == 200, response.text
    return response.json()


def rows_by_coi(answer):
    return {r["coi"]: r for r in answer["items"]}


def test_queue_rows_on_known_journeys(client, login, world):
    demo = world["demo"]
    answer = queue(client, login, "auditor", limit=500)
    rows = rows_by_coi(answer)
    auto, made, local = rows[demo.coi], rows[world["made"]], rows[world["local"]]
    assert auto["stage"] == "infused" and auto["kind"] == "autologous"
    # the wrong-patient infusion was refused and recorded: COI-critical, open until QA dispositions it
    assert auto["open"]["coi_critical"] >= 1 and auto["oldest_open_at"] and auto["oldest_open_age_s"] > 0
    assert auto["open"]["total"] == sum(auto["open"][s] for s in ("coi_critical", "gmp", "informational"))
    # two final product bags; the spare is neither released nor infused: it is what is due
    assert auto["due"] is not None and auto["infused_at"] and auto["released_at"] and auto["collected_at"]
    figures = auto["figures"]
    assert 10 < figures["needle_to_needle_days"] < 25  # about three weeks, collection to infusion
    assert 0 < figures["manufacturing_end_to_signoff_h"] <= figures["manufacturing_end_to_release_h"]

    assert made["stage"] == "awaiting_review" and made["due"] == world["expiry"].replace("Z", ".000000Z")
    assert made["released_at"] is None and made["figures"]["manufacturing_end_to_release_h"] is None
    assert 1.9 < made["figures"]["needle_to_needle_days"] < 2.1  # collected 48 h ago, not infused: to now
    assert local["stage"] == "in_progress" and local["due"] is None and local["open"]["total"] == 0
    assert local["figures"]["needle_to_needle_days"] is None

    patient, donor = rows[demo.allogeneic_coi], rows[demo.donor_coi]
    assert patient["stage"] == "infused" and donor["stage"] == "infused"
    # an allogeneic patient's figures count from the dose given (made, signed off and released on the
    # donor case), as the release summary does; needle to needle needs a collection of the patient's own
    assert patient["figures"]["needle_to_needle_days"] is None and donor["figures"]["needle_to_needle_days"] is None
    assert 0 < patient["figures"]["manufacturing_end_to_signoff_h"] <= patient["figures"][
        "manufacturing_end_to_release_h"]
    assert patient["manufactured_at"] == donor["manufactured_at"]
    assert answer["total"] == len(answer["items"]) and sum(answer["stages"].values()) == answer["total"]
    n2n = answer["figures"]["needle_to_needle_days"]
    assert n2n["n"] == 2 and n2n["min"] <= n2n["median"] <= n2n["p90"] <= n2n["max"] == figures["needle_to_needle_days"]


def test_the_stage_follows_the_review_sign_off(client, login, world):
    """Filled, not signed off: awaiting review; signed off: awaiting release; an exception raised after
    the sign-off (even an informational one) makes it outdated: awaiting review; signed off again and
    released: released, nothing due; a quarantine then counts as an open GMP exception."""
    container, made, product = client.app.state.container, world["made"], world["product"]["unit_id"]
    qc = client.post("/v1/events", headers=login("tech"), json={
        "type": "QCResultRecorded", "unit_id": product, "data": {"test": "sterility", "result": "pass"}})
    assert qc.status_code == 201, qc.text
    sign_off_review(container.services, Context(actor="qa", site=FACTORY), made)
    wait_for_read_models(container)
    row = rows_by_coi(queue(client, login, q=made))[made]
    assert row["stage"] == "awaiting_release" and row["signed_off_at"] and row["open"]["total"] == 0
    assert row["figures"]["manufacturing_end_to_signoff_h"] > 9  # filled 10 h ago, signed off now
    assert made in rows_by_coi(queue(client, login, stage="awaiting_release"))

    label = client.get(f"/v1/units/{product}", headers=login("qa")).json()["label"]
    scan = client.post("/v1/scans", headers=login("qa"), json={"raw": label, "purpose": "infusion"})
    assert scan.status_code == 201 and scan.json()["verdict"] == "wrong_step", scan.text
    row = queue(client, login, q=made, min_position=scan.json()["event"]["position"])["items"][0]
    assert row["stage"] == "awaiting_review" and row["open"] == {
        "coi_critical": 0, "gmp": 0, "informational": 1, "total": 1}

    sign_off_review(container.services, Context(actor="qa", site=FACTORY), made)  # informational may stay open
    wait_for_read_models(container)
    assert queue(client, login, q=made)["items"][0]["stage"] == "awaiting_release"
    released = client.post("/v1/events", headers=login("qa"), json={
        "type": "ProductReleased", "unit_id": product, "data": {"notes": "meets specification"},
        "esign": {"user_id": "qa", "password": DEMO_PASSWORD, "meaning": "released"}})
    assert released.status_code == 201, released.text
    row = queue(client, login, q=made, min_position=released.json()["position"])["items"][0]
    assert row["stage"] == "released" and row["due"] is None and row["released_at"]
    assert row["figures"]["manufacturing_end_to_release_h"] >= row["figures"]["manufacturing_end_to_signoff_h"]

    quarantined = client.post("/v1/events", headers=login("qa"), json={
        "type": "UnitQuarantined", "unit_id": product, "data": {"reason": "bag seal to check"}})
    assert quarantined.status_code == 201, quarantined.text
    row = queue(client, login, q=made, min_position=quarantined.json()["position"])["items"][0]
    assert row["stage"] == "released" and row["open"]["gmp"] == 1 and row["oldest_open_age_s"] >= 0
    assert [r["coi"] for r in queue(client, login, severity="gmp", q=made)["items"]] == [made]


def test_the_queue_read_model_is_what_the_events_make_of_it(client, login, world, settings):
    """A replay of the log into a fresh database gives the same ``queue_cases``, ``queue_products``
    and ``search_keys`` rows (and every other read model's): the read model is deterministic."""
    report = verify_read_models(settings.database)
    assert report.tables >= 3 and report.rows > 0
    assert [d.line() for d in report.differences] == []
    with client.app.state.container.engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM search_keys WHERE scheme = 'tracking'")).scalar() > 0
        assert conn.execute(text("SELECT COUNT(*) FROM queue_products")).scalar() >= 5


def test_filters_sorts_and_cursor(client, login, world):
    demo = world["demo"]
    everything = queue(client, login, "auditor", limit=500)
    assert {r["coi"] for r in queue(client, login, "auditor", stage="awaiting_review")["items"]} == {world["made"]}
    assert world["local"] in rows_by_coi(queue(client, login, "auditor", stage="in_progress"))
    infused = queue(client, login, "auditor", stage="infused")
    assert {demo.coi, demo.allogeneic_coi, demo.donor_coi} <= set(rows_by_coi(infused))
    assert infused["stages"] == everything["stages"]  # the stage counts ignore the stage filter
    critical = queue(client, login, "auditor", severity="coi_critical")["items"]
    assert demo.coi in {r["coi"] for r in critical} and all(r["open"]["coi_critical"] for r in critical)
    assert world["local"] not in rows_by_coi(queue(client, login, "auditor", site=FACTORY))
    assert world["local"] in rows_by_coi(queue(client, login, "auditor", site=HOSPITAL))

    by_coi = [r["coi"] for r in queue(client, login, "auditor", sort="coi", limit=500)["items"]]
    assert by_coi == sorted(by_coi) and len(by_coi) == everything["total"]
    due = [r["due"] for r in queue(client, login, "auditor", sort="due", limit=500)["items"]]
    known = [d for d in due if d]
    assert known == sorted(known) and due[:len(known)] == known  # earliest first, unknown last
    ages = [r["oldest_open_at"] for r in queue(client, login, "auditor", sort="age", limit=500)["items"]]
    opened = [a for a in ages if a]
    assert opened == sorted(opened) and ages[:len(opened)] == opened  # oldest open first
    most = queue(client, login, "auditor", sort="open", limit=500)["items"]
    keys = [(r["open"]["coi_critical"], r["open"]["gmp"], r["open"]["informational"]) for r in most]
    assert keys == sorted(keys, reverse=True)

    for sort in ("age", "due", "coi", "open"):  # walking the pages gives every row once, in order
        walked, cursor = [], None
        while True:
            page = queue(client, login, "auditor", sort=sort, limit=2, **({"cursor": cursor} if cursor else {}))
            walked += [r["coi"] for r in page["items"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert walked == [r["coi"] for r in queue(client, login, "auditor", sort=sort, limit=500)["items"]]

    bad = client.get("/v1/review-queue", headers=login("auditor"), params={"cursor": "not-a-cursor"})
    assert bad.status_code == 400 and bad.json()["code"] == "INVALID_CURSOR"
    other_sort = queue(client, login, "auditor", sort="coi", limit=1)["next_cursor"]
    mixed = client.get("/v1/review-queue", headers=login("auditor"), params={"cursor": other_sort, "sort": "due"})
    assert mixed.status_code == 400 and mixed.json()["code"] == "INVALID_CURSOR"
    for params in ({"stage": "waiting"}, {"severity": "high"}, {"sort": "size"}, {"limit": 0}):
        refused = client.get("/v1/review-queue", headers=login("auditor"), params=params)
        assert refused.status_code == 422 and refused.json()["code"], params
    assert client.get("/v1/review-queue", headers=login("courier")).status_code == 403
    assert client.get("/v1/review-queue").status_code == 401


def search_keys(world, client, login):
    demo = world["demo"]
    label = client.get(f"/v1/units/{world['product']['unit_id']}", headers=login("auditor")).json()["label"]
    return {
        "coi": (world["made"].lower(), world["made"]),
        "label": (label, world["made"]),
        "din": (DIN, world["made"]),
        "din with its =": ("=" + DIN, world["made"]),
        "din as scanned, = and flags": (DIN_SCANNED, world["made"]),
        "din in printed groups": ("=A9999 26 123456 00", world["made"]),
        "lot": ("LOT-Q-7", world["made"]),
        "batch of a split": ("ALLO-1", demo.donor_coi),
        "tracking number": ("TRK-OUT-1", demo.coi),
        "tracking number, lower case": ("trk-back-1", demo.coi),
    }


def test_every_search_key_in_the_case_list_and_the_queue(client, login, world):
    for name, (query, coi) in search_keys(world, client, login).items():
        cases = client.get("/v1/cases", headers=login("auditor"), params={"q": query})
        assert cases.status_code == 200, cases.text
        assert [c["coi"] for c in cases.json()["items"]] == [coi], name
        assert [r["coi"] for r in queue(client, login, "auditor", q=query)["items"]] == [coi], name
    for nothing in ("LOT-NONE", "=A99992699999900", "   "):
        found = client.get("/v1/cases", headers=login("auditor"), params={"q": nothing}).json()["items"]
        assert (found == []) == bool(nothing.strip()), nothing
    assert client.get("/v1/cases", headers=login("auditor"), params={"q": "x" * 201}).status_code == 422


def test_every_search_key_in_the_portal(client, login, world):
    client.cookies.clear()
    form = client.get("/portal/login")
    client.post("/portal/login", data={"username": "auditor", "password": DEMO_PASSWORD,
                                       "csrf_token": csrf_of(form.text), "next": "/portal/cases"})
    for name, (query, coi) in search_keys(world, client, login).items():
        found = client.get("/portal/cases", params={"q": query}, follow_redirects=False)
        assert found.status_code == 303, (name, found.text[:300])
        assert found.headers["location"].startswith(f"/portal/cases/{coi}"), name
    din = client.get("/portal/cases", params={"q": DIN_SCANNED}, follow_redirects=False)
    assert din.headers["location"] == f"/portal/cases/{world['made']}#unit-{world['bag']}"
    assert "No case or unit matches" in client.get("/portal/cases", params={"q": "LOT-NONE"}).text


def test_another_sites_qa_does_not_see_a_case(client, login, world, hospital_qa):
    demo = world["demo"]
    factory = rows_by_coi(queue(client, login, "qa", limit=500))  # the demo's QA works at factory-1
    assert world["local"] not in factory and world["made"] in factory and demo.coi in factory
    hospital = rows_by_coi(queue(client, login, hospital_qa, limit=500))
    assert world["local"] in hospital
    assert queue(client, login, "qa", q=world["local"])["items"] == []
    assert client.get("/v1/cases", headers=login("qa"), params={"q": world["local"]}).json()["items"] == []
    assert len(factory) == queue(client, login, "qa")["total"]


def test_the_allogeneic_patients_page_shows_the_dose_qc_and_release(client, login, world, hospital_qa):
    demo = world["demo"]
    for user in ("auditor", hospital_qa):
        client.cookies.clear()
        form = client.get("/portal/login")
        client.post("/portal/login", data={"username": user, "password": DEMO_PASSWORD,
                                           "csrf_token": csrf_of(form.text), "next": "/portal/cases"})
        page = client.get(f"/portal/cases/{demo.allogeneic_coi}")
        assert page.status_code == 200
        html = page.text
        section = html[html.index('id="doses"'):html.index('id="genealogy"')]
        assert "Dose given: QC and release" in section and "sterility" in section and ">pass<" in section
        assert "Dr. Quentin Assurance" in section and "released" in section and "lot release" in section
        assert f'href="/portal/cases/{demo.donor_coi}#unit-' in section  # the donor case is in their scope
    autologous = client.get(f"/portal/cases/{demo.coi}").text
    assert 'id="doses"' not in autologous
