"""R9: ``kill -9`` the server (a real ``ledger serve``) while it delivers webhooks, restart it:
every notification is delivered at least once, in log order per stream, and a duplicate carries
the same ``webhook-id``."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import httpx
from standardwebhooks import Webhook

from bench.receiver import Receiver

from .conftest import FULL, report

KILLS = 5 if FULL else 2
BAGS = 4


def _upload(client: httpx.Client, unit: str, n: int, start: datetime) -> int | None:
    readings = [{"t": (start + timedelta(minutes=n)).strftime("%Y-%m-%dT%H:%M:%SZ"), "celsius": 4.0}]
    try:
        answer = client.post(f"/v1/units/{unit}/temperatures", json={"logger_id": "LOG-R9", "readings": readings})
    except httpx.HTTPError:
        return None
    return answer.json()["position"] if answer.status_code == 201 else None


def test_kill_9_mid_delivery_loses_no_notification_and_keeps_order(served):
    served.environ.update({"LEDGER_WEBHOOK_ALLOW_PRIVATE": "true", "LEDGER_WEBHOOK_RETRY_BASE_SECONDS": "0.05",
                           "LEDGER_WEBHOOK_RETRY_MAX_SECONDS": "0.5", "LEDGER_WEBHOOK_TIMEOUT_SECONDS": "1"})
    receiver = Receiver()
    receiver.delay = 0.02  # a slow receiver: a kill lands mid-delivery
    served.start()
    try:
        admin, integrator = served.client("admin"), served.client("integrator")
        created = admin.post("/v1/subscriptions", json={"url": receiver.url, "event_types": ["TemperatureRecorded"]})
        assert created.status_code == 201, created.text
        secret = created.json()["secret"]
        coi = integrator.post("/v1/events", json={"type": "CaseEnrolled", "data": {
            "kind": "autologous", "product": "CAR-T (drill)", "treating_site": "hospital-1", "mrn": "MRN-R9-1"}}
        ).json()["answer"]["coi"]
        bags = [integrator.post("/v1/events", json={"type": "UnitLabelled", "coi": coi, "data": {
            "kind": "cryobag", "spec": {"min_celsius": 2, "max_celsius": 8}}}).json()["answer"]["unit_id"]
            for _ in range(BAGS)]
        start = datetime.now(UTC) - timedelta(days=1)
        acked: list[int] = []
        n = 0
        for _kill in range(KILLS):
            stop = threading.Event()

            def write(stop: threading.Event = stop) -> None:
                nonlocal n
                with served.client("integrator") as client:
                    while not stop.is_set():
                        n += 1
                        position = _upload(client, bags[n % BAGS], n, start)
                        if position is not None:
                            acked.append(position)

            writer = threading.Thread(target=write)
            writer.start()
            time.sleep(1.5)
            delivered_before = len(receiver.received)
            os.killpg(served.server.proc.pid, signal.SIGKILL)  # the server, its follower and worker
            served.server.proc.wait()
            stop.set()
            writer.join()
            assert delivered_before > 0, "nothing was being delivered when the server was killed"
            served.start()
        with served.client("integrator") as client:  # a few more after the last restart
            for _ in range(5):
                n += 1
                position = _upload(client, bags[n % BAGS], n, start)
                assert position is not None
                acked.append(position)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not set(acked) <= {r.json["data"]["position"]
                                                                  for r in list(receiver.received)}:
            time.sleep(0.2)
        got = list(receiver.received)
        positions = {r.json["data"]["position"] for r in got}
        assert set(acked) <= positions, sorted(set(acked) - positions)  # at least once
        hook = Webhook(secret)
        ids: dict[str, set[int]] = defaultdict(set)  # webhook-id -> positions
        sent_as: dict[int, set[str]] = defaultdict(set)  # position -> webhook-ids
        per_stream: dict[str, list[int]] = defaultdict(list)
        for r in got:
            hook.verify(r.body, r.headers)
            position = r.json["data"]["position"]
            ids[r.headers["webhook-id"]].add(position)
            sent_as[position].add(r.headers["webhook-id"])
            seen = per_stream[r.json["data"]["stream"]]
            if position not in seen:
                assert not seen or position > seen[-1], (seen, position)  # first arrivals in log order
                seen.append(position)
        # one webhook-id per notification, and a duplicate carries its notification's id
        assert all(len(p) == 1 for p in ids.values()) and all(len(i) == 1 for i in sent_as.values())
        report("R9", kills=KILLS, notifications=len(positions), received=len(got), duplicates=len(got) - len(positions))
    finally:
        receiver.down()

