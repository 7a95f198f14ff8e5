"""Site-scoped reads over real HTTP (SQLite and PostgreSQL): a case at each of two hospitals; every
GET route that returns case or unit data, the portal and the EPCIS query, read by own-site staff,
other-site staff, global QA and auditors, factory staff and couriers.

The rule (``api.authority.read_scope``): a principal bound to sites reads the cases that involve
one of them (``ledger.domain.scope``); QA, auditor and admin accounts bound to no site read
every case; a courier also reads the units it holds or held. Outside its scope a case or unit
answers exactly as an unknown one; lists omit it.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID, uuid4

import pytest
from sqlalchemy import text

from api.app import create_app
from api.epcis.validation import schema_validator
from ledger.services.executor import Context
from ledger.services.journeys import DEMO_PASSWORD, FACTORY, HOSPITAL

from .portal.conftest import csrf_of

HOSPITAL_2 = "hospital-2"
UNKNOWN_COI = "COI-0000-0000-0"
NEW_USERS = {  # user -> (roles, sites)
    "nurse2": (["operator"], [HOSPITAL_2]),
    "clinician2": (["clinician"], [HOSPITAL_2]),
    "qa-global": (["qa"], []),
    "free-courier": (["courier"], []),
    "free-operator": (["operator"], []),
}

# Every GET route of the app, with what it returns. "case" and "unit" routes answer 404 outside the
# scope; "list" routes omit what is outside it; "none" carry no case or unit data.
ROUTES = {
    "/v1/cases/{coi}": "case", "/v1/cases/{coi}/genealogy": "case", "/v1/cases/{coi}/dossier": "case",
    "/portal/cases/{coi}": "case", "/portal/cases/{coi}/audit-trail.csv": "case",
    "/portal/cases/{coi}/dossier.json": "case", "/portal/cases/{coi}/dossier.pdf": "case",
    "/portal/cases/{coi}/epcis.json": "case",
    "/v1/cases/{coi}/release-summary": "case", "/portal/cases/{coi}/release": "case",
    "/portal/cases/{coi}/release.pdf": "case",
    "/v1/units/{unit_id}": "unit", "/v1/units/{unit_id}/label.{fmt}": "unit",
    "/v1/units/{unit_id}/genealogy": "unit", "/v1/units/{unit_id}/custody": "unit",
    "/v1/units/{unit_id}/conditions": "unit",
    "/v1/cases": "list", "/v1/audit-trail": "list", "/v1/exceptions": "list", "/v1/epcis/events": "list",
    "/v1/signatures/pending": "list",  # scope: tests/e2e/test_signatures_http.py
    "/portal/cases": "list", "/v1/review-queue": "list", "/portal/review": "list",
    "/v1/deviations/{deviation_id}": "none",  # answered within its case's scope (ledger/domain/review.py)
    "/v1/products/{product}/specs": "none", "/v1/products/{product}/specs/{version}": "none",  # master data
    "/healthz": "none", "/readyz": "none", "/metrics": "none", "/v1/ledger/keys": "none",
    "/v1/ledger/checkpoint": "none", "/v1/ledger/checkpoints.txt": "none",
    "/v1/ledger/proofs/inclusion": "none", "/v1/ledger/proofs/consistency": "none",
    "/v1/tokens": "none",  # token metadata: a principal's own, or anyone's for an admin (test_tokens_http)
    "/v1/auth/signature-policy": "none",
    "/openapi.json": "none", "/docs": "none", "/docs/oauth2-redirect": "none", "/redoc": "none",
    "/": "none", "/portal": "none", "/portal/": "none", "/portal/login": "none", "/portal/static/{name}": "none",
    # alerts: those of the reader's sites; one outside them answers 404 (tests/e2e/test_alerts_http.py,
    # tests/e2e/portal/test_portal_alerts.py)
    "/v1/alerts": "list", "/v1/alerts/{alert_id}": "none", "/portal/alerts": "list",
    # webhook subscriptions: an integrator's own, an admin's any (tests/e2e/test_webhooks_http.py)
    "/v1/subscriptions": "none", "/v1/subscriptions/{subscription_id}": "none",
    "/v1/subscriptions/{subscription_id}/deliveries": "none",
    # orders and the program's figures: those of the reader's sites (tests/e2e/test_orders_http.py,
    # tests/e2e/test_program.py); planning master data and capacity carry no case data
    "/v1/orders": "list", "/v1/orders/{order_id}": "none", "/portal/orders/{order_id}": "none",
    "/v1/program/figures": "list", "/portal/program": "list",
    "/v1/capacity": "none", "/v1/lanes": "none", "/v1/sites/{site_id}/profile": "none", "/portal/capacity": "none",
}
LIST_CHECKS = {  # how each list route is read and which COIs an answer shows
    "/v1/cases": lambda r: {c["coi"] for c in r.json()["items"]},
    "/v1/audit-trail": lambda r: {row["coi"] for row in r.json()["items"]},
    "/v1/exceptions": lambda r: {e["coi"] for e in r.json()},
    "/v1/review-queue": lambda r: {row["coi"] for row in r.json()["items"]},
}


def test_every_get_route_has_a_read_scope_decision():
    """A new GET route fails here until its expected outcome is written into ROUTES (and tested)."""
    paths = set()
    for route in create_app().routes:
        included = getattr(route, "effective_route_contexts", None)  # an included router's routes
        paths |= {r.path for r in (included() if included else [route])
                  if "GET" in (getattr(r, "methods", None) or ())}
    assert paths == set(ROUTES)


@dataclass
class World:
    coi_a: str  # treated at hospital-1
    coi_b: str  # treated at hospital-2
    unit_a: UUID
    unit_b: UUID


def _sync(client) -> None:
    container = client.app.state.container
    assert container.wait_for(container.ledger.last_position(), timeout=10)


@pytest.fixture
def world(client) -> World:
    services = client.app.state.container.services
    system = Context(actor="system")
    services.identity.register_site(system, site_id=HOSPITAL_2, name="Second Hospital", kind="hospital")
    for user, (roles, sites) in NEW_USERS.items():
        services.identity.create_user(system, user_id=user, printed_name=user.title(), roles=roles, sites=sites,
                                      password=DEMO_PASSWORD)
        services.qualification.qualify(system, user_id=user)
    cois, units = [], []
    for nurse, site, mrn in (("nurse", HOSPITAL, "MRN-SCOPE-A"), ("nurse2", HOSPITAL_2, "MRN-SCOPE-B")):
        at = Context(actor=nurse, site=site)
        coi = services.cases.enrol(at, kind="autologous", product="CAR-T", treating_site=site, mrn=mrn,
                                   collection_site=site).result.answer["coi"]
        unit = UUID(services.units.label(at, coi=coi, kind="apheresis_bag",
                                         spec={"min_celsius": 2, "max_celsius": 8}).result.answer["unit_id"])
        services.quality.quarantine(Context(actor="qa", site=site), unit_id=unit, reason="seal to be checked")
        cois.append(coi)
        units.append(unit)
    _sync(client)
    return World(cois[0], cois[1], units[0], units[1])


def ship_to_factory(client, unit: UUID, courier: str = "courier") -> None:
    services = client.app.state.container.services
    services.units.handover(Context(actor="nurse", site=HOSPITAL), unit_id=unit, to_party=courier, location=HOSPITAL)
    services.units.acknowledge(Context(actor=courier), unit_id=unit, location=HOSPITAL)
    services.units.dispatch(Context(actor=courier), unit_id=unit, carrier="Example Express", tracking="TRK-SCOPE",
                            from_site=HOSPITAL, to_site=FACTORY)
    _sync(client)


def case_url(path: str, coi: str) -> str:
    return path.format(coi=coi)


def unit_url(path: str, unit: UUID | str) -> str:
    return path.format(unit_id=unit, fmt="svg")


def get(client, login, user: str, url: str, **params):
    return client.get(url, params=params, headers=login(user))


def portal_get(client, user: str, url: str):
    client.cookies.clear()
    form = client.get("/portal/login")
    signed = client.post("/portal/login", data={"username": user, "password": DEMO_PASSWORD,
                                                "csrf_token": csrf_of(form.text), "next": "/portal/cases"},
                         follow_redirects=False)
    assert signed.status_code == 303, signed.text
    return client.get(url, follow_redirects=False)


def fetch(client, login, user: str, url: str):
    return portal_get(client, user, url) if url.startswith("/portal") else get(client, login, user, url)


def _not_found_like_unknown(client, login, user: str, url: str, unknown_url: str) -> None:
    foreign, unknown = fetch(client, login, user, url), fetch(client, login, user, unknown_url)
    assert foreign.status_code == unknown.status_code == 404, (url, foreign.text)
    if not url.startswith("/portal"):
        assert foreign.json()["code"] == unknown.json()["code"], url
        assert foreign.json()["detail"].replace(url.split("/")[3], "X") == \
            unknown.json()["detail"].replace(unknown_url.split("/")[3], "X")


@pytest.mark.req("URS-P11-10d")
def test_case_and_unit_routes_answer_own_site_and_global_readers_only(client, login, world):
    """Each "case" / "unit" route: the hospital's clinician reads its case, the other hospital's
    clinician gets the 404 of an unknown case or unit; global QA and the auditor read both."""
    for path, kind in ROUTES.items():
        if kind == "case":
            own, foreign = case_url(path, world.coi_a), case_url(path, world.coi_b)
            unknown = case_url(path, UNKNOWN_COI)
        elif kind == "unit":
            own, foreign = unit_url(path, world.unit_a), unit_url(path, world.unit_b)
            unknown = unit_url(path, uuid4())
        else:
            continue
        assert fetch(client, login, "clinician", own).status_code == 200, own
        _not_found_like_unknown(client, login, "clinician", foreign, unknown)
        assert fetch(client, login, "clinician2", foreign).status_code == 200, foreign
        _not_found_like_unknown(client, login, "clinician2", own, unknown)
        for reader in ("qa-global", "auditor"):
            for url in (own, foreign):
                assert fetch(client, login, reader, url).status_code == 200, (reader, url)


def test_lists_omit_the_cases_of_other_sites(client, login, world):
    both = {world.coi_a, world.coi_b}
    for path, shown in LIST_CHECKS.items():
        for user, expected in (("clinician", {world.coi_a}), ("clinician2", {world.coi_b}),
                               ("qa-global", both), ("auditor", both)):
            answer = get(client, login, user, path, **({"status": "all"} if path == "/v1/exceptions" else {}))
            assert answer.status_code == 200, (path, user, answer.text)
            assert shown(answer) - {None} == expected, (path, user)
    # a filter naming a foreign case finds nothing, as for an unknown one
    assert get(client, login, "clinician", "/v1/audit-trail", coi=world.coi_b).json()["items"] == []
    assert get(client, login, "clinician", "/v1/audit-trail", unit_id=str(world.unit_b)).json()["items"] == []
    assert get(client, login, "clinician", "/v1/exceptions", coi=world.coi_b, state="all").json() == []
    assert get(client, login, "clinician", "/v1/cases", treating_site=HOSPITAL_2).json()["items"] == []
    csv = get(client, login, "clinician", "/v1/audit-trail", format="csv").text
    assert world.coi_a in csv and world.coi_b not in csv
    # a field role bound to no site reads no case
    assert get(client, login, "free-operator", "/v1/cases").json()["items"] == []


def test_the_portal_lists_and_finds_only_cases_in_scope(client, world):
    page = portal_get(client, "clinician", "/portal/cases").text
    assert world.coi_a in page and world.coi_b not in page
    page = portal_get(client, "qa-global", "/portal/cases").text
    assert world.coi_a in page and world.coi_b in page
    found = portal_get(client, "clinician", f"/portal/cases?q={world.coi_b}")
    assert found.status_code == 200 and f"/portal/cases/{world.coi_b}" not in found.text
    to_case = portal_get(client, "clinician2", f"/portal/cases?q={world.coi_b}")
    assert to_case.headers["location"] == f"/portal/cases/{world.coi_b}"
    label = client.app.state.container.services.units.state(world.unit_b).label
    found = portal_get(client, "clinician", f"/portal/cases?q={label}")
    assert found.status_code == 200 and world.coi_b not in found.text


def test_factory_staff_read_a_case_once_its_unit_is_shipped_to_the_factory(client, login, world):
    for url in (f"/v1/cases/{world.coi_a}", f"/v1/units/{world.unit_a}"):
        assert get(client, login, "tech", url).status_code == 404
    assert world.coi_a not in {c["coi"] for c in get(client, login, "tech", "/v1/cases").json()["items"]}
    ship_to_factory(client, world.unit_a)
    for url in (f"/v1/cases/{world.coi_a}", f"/v1/units/{world.unit_a}", f"/v1/units/{world.unit_a}/custody"):
        assert get(client, login, "tech", url).status_code == 200, url
    assert {c["coi"] for c in get(client, login, "tech", "/v1/cases").json()["items"]} == {world.coi_a}
    assert get(client, login, "tech", f"/v1/cases/{world.coi_b}").status_code == 404


AUDIT_FIELDS = ("coi:actor", "coi:onBehalf", "coi:eventId", "coi:hash", "coi:esign", "coi:condition")


def _events(answer) -> list[dict]:
    assert answer.status_code == 200, answer.text
    document = answer.json()
    assert not list(schema_validator().iter_errors(document)), "the EPCIS query document must stay valid"
    return document["epcisBody"]["queryResults"]["resultsBody"]["eventList"]


def test_courier_reads_the_units_it_held_and_epcis_without_audit_fields(client, login, world):
    """A courier bound to no site reads the unit it held (not its case, not other units); its
    EPCIS answer carries no actor, reason, signature or ledger event id, and stays valid."""
    assert get(client, login, "free-courier", f"/v1/units/{world.unit_a}").status_code == 404
    ship_to_factory(client, world.unit_a, courier="free-courier")
    for url in (f"/v1/units/{world.unit_a}", f"/v1/units/{world.unit_a}/custody",
                f"/v1/units/{world.unit_a}/conditions"):
        assert get(client, login, "free-courier", url).status_code == 200, url
    for url in (f"/v1/cases/{world.coi_a}", f"/v1/units/{world.unit_b}"):
        assert get(client, login, "free-courier", url).status_code == 404, url
    assert get(client, login, "free-courier", "/v1/cases").json()["items"] == []

    events = _events(get(client, login, "free-courier", "/v1/epcis/events", unit_id=str(world.unit_a)))
    ledger_ids = {row["event_id"] for row in get(client, login, "auditor", "/v1/audit-trail",
                                                 unit_id=str(world.unit_a)).json()["items"]}
    assert {e.get("coi:ledgerType") for e in events} >= {"UnitLabelled", "CustodyAcknowledged", "UnitQuarantined"}
    for event in events:
        assert not set(AUDIT_FIELDS) & set(event), event
        assert not {"coi:reason"} & set(event.get("coi:data") or {}), event
        assert not any(i in str(event) for i in ledger_ids), "a ledger event id leaked"
        assert event["eventID"].startswith("ni:///sha-256;")
    by_case = _events(get(client, login, "free-courier", "/v1/epcis/events", coi=world.coi_a))
    assert [e["eventID"] for e in by_case] == [e["eventID"] for e in events]  # the unit's events, not the case's
    assert _events(get(client, login, "free-courier", "/v1/epcis/events", coi=world.coi_b)) == []


def test_epcis_query_is_site_scoped_and_keeps_audit_fields_for_audit_readers(client, login, world):
    # the integrator (factory + hospital-1) may not read the audit trail: redacted, and no hospital-2 events
    events = _events(get(client, login, "integrator", "/v1/epcis/events", coi=world.coi_a))
    assert events and all(not set(AUDIT_FIELDS) & set(e) for e in events)
    quarantine = next(e for e in events if e["coi:ledgerType"] == "UnitQuarantined")
    assert "coi:reason" not in quarantine["coi:data"]
    assert _events(get(client, login, "integrator", "/v1/epcis/events", coi=world.coi_b)) == []
    assert _events(get(client, login, "integrator", "/v1/epcis/events", unit_id=str(world.unit_b))) == []
    # a clinician may read the audit trail: the same fields as the trail, only of its own site's case
    events = _events(get(client, login, "clinician", "/v1/epcis/events", coi=world.coi_a))
    assert all(e["coi:actor"] and e["eventID"].startswith("urn:uuid:") for e in events)
    quarantine = next(e for e in events if e["coi:ledgerType"] == "UnitQuarantined")
    assert quarantine["coi:data"]["coi:reason"] == "seal to be checked"
    assert _events(get(client, login, "clinician", "/v1/epcis/events", coi=world.coi_b)) == []
    # an EPC of a foreign unit is not found, as an unknown one
    label = client.app.state.container.services.units.state(world.unit_b).label
    foreign = get(client, login, "clinician", "/v1/epcis/events", epc=f"urn:coi-ledger:unit:{label}")
    unknown = get(client, login, "clinician", "/v1/epcis/events", epc="urn:coi-ledger:unit:UNT-0000-0000-0")
    assert foreign.status_code == unknown.status_code == 404
    assert foreign.json()["code"] == unknown.json()["code"] == "EPC_NOT_FOUND"
    assert _events(get(client, login, "clinician2", "/v1/epcis/events", epc=f"urn:coi-ledger:unit:{label}"))


def test_rebuild_gives_the_same_scope_tables(client, world):
    ship_to_factory(client, world.unit_a)
    container = client.app.state.container

    def tables():
        with container.engine.connect() as conn:
            return (conn.execute(text("SELECT coi, site FROM scope_sites ORDER BY coi, site")).all(),
                    conn.execute(text("SELECT unit_id, coi FROM scope_units ORDER BY unit_id")).all())

    before = tables()
    assert (world.coi_a, FACTORY) in before[0] and (world.coi_b, FACTORY) not in before[0]
    assert {(world.coi_a, HOSPITAL), (world.coi_b, HOSPITAL_2)} <= set(before[0])
    container.runner.rebuild()
    assert tables() == before
