"""Webhooks over real HTTP both ways: subscriptions through the API, deliveries to a real receiver on
a loopback port, signed per Standard Webhooks; at least once and in order per stream through an
outage and failures; who may subscribe, and what a subscriber of another site never receives."""

from __future__ import annotations

import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest
from standardwebhooks import Webhook

from bench.receiver import Receiver
from ledger.services.executor import Context
from ledger.services.journeys import DEMO_PASSWORD

TYPES = ["UnitLabelled", "PackedInto", "TemperatureRecorded", "ExcursionDetected"]


@pytest.fixture
def settings(settings):
    return settings.model_copy(update={"webhook_allow_private": True, "webhook_retry_base_seconds": 0.05,
                                       "webhook_retry_max_seconds": 0.3, "webhook_timeout_seconds": 2.0})


@pytest.fixture
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.down()


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class Journey:
    def __init__(self, client, login) -> None:
        self.client, self.login = client, login
        self.clock = datetime.now(UTC) - timedelta(days=1)

    def event(self, user, type_, data, **target):
        self.clock += timedelta(minutes=5)
        response = self.client.post("/v1/events", headers=self.login(user),
                                    json={"type": type_, "data": data, "occurred_at": iso(self.clock), **target})
        assert response.status_code == 201, response.text
        return response.json()

    def case(self) -> str:
        return self.event("nurse", "CaseEnrolled", {"kind": "autologous", "product": "CAR-T",
                                                    "treating_site": "hospital-1", "mrn": "MRN-W-1"})["answer"]["coi"]

    def label(self, coi, kind, spec=None) -> str:
        data = {"kind": kind} | ({"spec": spec} if spec else {})
        return self.event("integrator", "UnitLabelled", data, coi=coi)["answer"]["unit_id"]

    def upload(self, unit, temps):
        start = self.clock
        readings = [{"t": iso(start + timedelta(minutes=i)), "celsius": c} for i, c in enumerate(temps)]
        self.clock += timedelta(minutes=len(temps) + 1)
        response = self.client.post(f"/v1/units/{unit}/temperatures", headers=self.login("integrator"),
                                    json={"logger_id": "LOG-W", "readings": readings})
        assert response.status_code == 201, response.text
        return response.json()


def subscribe(client, headers, url, types=TYPES, **terms):
    return client.post("/v1/subscriptions", headers=headers, json={"url": url, "event_types": types, **terms})


def test_an_excursion_reaches_the_receiver_signed_and_every_event_arrives_in_order_through_failures(
        client, login, receiver):
    created = subscribe(client, login("integrator"), receiver.url)
    assert created.status_code == 201, created.text
    sub, secret = created.json()["subscription_id"], created.json()["secret"]
    assert secret.startswith("whsec_")
    recorded = client.app.state.container.ledger.read_stream(UUID(created.json()["events"][0]["stream"]))
    assert [e.type for e in recorded] == ["SubscriptionCreated"]
    assert secret not in str([e.envelope for e in recorded])  # only sealed, under the ledger's key
    assert secret not in client.get("/v1/subscriptions", headers=login("integrator")).text

    journey = Journey(client, login)
    coi = journey.case()
    bag = journey.label(coi, "cryobag", {"min_celsius": 2, "max_celsius": 8})
    journey.upload(bag, [5.0, 5.0, 9.7, 9.8, 5.0])  # out of range: an excursion
    assert receiver.wait_for(3), receiver.received
    hook = Webhook(secret)
    for got in receiver.received:
        hook.verify(got.body, got.headers)  # raises if the signature does not hold
    kinds = [r.json["type"] for r in receiver.received]
    assert "ExcursionDetected" in kinds
    excursion = next(r.json for r in receiver.received if r.json["type"] == "ExcursionDetected")
    assert excursion["data"]["coi"] == coi and excursion["data"]["stream"] == bag
    assert "MRN-W-1" not in "".join(r.body for r in receiver.received)

    # the receiver is down for a while, then answers 500 twice: nothing is lost, order holds
    receiver.down()
    units = [journey.label(coi, "cryobag", {"min_celsius": 2, "max_celsius": 8}) for _ in range(3)]
    for unit in units:
        journey.upload(unit, [4.0, 4.5])
    time.sleep(0.5)
    receiver.fail_next(2)
    receiver.up()
    deliveries_url = f"/v1/subscriptions/{sub}/deliveries?limit=500"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        log = client.get(deliveries_url, headers=login("integrator")).json()["deliveries"]
        if log and all(d["status"] == "delivered" for d in log) and len(log) >= 3 + 2 * len(units):
            break
        time.sleep(0.1)
    queued = {d["position"]: d for d in log}
    assert all(d["status"] == "delivered" for d in log), log
    assert receiver.refused == 2 and any(d["attempts"] > 1 for d in log)
    assert any(a["outcome"] == "retry" for d in log for a in d["attempt_log"])
    assert all(a["latency_ms"] >= 0 for d in log for a in d["attempt_log"])

    by_id: dict[str, set[int]] = defaultdict(set)
    per_stream: dict[str, list[int]] = defaultdict(list)
    for got in receiver.received:
        hook.verify(got.body, got.headers)
        position = got.json["data"]["position"]
        by_id[got.headers["webhook-id"]].add(position)
        if not per_stream[got.json["data"]["stream"]] or per_stream[got.json["data"]["stream"]][-1] != position:
            per_stream[got.json["data"]["stream"]].append(position)
    assert {p for ps in by_id.values() for p in ps} == set(queued)  # every queued event arrived
    assert all(len(ps) == 1 for ps in by_id.values())  # a duplicate carries the same webhook-id
    assert {queued[min(ps)]["webhook_id"] for ps in by_id.values()} == set(by_id)
    for stream, positions in per_stream.items():
        assert positions == sorted(positions), (stream, positions)  # in log order per stream

    # a replay sends again, with the same ids
    before = len(receiver.received)
    replay = client.post(f"/v1/subscriptions/{sub}/replay?from={max(queued)}", headers=login("integrator"))
    assert replay.status_code == 201, replay.text
    assert receiver.wait_for(before + 1)
    assert receiver.received[-1].headers["webhook-id"] == queued[max(queued)]["webhook_id"]


