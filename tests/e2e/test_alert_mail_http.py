"""Alert e-mail through a real SMTP server (``aiosmtpd`` on loopback): an administrator sets staff
addresses; a raised alert is mailed to the staff of its sites only, without patient data."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from email import message_from_bytes

import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient
from sqlalchemy import text

from api.app import create_app
from bench.server import free_port
from ledger.services.journeys import seed_identities


class Inbox:
    def __init__(self) -> None:
        self.received: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.received.append((list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


@pytest.fixture
def inbox():
    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield handler, controller.port
    controller.stop()


@pytest.fixture
def client(settings, inbox):
    _, port = inbox
    mailing = settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_tls": "none",
                                          "smtp_from": "alerts@ledger.example", "alert_poll_seconds": 0.1})
    with TestClient(create_app(mailing), raise_server_exceptions=False) as test_client:
        seed_identities(test_client.app.state.container.services)
        yield test_client


@pytest.mark.req("URS-ALR-1")
def test_a_raised_alert_is_mailed_to_the_staff_of_its_sites_only(client, login, inbox):
    handler, _ = inbox
    roaming = {"user_id": "roaming", "printed_name": "Roaming Courier", "roles": ["courier"], "sites": [],
               "password": "violet kettle on the 9th floor"}
    created = client.post("/v1/users", headers=login("admin"), json=roaming)
    assert created.status_code == 201, created.text
    for user, email in (("nurse", "nurse@hospital.example"), ("tech", "tech@factory.example"),
                        ("auditor", "auditor@ledger.example"), ("roaming", "roaming@courier.example")):
        response = client.post(f"/v1/users/{user}/contact", headers=login("admin"), json={"email": email})
        assert response.status_code == 201, response.text
    refused = client.post("/v1/users/nurse/contact", headers=login("nurse"), json={"email": "me@x.example"})
    assert refused.status_code == 403
    bad = client.post("/v1/users/nurse/contact", headers=login("admin"), json={"email": "not an address"})
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")
    unknown = client.post("/v1/users/nobody/contact", headers=login("admin"), json={"email": "n@x.example"})
    assert 400 <= unknown.status_code < 500 and unknown.json()["code"] == "USER_NOT_FOUND"

    client.app.state.container.alerts.service.raise_alert(
        "slot_at_risk", "ORD-7", ["hospital-1"], "warning", "apheresis slot on 2026-12-03 at risk",
        coi="COI-ZSKP-JBH7-H")
    deadline = time.monotonic() + 15
    while not handler.received and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(handler.received) == 1, handler.received
    to, content = handler.received[0]
    # the hospital's nurse and the auditor who reads every case; not the factory's technician, nor a
    # courier bound to no site (who reads no case)
    assert to == ["auditor@ledger.example", "nurse@hospital.example"]
    mail = message_from_bytes(content)
    assert mail["Subject"] == "[ledger alert] warning: slot at risk ORD-7"
    assert mail["From"] == "alerts@ledger.example"
    body = mail.get_payload(decode=True).decode()
    assert "apheresis slot on 2026-12-03 at risk" in body and "COI-ZSKP-JBH7-H" in body
    assert "MRN" not in body and "Nina" not in body
    time.sleep(1.0)
    assert len(handler.received) == 1  # mailed once

    # The log replayed into a database without the timers (a restore), two hours later: no mail again.
    alerting = client.app.state.container.alerts
    alerting.worker.stop()
    follower = alerting.follower.projections[0]
    follower.clock = lambda: datetime.now(UTC) + timedelta(hours=2)
    with alerting.engine.begin() as conn:
        conn.execute(text("DELETE FROM alert_timers"))
    alerting.follower.rebuild()
    alerting.worker.run_once()
    time.sleep(0.5)
    assert len(handler.received) == 1
