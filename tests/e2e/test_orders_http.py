"""Orders and planning master data over real HTTP (SQLite and PostgreSQL): a program manager sets
up the network, a clinician of the treating site orders, has a plan proposed and books it; the
capacity read shows the slots taken; release and cancel give them back. Each write is refused to
other roles, to a user of another hospital and to an anonymous client."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from ledger.services.executor import Context
from ledger.services.journeys import DEMO_PASSWORD, FACTORY, HOSPITAL
from ledger.services.network_demo import build_demo_network

PRODUCT = "CAR-T"
OTHER_CLINICIAN = "clinician-2"  # a clinician of hospital-2


def today() -> date:
    return datetime.now(UTC).date()


@pytest.fixture
def network(client):
    services = client.app.state.container.services
    build_demo_network(services, today(), days=21)
    services.identity.create_user(Context(actor="system"), user_id=OTHER_CLINICIAN, printed_name="Cleo Second",
                                  roles=["clinician"], sites=["hospital-2"], password=DEMO_PASSWORD)
    services.qualification.qualify(Context(actor="system"), user_id=OTHER_CLINICIAN)
    return services


def enrol(services, mrn: str, site: str = HOSPITAL) -> str:
    return services.cases.enrol(Context(actor="system", site=site), kind="autologous", product=PRODUCT,
                                treating_site=site, mrn=mrn).result.answer["coi"]


def order_body(order_id: str, coi: str, *, site: str = HOSPITAL, days: tuple[int, int] = (1, 14)) -> dict:
    return {"order_id": order_id, "coi": coi, "product": PRODUCT, "treating_site": site,
            "earliest": (today() + timedelta(days=days[0])).isoformat(),
            "latest": (today() + timedelta(days=days[1])).isoformat()}


def call(client, login, user, method, path, body=None, expect=200, code=None):
    headers = login(user) if user else {}
    response = client.request(method, path, headers=headers, json=body)
    assert response.status_code == expect, response.text
    if code:
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["code"] == code, response.json()
    return response.json()


def test_order_plan_book_read_cancel(client, login, network):
    coi = enrol(network, "MRN-ORD-1")
    body = order_body("ORD-1", coi)
    call(client, login, None, "POST", "/v1/orders", body, 401)
    call(client, login, "nurse", "POST", "/v1/orders", body, 403)
    call(client, login, OTHER_CLINICIAN, "POST", "/v1/orders", body, 403, "SITE_FORBIDDEN")
    call(client, login, "clinician", "POST", "/v1/orders", {**body, "product": "other"}, 409, "ORDER_CASE")
    yesterday = (today() - timedelta(days=1)).isoformat()  # before earliest (tomorrow), whatever the date
    call(client, login, "clinician", "POST", "/v1/orders", {**body, "latest": yesterday}, 422, "ORDER_WINDOW")
    end_of_time = {**body, "earliest": "9999-12-01", "latest": "9999-12-31"}  # planning it would overflow
    call(client, login, "clinician", "POST", "/v1/orders", end_of_time, 422, "ORDER_WINDOW")
    call(client, login, "auditor", "GET", "/v1/program/figures?from=9999-12-31", None, 422, "CAPACITY_RANGE")
    placed = call(client, login, "clinician", "POST", "/v1/orders", body, 201)
    assert placed["answer"] == {"order": "ORD-1"}
    call(client, login, "clinician", "POST", "/v1/orders", body, 409, "ORDER_EXISTS")

    call(client, login, None, "POST", "/v1/orders/ORD-1/plan", None, 401)
    call(client, login, OTHER_CLINICIAN, "POST", "/v1/orders/ORD-1/plan", None, 403, "SITE_FORBIDDEN")
    call(client, login, "clinician", "POST", "/v1/orders/ORD-NONE/plan", None, 404, "ORDER_NOT_FOUND")
    proposed = call(client, login, "clinician", "POST", "/v1/orders/ORD-1/plan")
    plan = proposed["plan"]
    assert plan["apheresis"]["site"] == HOSPITAL and body["earliest"] <= plan["apheresis"]["day"] <= body["latest"]
    assert [s["resource"] for s in proposed["slots"]] == ["apheresis"] + ["manufacturing"] * 10
    before = call(client, login, "auditor", "GET", "/v1/orders/ORD-1")
    assert before["status"] == "ordered" and before["plan"] is None  # proposing wrote nothing

    bad = {**plan, "apheresis": {**plan["apheresis"], "site": "hospital-2"}}
    call(client, login, "clinician", "POST", "/v1/orders/ORD-1/book", {"plan": bad}, 422, "PLAN_MISMATCH")
    call(client, login, OTHER_CLINICIAN, "POST", "/v1/orders/ORD-1/book", {"plan": plan}, 403, "SITE_FORBIDDEN")
    call(client, login, "courier", "POST", "/v1/orders/ORD-1/book", {"plan": plan}, 403)
    booked = call(client, login, "clinician", "POST", "/v1/orders/ORD-1/book", {"plan": plan}, 201)
    assert len(booked["events"]) == 11 + 1  # a slot per day held, and the order's plan

    order = call(client, login, "clinician", "GET", f"/v1/orders/ORD-1?min_position={booked['position']}")
    assert order["status"] == "booked" and order["state"] == "booked" and order["plan"] == plan
    assert order["timeline"][0] == {"stage": "apheresis", "planned": plan["apheresis"]["day"],
                                    "first_planned": plan["apheresis"]["day"], "actual": None, "site": None}
    day = plan["apheresis"]["day"]
    capacity = call(client, login, "nurse", "GET", f"/v1/capacity?site={HOSPITAL}&from={day}&to={day}")
    assert capacity["days"] == [{"day": day, "resource": "apheresis", "slots": 2, "booked": 1, "free": 1}]

    # reads: the treating site's staff, the plant's, global readers and program managers; not another hospital
    assert [o["order_id"] for o in call(client, login, "planner", "GET", "/v1/orders")["orders"]] == ["ORD-1"]
    assert [o["order_id"] for o in call(client, login, "qa", "GET", "/v1/orders")["orders"]] == ["ORD-1"]  # plant
    assert call(client, login, OTHER_CLINICIAN, "GET", "/v1/orders")["orders"] == []
    call(client, login, OTHER_CLINICIAN, "GET", "/v1/orders/ORD-1", None, 404, "ORDER_NOT_FOUND")
    call(client, login, None, "GET", "/v1/orders/ORD-1", None, 401)

    call(client, login, "clinician", "POST", "/v1/orders/ORD-1/release", {"reason": "patient unwell"}, 201)
    call(client, login, "clinician", "POST", "/v1/orders/ORD-1/release", {"reason": "again"}, 409, "NO_PLAN_HELD")
    again = call(client, login, "planner", "POST", "/v1/orders/ORD-1/book", {"plan": plan}, 201)
    call(client, login, OTHER_CLINICIAN, "POST", "/v1/orders/ORD-1/cancel", {"reason": "x"}, 403, "SITE_FORBIDDEN")
    cancelled = call(client, login, "clinician", "POST", "/v1/orders/ORD-1/cancel", {"reason": "withdrawn"}, 201)
    assert len(cancelled["events"]) == 11 + 1
    assert again["position"] < cancelled["position"]
    call(client, login, "clinician", "POST", "/v1/orders/ORD-1/book", {"plan": plan}, 409, "ORDER_CLOSED")
    capacity = call(client, login, "nurse", "GET",
                    f"/v1/capacity?site={HOSPITAL}&from={day}&to={day}&min_position={cancelled['position']}")
    assert capacity["days"][0]["booked"] == 0
    assert call(client, login, "clinician", "GET", "/v1/orders/ORD-1")["state"] == "cancelled"


def test_master_data_is_set_by_admins_and_program_managers(client, login, network):
    profile = {"capabilities": ["apheresis", "infusion"], "tz": "Europe/Amsterdam", "closed_weekdays": [6],
               "holidays": ["2026-12-25"]}
    path = f"/v1/sites/{HOSPITAL}/profile"
    call(client, login, None, "POST", path, profile, 401)
    for user in ("clinician", "qa", "nurse", "auditor"):
        call(client, login, user, "POST", path, profile, 403)
    call(client, login, "planner", "POST", path, {**profile, "tz": "Mars/Olympus"}, 422)
    call(client, login, "planner", "POST", "/v1/sites/nowhere/profile", profile, 422, "UNKNOWN_SITE")
    written = call(client, login, "planner", "POST", path, profile, 201)
    read = call(client, login, "nurse", "GET", f"{path}?min_position={written['position']}")
    assert read == {"site": HOSPITAL, **profile}

    first, last = today() + timedelta(days=30), today() + timedelta(days=33)
    declare = {"site": FACTORY, "resource": "manufacturing", "from": first.isoformat(), "to": last.isoformat(),
               "slots": 5}
    call(client, login, "clinician", "POST", "/v1/capacity", declare, 403)
    call(client, login, "planner", "POST", "/v1/capacity", {**declare, "resource": "apheresis"}, 422,
         "CAPABILITY_MISSING")
    call(client, login, "planner", "POST", "/v1/capacity", {**declare, "to": "2020-01-01"}, 422, "CAPACITY_RANGE")
    written = call(client, login, "admin", "POST", "/v1/capacity", declare, 201)
    assert len(written["events"]) == 4
    call(client, login, "admin", "POST", "/v1/capacity", declare, 409, "NO_CHANGE")
    days = call(client, login, "clinician", "GET", f"/v1/capacity?site={FACTORY}&from={first}&to={last}"
                                                   f"&min_position={written['position']}")["days"]
    assert [(d["slots"], d["free"]) for d in days] == [(5, 5)] * 4

    lane = {"lane": "L-X", "origin": HOSPITAL, "destination": "plant-us", "transit_hours": 26.5, "cutoff": "17:30",
            "days": [0, 2, 4]}
    call(client, login, "clinician", "POST", "/v1/lanes", lane, 403)
    call(client, login, "planner", "POST", "/v1/lanes", {**lane, "destination": HOSPITAL}, 422, "LANE_SITES")
    call(client, login, "planner", "POST", "/v1/lanes", {**lane, "cutoff": "25:00"}, 422)
    written = call(client, login, "planner", "POST", "/v1/lanes", lane, 201)
    lanes = call(client, login, "courier", "GET", f"/v1/lanes?min_position={written['position']}")["lanes"]
    assert lane in lanes


def test_a_program_manager_bound_to_a_site_sets_master_data_only_there(client, login, network):
    services = network
    services.identity.create_user(Context(actor="system"), user_id="pm-2", printed_name="Pia Site",
                                  roles=["program_manager"], sites=["hospital-2"], password=DEMO_PASSWORD)
    services.qualification.qualify(Context(actor="system"), user_id="pm-2")
    profile = {"capabilities": ["apheresis", "infusion"], "tz": "Europe/Amsterdam", "closed_weekdays": [6]}
    call(client, login, "pm-2", "POST", f"/v1/sites/{HOSPITAL}/profile", profile, 403, "SITE_FORBIDDEN")
    call(client, login, "pm-2", "POST", "/v1/sites/hospital-2/profile", profile, 201)
    call(client, login, "pm-2", "POST", "/v1/sites/hospital-2/profile", profile, 409, "NO_CHANGE")  # said already
    coi = enrol(services, "MRN-ORD-PM")
    call(client, login, "pm-2", "POST", "/v1/orders", order_body("ORD-PM", coi), 403, "SITE_FORBIDDEN")
    lane = {"transit_hours": 20, "cutoff": "15:00", "days": [0, 1, 2, 3, 4]}
    # its own lane, redefined to another hospital's ends; a new lane between two other sites
    call(client, login, "pm-2", "POST", "/v1/lanes", {"lane": "L-hospital-2-plant-us", "origin": HOSPITAL,
                                                       "destination": FACTORY, **lane}, 403, "SITE_FORBIDDEN")
    call(client, login, "pm-2", "POST", "/v1/lanes", {"lane": "L-new", "origin": HOSPITAL, "destination": FACTORY,
                                                       **lane}, 403, "SITE_FORBIDDEN")
    # another hospital's lane, moved to its own site
    call(client, login, "pm-2", "POST", "/v1/lanes", {"lane": f"L-{HOSPITAL}-plant-us", "origin": "hospital-2",
                                                       "destination": "plant-us", **lane}, 403, "SITE_FORBIDDEN")
    call(client, login, "pm-2", "POST", "/v1/lanes", {"lane": "L-hospital-2-plant-us", "origin": "hospital-2",
                                                       "destination": "plant-us", **lane}, 201)
    days = {"resource": "apheresis", "from": today().isoformat(), "to": today().isoformat(), "slots": 3}
    call(client, login, "pm-2", "POST", "/v1/capacity", {"site": HOSPITAL, **days}, 403, "SITE_FORBIDDEN")
    call(client, login, "pm-2", "POST", "/v1/capacity", {"site": "hospital-2", **days}, 201)


def _booked_in_the_past(client, login, services, order_id: str, mrn: str) -> tuple[str, dict]:
    """An order whose apheresis was days ago, booked on the greedy planner's plan (plants open every day)."""
    from ledger.planning.greedy import plan_one
    from ledger.services.orders import order_request
    from projections.orchestration_query import network

    start = today() - timedelta(days=12)
    build_demo_network(services, start, days=30)  # its plants are open every day
    coi = enrol(services, mrn)
    call(client, login, "clinician", "POST", "/v1/orders", order_body(order_id, coi, days=(-10, -6)), 201)
    container = client.app.state.container
    assert container.runner.wait_for(container.ledger.last_position())
    with container.engine.connect() as conn:
        plan = plan_one(network(conn), order_request(services.orders.order(order_id)))
    assert plan is not None
    body = {"plan": plan.model_dump(mode="json")}
    call(client, login, "clinician", "POST", f"/v1/orders/{order_id}/book", body, 201)
    return coi, body["plan"]