def test_who_may_manage_subscriptions(client, login, receiver):
    assert subscribe(client, login("nurse"), receiver.url).status_code == 403
    assert subscribe(client, login("qa"), receiver.url).status_code == 403
    assert subscribe(client, {}, receiver.url).status_code == 401
    assert client.get("/v1/subscriptions", headers=login("auditor")).status_code == 403
    mine = subscribe(client, login("integrator"), receiver.url).json()["subscription_id"]
    admins = subscribe(client, login("admin"), receiver.url)
    assert admins.status_code == 201, admins.text
    theirs = admins.json()["subscription_id"]
    listed = {s["subscription_id"] for s in client.get("/v1/subscriptions", headers=login("integrator")).json()}
    assert listed == {mine}
    assert {mine, theirs} <= {s["subscription_id"] for s in
                              client.get("/v1/subscriptions", headers=login("admin")).json()}
    other = client.get(f"/v1/subscriptions/{theirs}", headers=login("integrator"))
    assert (other.status_code, other.json()["code"]) == (404, "SUBSCRIPTION_NOT_FOUND")
    assert client.post(f"/v1/subscriptions/{theirs}/pause", headers=login("integrator")).status_code == 404
    assert client.post(f"/v1/subscriptions/{mine}/pause", headers=login("admin")).status_code == 201

    def code(response):
        return response.status_code, response.json()["code"]

    assert code(client.post(f"/v1/subscriptions/{mine}/pause", headers=login("integrator"))) == (
        409, "SUBSCRIPTION_PAUSED")
    assert client.post(f"/v1/subscriptions/{mine}/resume", headers=login("integrator")).status_code == 201
    assert code(client.post(f"/v1/subscriptions/{mine}/resume", headers=login("integrator"))) == (
        409, "SUBSCRIPTION_NOT_PAUSED")
    assert client.delete(f"/v1/subscriptions/{mine}", headers=login("integrator")).status_code == 201
    assert code(client.delete(f"/v1/subscriptions/{mine}", headers=login("integrator"))) == (
        409, "SUBSCRIPTION_DELETED")
    assert client.get(f"/v1/subscriptions/{mine}", headers=login("integrator")).json()["status"] == "deleted"
    assert code(subscribe(client, login("integrator"), receiver.url, sites=["factory-9"])) == (403, "SITE_FORBIDDEN")
    assert code(subscribe(client, login("integrator"), receiver.url, types=["SubscriptionCreated"])) == (
        422, "UNKNOWN_EVENT_TYPE")
    assert code(subscribe(client, login("integrator"), "https://93.184.215.14/a\nb")) == (422, "VALIDATION_FAILED")
    # staff records (names, roles, addresses) are for those who read every case, as in every read
    assert code(subscribe(client, login("integrator"), receiver.url, types=["UserCreated"])) == (
        403, "SITE_FORBIDDEN")
    assert subscribe(client, login("admin"), receiver.url, types=["UserCreated"]).status_code == 201


