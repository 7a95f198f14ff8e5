"""The program's views over real HTTP, on the demo's network and book: the figures
(``GET /v1/program/figures``), the capacity board, an order's planned vs actual timeline and the
figures page in the portal. ``ORD-DEMO-LATE`` was delivered late and re-planned: it shows as late in
the figures and moves on the board. Read-scoped both ways: a clinician of another hospital sees
neither its order nor its slots."""

from __future__ import annotations

import re

import pytest

from ledger.services.executor import Context
from ledger.services.journeys import DEMO_PASSWORD, HOSPITAL
from ledger.services.network_demo import LATE_ORDER
from ledger_cli.service import orchestration_demo

from .portal.conftest import csrf_of

OTHER = "clinician-2"  # a clinician of hospital-2


@pytest.fixture
def demo(client):
    container = client.app.state.container
    planning = orchestration_demo(container)
    assert planning["late"] == LATE_ORDER
    services = container.services
    services.identity.create_user(Context(actor="system"), user_id=OTHER, printed_name="Cleo Second",
                                  roles=["clinician"], sites=["hospital-2"], password=DEMO_PASSWORD)
    services.qualification.qualify(Context(actor="system"), user_id=OTHER)
    assert container.runner.wait_for(container.ledger.last_position())
    return planning


def get(client, login, user: str, path: str):
    return client.get(path, headers=login(user))


def test_figures_show_the_late_order_to_the_program_and_not_to_another_hospital(client, login, demo):
    answer = get(client, login, "planner", "/v1/program/figures")
    assert answer.status_code == 200, answer.text
    figures = answer.json()
    assert figures["orders"] == len(demo["orders"])
    assert figures["on_time"]["late_orders"] == [LATE_ORDER]
    assert figures["on_time"]["judged"] == len(demo["orders"])
    assert figures["on_time"]["rate"] == round((len(demo["orders"]) - 1) / len(demo["orders"]), 3)
    planned = figures["needle_to_needle_days"]["planned"]
    assert planned["count"] == len(demo["orders"]) and 10 < planned["median"] < 30
    assert figures["needle_to_needle_days"]["actual"]["count"] == 0  # nothing infused yet
    assert {"apheresis", "manufacturing"} <= set(figures["slot_utilisation"])
    assert all(0 < u["booked"] <= u["slots"] for u in figures["slot_utilisation"].values())

    other = get(client, login, OTHER, "/v1/program/figures").json()
    assert LATE_ORDER not in other["on_time"]["late_orders"]
    assert other["orders"] < figures["orders"]
    assert other["slot_utilisation"]["apheresis"]["slots"] < figures["slot_utilisation"]["apheresis"]["slots"]

    assert client.get("/v1/program/figures").status_code == 401
    bad = get(client, login, "planner", "/v1/program/figures?from=2027-02-01&to=2027-01-01")
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")
    assert bad.json()["code"] == "CAPACITY_RANGE"


def sign_in(client, user: str) -> None:
    client.cookies.clear()
    form = client.get("/portal/login")
    answer = client.post("/portal/login", data={"username": user, "password": DEMO_PASSWORD,
                                                "csrf_token": csrf_of(form.text), "next": "/portal/program"},
                         follow_redirects=False)
    assert answer.status_code == 303, answer.text


def test_the_board_moves_the_late_order_and_the_timeline_shows_why(client, demo):
    assert client.get("/portal/capacity", follow_redirects=False).status_code == 303  # signed out
    sign_in(client, "planner")
    board = client.get(f"/portal/capacity?order={LATE_ORDER}")
    assert board.status_code == 200, board.text
    html = board.text
    assert 'id="plan-moved"' in html and "<svg" in html
    now = re.findall(r'class="held-now"><title>plan now: ([^<]+)</title>', html)
    first = re.findall(r'class="held-first"><title>first plan: ([^<]+)</title>', html)
    assert now and first and set(now) != set(first)  # the manufacturing days moved
    assert HOSPITAL in html and "plant-us" in html

    timeline = client.get(f"/portal/orders/{LATE_ORDER}")
    assert timeline.status_code == 200 and "(moved)" in timeline.text
    assert 'id="order-plans">2<' in timeline.text

    program = client.get("/portal/program")
    assert program.status_code == 200 and f"/portal/orders/{LATE_ORDER}" in program.text

    sign_in(client, OTHER)
    assert client.get(f"/portal/orders/{LATE_ORDER}").status_code == 404
    assert client.get(f"/portal/capacity?order={LATE_ORDER}").status_code == 404
    own = client.get("/portal/capacity").text
    assert "hospital-2 · apheresis" in own and f"{HOSPITAL} · apheresis" not in own
    assert client.get("/portal/capacity?from=2027-02-01&to=2027-01-01").status_code == 422