def test_a_late_receipt_moves_the_downstream_legs(client, login, network):
    from ledger.planning.model import Plan
    from ledger.services.network_demo import ship_to_plant

    coi, first = _booked_in_the_past(client, login, network, "ORD-LATE", "MRN-LATE-1")
    ship_to_plant(network, coi, "MRN-LATE-1", Plan.model_validate(first), late_by=timedelta(hours=7))
    container = client.app.state.container
    assert container.runner.wait_for(container.ledger.last_position())
    container.replanner.catch_up()
    order = call(client, login, "clinician", "GET",
                 f"/v1/orders/ORD-LATE?min_position={container.ledger.last_position()}")
    assert order["plans"] == 2 and order["reason"].startswith("late delivery")
    assert order["plan"]["apheresis"] == first["apheresis"]  # legs done are kept
    assert order["plan"]["manufacturing"]["start_day"] > first["manufacturing"]["start_day"]
    stages = {row["stage"]: row for row in order["timeline"]}
    assert stages["received"]["actual"] is not None and stages["received"]["actual"] > first["pickup"]["arrive_at"]
    assert stages["received"]["planned"] == stages["received"]["actual"]  # the plan now holds what happened
    assert stages["manufacturing_started"]["first_planned"] == first["manufacturing"]["start_day"]
    assert stages["manufacturing_started"]["planned"] == order["plan"]["manufacturing"]["start_day"]
    assert order["state"] == "received" and stages["apheresis"]["actual"] is not None
    # the slots follow the plan: the old manufacturing days given back, the new ones taken
    day = first["manufacturing"]["start_day"]
    held = call(client, login, "qa", "GET", f"/v1/capacity?site={FACTORY}&from={day}&to={day}")["days"]
    assert held[0]["booked"] == (1 if day >= order["plan"]["manufacturing"]["start_day"] else 0)
    container.replanner.catch_up()  # applied again: nothing moves
    assert call(client, login, "clinician", "GET", "/v1/orders/ORD-LATE")["plans"] == 2