REFUSED = [
    ("ftp://example.com/hook", "WEBHOOK_URL_INVALID"),
    ("http:///nohost", "WEBHOOK_URL_INVALID"),
    ("http://user:pw@example.com/hook", "WEBHOOK_URL_INVALID"),
    ("http://127.0.0.1:8080/hook", "WEBHOOK_URL_FORBIDDEN"),
    ("http://localhost/hook", "WEBHOOK_URL_FORBIDDEN"),
    ("http://10.1.2.3/hook", "WEBHOOK_URL_FORBIDDEN"),
    ("http://169.254.169.254/latest/meta-data", "WEBHOOK_URL_FORBIDDEN"),
    ("http://[::1]/hook", "WEBHOOK_URL_FORBIDDEN"),
    ("http://[::ffff:192.168.0.1]/hook", "WEBHOOK_URL_FORBIDDEN"),
    ("http://224.0.0.1/hook", "WEBHOOK_URL_FORBIDDEN"),
    ("http://0.0.0.0/hook", "WEBHOOK_URL_FORBIDDEN"),
    ("http://100.64.0.1/hook", "WEBHOOK_URL_FORBIDDEN"),
]


def test_private_and_malformed_targets_are_refused_unless_private_ones_are_allowed(settings):
    from fastapi.testclient import TestClient

    from api.app import create_app
    from ledger.services.journeys import seed_identities

    strict = settings.model_copy(update={"webhook_allow_private": False})
    with TestClient(create_app(strict), raise_server_exceptions=False) as client:
        seed_identities(client.app.state.container.services)
        token = client.post("/v1/auth/token", data={"username": "admin", "password": DEMO_PASSWORD}).json()
        admin = {"Authorization": f"Bearer {token['access_token']}"}
        for url, code in REFUSED:
            response = subscribe(client, admin, url)
            assert response.status_code == 422, (url, response.text)
            assert response.headers["content-type"].startswith("application/problem+json")
            assert response.json()["code"] == code, url
        assert client.get("/v1/subscriptions", headers=admin).json() == []
        assert subscribe(client, admin, "https://93.184.215.14/hook").status_code == 201  # a public address


def test_a_subscriber_of_another_site_never_receives_this_sites_events(client, login, receiver):
    services = client.app.state.container.services
    system = Context(actor="system")
    services.identity.register_site(system, site_id="hospital-2", name="Other Hospital", kind="hospital")
    services.identity.create_user(system, user_id="integrator-2", printed_name="Other MES", roles=["integrator"],
                                  sites=["hospital-2"], password=DEMO_PASSWORD)
    other = Receiver()
    try:
        theirs = subscribe(client, login("integrator-2"), other.url)
        assert theirs.status_code == 201, theirs.text
        ours = subscribe(client, login("integrator"), receiver.url).json()["subscription_id"]
        journey = Journey(client, login)
        coi = journey.case()
        bag = journey.label(coi, "cryobag", {"min_celsius": 2, "max_celsius": 8})
        journey.upload(bag, [5.0, 9.9, 5.0])
        assert receiver.wait_for(3)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            log = client.get(f"/v1/subscriptions/{ours}/deliveries", headers=login("integrator")).json()
            if all(d["status"] == "delivered" for d in log["deliveries"]):
                break
            time.sleep(0.05)
        time.sleep(0.3)
        assert other.received == []
        theirs_log = client.get(f"/v1/subscriptions/{theirs.json()['subscription_id']}/deliveries",
                                headers=login("integrator-2")).json()
        assert theirs_log["deliveries"] == []
        assert client.get(f"/v1/subscriptions/{ours}/deliveries", headers=login("integrator-2")).status_code == 404
    finally:
        other.down()


def test_pause_holds_deliveries_a_dead_letter_is_given_up_and_metrics_count_them(client, login, receiver):
    container = client.app.state.container
    worker = container.webhooks.worker
    worker.policy = worker.policy.__class__(**{**worker.policy.__dict__, "dead_after": 0.4})
    sub = subscribe(client, login("integrator"), receiver.url, types=["CaseEnrolled"]).json()["subscription_id"]
    assert client.post(f"/v1/subscriptions/{sub}/pause", headers=login("integrator")).status_code == 201
    journey = Journey(client, login)
    journey.case()
    time.sleep(0.5)
    log = client.get(f"/v1/subscriptions/{sub}/deliveries", headers=login("integrator")).json()["deliveries"]
    assert [d["status"] for d in log] == ["pending"] and receiver.received == []  # queued, not sent
    receiver.fail_next(10_000)  # the receiver answers 500 from now on
    assert client.post(f"/v1/subscriptions/{sub}/resume", headers=login("integrator")).status_code == 201
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and log[0]["status"] != "dead":
        time.sleep(0.1)
        log = client.get(f"/v1/subscriptions/{sub}/deliveries", headers=login("integrator")).json()["deliveries"]
    assert log[0]["status"] == "dead" and log[0]["last_status"] == 500, log
    assert log[0]["attempt_log"][-1]["outcome"] == "dead"
    journey.case()  # the lane moves on past a dead letter
    receiver.fail_next(0)
    assert receiver.wait_for(1)
    assert receiver.received[0].json["data"]["position"] > log[0]["position"]
    metrics = client.get("/metrics").text
    for line in ('ledger_webhook_outbox_rows{state="dead"} 1.0', "ledger_webhook_dead_letters_total 1.0"):
        assert line in metrics, line
    assert "ledger_webhook_failures_total" in metrics and "ledger_webhook_lag_seconds_count" in metrics
    assert 'ledger_webhook_deliveries_total 1.0' in metrics


def test_two_workers_never_send_one_row_twice(client, login, receiver):
    from sqlalchemy import text

    from ledger.webhooks.delivery import DeliveryWorker

    container = client.app.state.container
    container.webhooks.worker.stop()  # this test's two workers only
    policy = container.webhooks.worker.policy
    a = DeliveryWorker(container.engine, container.webhooks.worker.box, policy, worker_id="a")
    b = DeliveryWorker(container.engine, container.webhooks.worker.box, policy, worker_id="b")
    sub = subscribe(client, login("admin"), receiver.url, types=["CaseEnrolled", "UnitLabelled"]).json()
    journey = Journey(client, login)
    for _ in range(3):
        coi = journey.case()
        for _ in range(4):
            journey.label(coi, "cryobag")
    client.get(f"/v1/subscriptions/{sub['subscription_id']}", headers=login("admin"))  # queued by now
    (url, sealed), = container.engine.connect().execute(text(
        "SELECT url, secret_sealed FROM webhook_subscriptions")).all()
    held = a._claim(sub["subscription_id"], 2)
    assert len(held) == 2 and held[0] and held[1]
    rival = b._claim(sub["subscription_id"], 16)  # what a holds, b cannot take
    mine = {r.position for chain in held for r in chain}
    assert mine.isdisjoint({r.position for chain in rival for r in chain})
    assert {r.position for chain in rival for r in chain} and len(rival) < 16
    try:
        for worker, chains in ((a, held), (b, rival)):
            for chain in chains:
                worker.deliver_chain(chain, url, sealed)
        a.start()
        b.start()
        assert receiver.wait_for(15)
        time.sleep(0.5)
    finally:
        a.stop()
        b.stop()
    positions = [r.json["data"]["position"] for r in receiver.received]
    assert len(positions) == 15 and len(set(positions)) == 15  # each exactly once: the leases held