def test_no_plan_left_raises_the_slot_at_risk_alert(client, login, network):
    from api.container import build_replanner
    from ledger.planning.model import Plan
    from ledger.services.network_demo import ship_to_plant

    coi, first = _booked_in_the_past(client, login, network, "ORD-RISK", "MRN-RISK-1")
    container = client.app.state.container
    container.replanner.stop()  # this test's own follower, with an alert port that records
    ship_to_plant(network, coi, "MRN-RISK-1", Plan.model_validate(first), late_by=timedelta(days=3))
    alerts = []
    replanner = build_replanner(container.ledger, container.engine, network, container.runner,
                                raise_alert=lambda **alert: alerts.append(alert))
    caught_up, replanner.caught_up = replanner.caught_up, lambda: False  # read models lagging
    assert replanner.catch_up() == 0 and not alerts  # waits for them, skips nothing
    replanner.caught_up = caught_up
    replanner.catch_up()
    assert len(alerts) == 1
    assert alerts[0]["kind"] == "slot_at_risk" and alerts[0]["subject"] == "ORD-RISK"
    assert alerts[0]["severity"] == "critical" and first["manufacturing"]["site"] in alerts[0]["sites"]
    order = call(client, login, "clinician", "GET", "/v1/orders/ORD-RISK")
    assert order["plans"] == 1 and order["plan"] == first  # nothing booked: the plan at risk stays visible