def test_a_stream_with_thousands_of_rows_in_back_off_does_not_hide_the_due_ones_behind_it(
        client, login, receiver):
    """A receiver that keeps refusing one stream's event (a poison message) leaves that stream's rows
    pending in back-off: the other streams' due rows, later in the log, are still claimed."""
    from sqlalchemy import text

    from ledger.webhooks import delivery

    container = client.app.state.container
    container.webhooks.worker.stop()  # claimed by hand below
    worker = delivery.DeliveryWorker(container.engine, container.webhooks.worker.box,
                                     container.webhooks.worker.policy, worker_id="t")
    sub = subscribe(client, login("admin"), receiver.url, types=["CaseEnrolled"]).json()
    journey = Journey(client, login)
    for _ in range(3):
        journey.case()
    sid = sub["subscription_id"]
    client.get(f"/v1/subscriptions/{sid}", headers=login("admin"))  # queued by now
    stuck = 2 * delivery.CLAIM_PAGE + 1  # more than the pages the first reads held
    with container.engine.begin() as conn:
        first = conn.execute(text("SELECT MIN(position) FROM webhook_outbox WHERE subscription_id = :s"),
                             {"s": sid}).scalar()
        conn.execute(text("UPDATE webhook_outbox SET position = position + :n WHERE subscription_id = :s"),
                     {"n": stuck, "s": sid})
        later = _micros_from_now(3600)
        conn.execute(text(
            "INSERT INTO webhook_outbox (subscription_id, position, event_id, stream, event_type, payload, status, "
            "attempts, due_since, next_attempt, committed_at) SELECT subscription_id, position - :n + :k, event_id, "
            "'poison', event_type, payload, 'pending', 3, due_since, :later, committed_at FROM webhook_outbox "
            "WHERE subscription_id = :s AND position = :p"),
            [{"n": stuck, "k": k, "later": later, "s": sid, "p": first + stuck} for k in range(stuck)])
        due = {r[0] for r in conn.execute(text(
            "SELECT stream FROM webhook_outbox WHERE subscription_id = :s AND stream <> 'poison'"), {"s": sid})}
    assert len(due) == 3
    claimed = worker._claim(sid, 16)
    streams = {row.position: row for chain in claimed for row in chain}
    assert len(claimed) == 3 and all(p > first + stuck - 1 for p in streams)  # the three due cases, none poisoned
    assert worker._claim(sid, 16) == []  # they are leased now, and the poisoned stream waits
    with container.engine.begin() as conn:  # given back: found again, but by a deep claim at most once a second
        conn.execute(text("UPDATE webhook_outbox SET lease_owner = NULL, lease_until = NULL "
                          "WHERE subscription_id = :s"), {"s": sid})
    assert worker._claim(sid, 16) == []
    worker._deep_claims[sid] -= delivery.DEEP_CLAIM_EVERY
    assert len(worker._claim(sid, 16)) == 3


def _micros_from_now(seconds: float) -> int:
    return int((time.time() + seconds) * 1_000_000)


def test_delivered_rows_past_their_retention_are_pruned_and_pending_ones_kept(client, login, receiver):
    from sqlalchemy import text

    container = client.app.state.container
    worker = container.webhooks.worker
    live = subscribe(client, login("integrator"), receiver.url, types=["CaseEnrolled"]).json()["subscription_id"]
    held = subscribe(client, login("integrator"), receiver.url, types=["CaseEnrolled"]).json()["subscription_id"]
    assert client.post(f"/v1/subscriptions/{held}/pause", headers=login("integrator")).status_code == 201
    journey = Journey(client, login)
    journey.case()
    assert receiver.wait_for(1)

    def rows(table: str) -> dict[str, int]:
        with container.engine.connect() as conn:
            return dict(conn.execute(text(f"SELECT subscription_id, COUNT(*) FROM {table} "  # noqa: S608
                                          "GROUP BY subscription_id")).all())

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and rows("webhook_attempts").get(live) != 1:
        time.sleep(0.05)
    assert rows("webhook_outbox") == {live: 1, held: 1} and rows("webhook_attempts") == {live: 1}
    worker.policy = worker.policy.__class__(**{**worker.policy.__dict__, "retain": 0.0, "prune_every": 0.0})
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and live in rows("webhook_outbox"):
        time.sleep(0.05)
    assert rows("webhook_outbox") == {held: 1} and rows("webhook_attempts") == {}  # the paused one waits
    log = client.get(f"/v1/subscriptions/{live}/deliveries", headers=login("integrator")).json()["deliveries"]
    assert log == []
    assert client.post(f"/v1/subscriptions/{held}/resume", headers=login("integrator")).status_code == 201
    assert receiver.wait_for(2)  # what was pending is delivered after the prune