def _open_alerts(client, login, kind: str) -> list[dict]:
    container = client.app.state.container
    container.replanner.catch_up()
    container.alerts.catch_up()  # the alerts follower and its timers due now
    alerts = call(client, login, "qa", "GET", f"/v1/alerts?state=open&min_position={container.ledger.last_position()}")
    return [alert for alert in alerts if alert["kind"] == kind]


def test_no_plan_left_raises_a_real_slot_at_risk_alert_for_the_program(client, login, network):
    """The service's own wiring: the re-planner's port is the alerts' service (an AlertRaised)."""
    from ledger.planning.model import Plan
    from ledger.services.network_demo import ship_to_plant

    coi, first = _booked_in_the_past(client, login, network, "ORD-RISK-2", "MRN-RISK-2")
    assert not _open_alerts(client, login, "slot_at_risk")
    ship_to_plant(network, coi, "MRN-RISK-2", Plan.model_validate(first), late_by=timedelta(days=3))
    container = client.app.state.container
    assert container.runner.wait_for(container.ledger.last_position())
    [alert] = _open_alerts(client, login, "slot_at_risk")
    assert alert["subject"] == "ORD-RISK-2" and alert["severity"] == "critical"
    assert first["manufacturing"]["site"] in alert["sites"] and "MRN" not in alert["message"]