def test_a_subscription_reads_what_its_owner_may_read_now(client, login, receiver):
    """An owner moved off a hospital stops receiving its events; a deactivated owner receives
    nothing more, not even what was queued for it. An admin's subscription is the control."""
    services = client.app.state.container.services
    admin = Context(actor="admin")
    services.identity.create_user(Context(actor="system"), user_id="mes-2", printed_name="Second MES",
                                  roles=["integrator"], sites=["hospital-1"], password=DEMO_PASSWORD)
    control = Receiver()
    try:
        theirs = subscribe(client, login("mes-2"), receiver.url, types=["CaseEnrolled"]).json()["subscription_id"]
        subscribe(client, login("admin"), control.url, types=["CaseEnrolled", "UserDeactivated"])
        journey = Journey(client, login)
        journey.case()
        assert receiver.wait_for(1) and control.wait_for(1)  # while it may read hospital-1's cases

        services.identity.change_roles(admin, user_id="mes-2", roles=["integrator"], sites=["factory-1"])
        journey.case()
        assert control.wait_for(2)
        time.sleep(0.3)
        assert len(receiver.received) == 1  # hospital-1's new case is no longer its owner's to read

        assert client.post(f"/v1/subscriptions/{theirs}/pause", headers=login("mes-2")).status_code == 201
        services.identity.change_roles(admin, user_id="mes-2", roles=["integrator"], sites=["hospital-1"])
        journey.case()  # queued for it (paused), then its owner leaves
        assert control.wait_for(3)
        services.identity.deactivate(admin, user_id="mes-2", reason="left the company")
        journey.case()
        assert control.wait_for(5)
        assert "UserDeactivated" in [r.json["type"] for r in control.received]  # still news to its subscribers
        log = client.get(f"/v1/subscriptions/{theirs}/deliveries", headers=login("admin")).json()["deliveries"]
        assert [d["status"] for d in log] == ["delivered", "cancelled"], log  # the last case: never queued
        assert client.post(f"/v1/subscriptions/{theirs}/resume", headers=login("admin")).status_code == 201
        time.sleep(0.5)
        assert len(receiver.received) == 1
    finally:
        control.down()


def test_what_is_queued_or_replayed_is_sent_only_if_its_owner_may_read_it_now(client, login, receiver):
    """An owner moved off a hospital: the hospital's events already queued for it are cancelled, and
    a replay does not send them again; what it may still read is replayed."""
    services = client.app.state.container.services
    admin = Context(actor="admin")
    services.identity.create_user(Context(actor="system"), user_id="mes-3", printed_name="Third MES",
                                  roles=["integrator"], sites=["hospital-1", "factory-1"], password=DEMO_PASSWORD)
    sid = subscribe(client, login("mes-3"), receiver.url, types=["CaseEnrolled", "UnitLabelled"]).json()[
        "subscription_id"]
    journey = Journey(client, login)
    coi = journey.case()
    assert receiver.wait_for(1)  # the enrolment, at hospital-1
    assert client.post(f"/v1/subscriptions/{sid}/pause", headers=login("mes-3")).status_code == 201
    journey.case()  # queued while paused
    services.identity.change_roles(admin, user_id="mes-3", roles=["integrator"], sites=["factory-1"])
    log = client.get(f"/v1/subscriptions/{sid}/deliveries", headers=login("admin")).json()["deliveries"]
    assert [d["status"] for d in log] == ["delivered", "cancelled"], log  # hospital-1's: no longer its to read
    assert client.post(f"/v1/subscriptions/{sid}/resume", headers=login("admin")).status_code == 201
    assert client.post(f"/v1/subscriptions/{sid}/replay?from=1", headers=login("admin")).status_code == 201
    time.sleep(1.0)
    assert len(receiver.received) == 1, [r.json["type"] for r in receiver.received]  # nothing sent again
    log = client.get(f"/v1/subscriptions/{sid}/deliveries", headers=login("admin")).json()["deliveries"]
    assert [d["status"] for d in log] == ["delivered", "cancelled"], log  # left as it was
    services.identity.change_roles(admin, user_id="mes-3", roles=["integrator"], sites=["hospital-1"])
    assert client.post(f"/v1/subscriptions/{sid}/replay?from=1", headers=login("admin")).status_code == 201
    assert receiver.wait_for(2), [r.json["type"] for r in receiver.received]  # the first case's, readable again
    assert receiver.received[-1].json["data"]["coi"] == coi