def test_a_shipment_not_delivered_by_its_planned_arrival_raises_shipment_late(client, login, network):
    from ledger.planning.model import Plan
    from ledger.services.network_demo import ship_to_plant

    coi, first = _booked_in_the_past(client, login, network, "ORD-TRANSIT", "MRN-TRANSIT-1")
    ship_to_plant(network, coi, "MRN-TRANSIT-1", Plan.model_validate(first), late_by=timedelta(0), deliver=False)
    container = client.app.state.container
    assert container.runner.wait_for(container.ledger.last_position())
    [alert] = _open_alerts(client, login, "shipment_late")
    assert alert["subject"] == f"TRK-{coi[-6:]}" and alert["coi"] == coi
    assert alert["due_at"] is not None and alert["due_at"][:16] == first["pickup"]["arrive_at"][:16]


def test_a_shipment_delivered_before_the_follower_sees_its_dispatch_raises_nothing(client, login, network):
    from ledger.planning.model import Plan
    from ledger.services.network_demo import ship_to_plant

    coi, first = _booked_in_the_past(client, login, network, "ORD-ONTIME", "MRN-ONTIME-1")
    ship_to_plant(network, coi, "MRN-ONTIME-1", Plan.model_validate(first), late_by=timedelta(hours=-1))
    container = client.app.state.container
    assert container.runner.wait_for(container.ledger.last_position())
    assert not [a for a in _open_alerts(client, login, "shipment_late") if a["coi"] == coi]


def test_a_patient_not_fit_puts_the_plan_at_risk_until_the_case_resumes(client, login, network):
    """A hold (the patient not fit for infusion) raises slot_at_risk at once; resumed, the order is
    planned again from then on (still fits: it keeps its plan) and the alert is cleared."""
    coi = enrol(network, "MRN-HOLD-1")
    call(client, login, "clinician", "POST", "/v1/orders", order_body("ORD-HOLD", coi), 201)
    plan = call(client, login, "clinician", "POST", "/v1/orders/ORD-HOLD/plan")["plan"]
    call(client, login, "clinician", "POST", "/v1/orders/ORD-HOLD/book", {"plan": plan}, 201)
    clinician = Context(actor="clinician", site=HOSPITAL)
    network.cases.hold(clinician, coi, "patient not fit for infusion: infection")
    container = client.app.state.container
    assert container.runner.wait_for(container.ledger.last_position())
    [alert] = [a for a in _open_alerts(client, login, "slot_at_risk") if a["subject"] == "ORD-HOLD"]
    assert alert["severity"] == "critical" and "case on hold" in alert["message"]
    network.cases.resume(clinician, coi, "fit again")
    assert container.runner.wait_for(container.ledger.last_position())
    assert not [a for a in _open_alerts(client, login, "slot_at_risk") if a["subject"] == "ORD-HOLD"]
    order = call(client, login, "clinician", "GET", "/v1/orders/ORD-HOLD")
    assert order["status"] == "booked" and order["plan"] == plan


def test_a_failed_qc_moves_manufacturing_after_the_failure(client, login, network):
    from ledger.planning.model import Plan
    from ledger.services.network_demo import ship_to_plant

    coi, first = _booked_in_the_past(client, login, network, "ORD-QC", "MRN-QC-1")
    bag = ship_to_plant(network, coi, "MRN-QC-1", Plan.model_validate(first), late_by=timedelta(0))
    container = client.app.state.container
    assert container.runner.wait_for(container.ledger.last_position())
    container.replanner.catch_up()
    assert call(client, login, "clinician", "GET", "/v1/orders/ORD-QC")["plans"] == 1  # on time: nothing moves
    network.quality.record_qc(Context(actor="tech", site=FACTORY), unit_id=bag, test="sterility", result="fail",
                              value="positive")
    assert container.runner.wait_for(container.ledger.last_position())
    container.replanner.catch_up()
    position = container.ledger.last_position()
    order = call(client, login, "clinician", "GET", f"/v1/orders/ORD-QC?min_position={position}")
    assert order["plans"] == 2 and order["reason"] == "failed QC: re-manufacture"
    assert order["plan"]["manufacturing"]["start_day"] >= today().isoformat() > first["manufacturing"]["start_day"]
    assert order["plan"]["pickup"] == first["pickup"] and order["state"] == "qc_failed"
    container.replanner.catch_up()
    assert call(client, login, "clinician", "GET", "/v1/orders/ORD-QC")["plans"] == 2  # once only


def _hostile_plans(plan: dict) -> list[dict]:
    """A proposed plan bent out of shape: legs out of order, unknown sites and lanes, a year-long
    manufacturing run, days far in the past and future, missing and extra fields."""
    leg = {k: dict(v) for k, v in plan.items()}

    def bent(stage: str, **changes) -> dict:
        return {**leg, stage: {**leg[stage], **changes}}

    start = date.fromisoformat(leg["manufacturing"]["start_day"])
    return [
        bent("manufacturing", site="no-such-plant"),
        bent("manufacturing", end_day=(start - timedelta(days=3)).isoformat()),
        bent("manufacturing", end_day=(start + timedelta(days=400)).isoformat()),
        bent("apheresis", day="1900-01-01"),
        bent("apheresis", day="9999-12-31"),
        bent("pickup", lane="no-such-lane"),
        bent("pickup", arrive_at="1970-01-01T00:00:00Z"),
        bent("return_shipment", depart_at="9999-12-31T23:59:59Z"),
        bent("infusion_window", from_day=leg["infusion_window"]["to_day"], to_day=leg["apheresis"]["day"]),
        bent("qc_release", site=HOSPITAL),
        {k: v for k, v in leg.items() if k != "pickup"},
        bent("apheresis", extra="field"),
        {**leg, "pickup": {**leg["pickup"], "arrive_at": "9999-12-31T23:59:59Z"},
         "return_shipment": {**leg["return_shipment"], "depart_at": "9999-12-31T23:59:59Z",
                             "arrive_at": "9999-12-31T23:59:59Z"}},  # legs in order, at the end of time
    ]


def test_a_hostile_plan_is_refused_with_a_problem_and_books_nothing(client, login, network):
    coi = enrol(network, "MRN-ORD-HOSTILE")
    call(client, login, "clinician", "POST", "/v1/orders", order_body("ORD-H", coi), 201)
    plan = call(client, login, "clinician", "POST", "/v1/orders/ORD-H/plan")["plan"]
    for hostile in _hostile_plans(plan):
        response = client.post("/v1/orders/ORD-H/book", headers=login("clinician"), json={"plan": hostile})
        assert response.status_code in (409, 422), (hostile, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["code"], response.json()
    order = call(client, login, "auditor", "GET", "/v1/orders/ORD-H")
    assert order["status"] == "ordered" and order["plan"] is None
    call(client, login, "clinician", "POST", "/v1/orders/ORD-H/book", {"plan": plan}, 201)  # the real one still fits