def test_rows_cancelled_after_they_were_claimed_are_not_sent(client, login, receiver):
    """A worker holds a stream's chain; meanwhile the subscription is deleted (its pending rows are
    cancelled). The worker sends none of them: the cancellation is judged at each send, not only
    at the claim."""
    from sqlalchemy import text

    from ledger.webhooks.delivery import DeliveryWorker

    container = client.app.state.container
    container.webhooks.worker.stop()  # this test's worker only
    worker = DeliveryWorker(container.engine, container.webhooks.worker.box, container.webhooks.worker.policy,
                            worker_id="holder")
    sid = subscribe(client, login("admin"), receiver.url, types=["CaseEnrolled", "UnitLabelled"]).json()[
        "subscription_id"]
    journey = Journey(client, login)
    coi = journey.case()
    for _ in range(3):
        journey.label(coi, "cryobag")
    client.get(f"/v1/subscriptions/{sid}", headers=login("admin"))  # queued by now
    with container.engine.connect() as conn:
        (url, sealed), = conn.execute(text("SELECT url, secret_sealed FROM webhook_subscriptions")).all()
    held = worker._claim(sid, 4)
    assert held and sum(len(chain) for chain in held) >= 2
    assert client.delete(f"/v1/subscriptions/{sid}", headers=login("admin")).status_code == 201
    deadline = time.monotonic() + 10
    with container.engine.connect() as conn:
        while conn.execute(text("SELECT count(*) FROM webhook_outbox WHERE status = 'pending'")).scalar():
            assert time.monotonic() < deadline, "the deletion never cancelled the queue"
            time.sleep(0.05)
            conn.rollback()
    assert all(worker.deliver_chain(chain, url, sealed) == 0 for chain in held)
    time.sleep(0.3)
    assert receiver.received == []
    log = client.get(f"/v1/subscriptions/{sid}/deliveries", headers=login("admin")).json()["deliveries"]
    assert log and {d["status"] for d in log} == {"cancelled"}, log


def test_a_row_whose_lease_could_run_out_mid_send_is_given_back_not_sent(client, login, receiver):
    """A send starts only with a whole send's time (``timeout``) left on its lease: past that,
    another worker may take the row, and two sends of one stream could cross. The chain is given
    back untried (lease cleared, no attempt), and sent by the next claim."""
    from sqlalchemy import text

    from ledger.webhooks.delivery import DeliveryWorker, _micros

    container = client.app.state.container
    container.webhooks.worker.stop()  # this test's worker only
    worker = DeliveryWorker(container.engine, container.webhooks.worker.box, container.webhooks.worker.policy,
                            worker_id="holder")
    sid = subscribe(client, login("admin"), receiver.url, types=["CaseEnrolled"]).json()["subscription_id"]
    Journey(client, login).case()
    client.get(f"/v1/subscriptions/{sid}", headers=login("admin"))  # queued by now
    with container.engine.connect() as conn:
        (url, sealed), = conn.execute(text("SELECT url, secret_sealed FROM webhook_subscriptions")).all()
    held = worker._claim(sid, 4)
    assert len(held) == 1
    short = _micros() + int(worker.policy.timeout * 1_000_000) // 2  # half a send's time left
    with container.engine.begin() as conn:
        conn.execute(text("UPDATE webhook_outbox SET lease_until = :l"), {"l": short})
    assert worker.deliver_chain(held[0], url, sealed) == 0
    time.sleep(0.3)
    assert receiver.received == []
    with container.engine.connect() as conn:
        assert conn.execute(text("SELECT status, attempts, lease_owner FROM webhook_outbox")).all() == [
            ("pending", 0, None)]
    again = worker._claim(sid, 4)  # a full lease: sent
    assert worker.deliver_chain(again[0], url, sealed) == 1
    assert receiver.wait_for(1)


def test_each_subscription_shows_the_counts_of_its_own_queue(client, login, receiver):
    """One enrolment and three labels, to two subscriptions of one owner: each shows only its rows
    by state, in the list and alone."""
    headers = login("admin")
    enrolments = subscribe(client, headers, receiver.url, types=["CaseEnrolled"]).json()["subscription_id"]
    labels = subscribe(client, headers, receiver.url, types=["UnitLabelled"]).json()["subscription_id"]
    journey = Journey(client, login)
    coi = journey.case()
    for _ in range(3):
        journey.label(coi, "cryobag")
    assert receiver.wait_for(4)
    deadline = time.monotonic() + 10
    while True:
        listed = {s["subscription_id"]: s["queue"] for s in client.get("/v1/subscriptions", headers=headers).json()}
        if listed == {enrolments: {"delivered": 1}, labels: {"delivered": 3}}:
            break
        assert time.monotonic() < deadline, listed
        time.sleep(0.05)
    assert client.get(f"/v1/subscriptions/{labels}", headers=headers).json()["queue"] == {"delivered": 3}
