"""R2: restart PostgreSQL under load: clients get 503 + Retry-After (never 500), the service
recovers by itself, and retried requests with their Idempotency-Key create no duplicates.

This restarts the SHARED PostgreSQL server, so it runs only when LEDGER_DRILLS includes
``pg-restart`` or ``CI=true``; the quick form restarts it once."""

from __future__ import annotations

import os
import subprocess
import threading
import time
import uuid

import httpx
import pytest

from ledger.store.rawstore import connect

from .conftest import DRILLS, FULL, report

ENABLED = "pg-restart" in DRILLS or os.environ.get("CI") == "true"
RESTARTS = 3 if FULL else 1


def _restart_postgres() -> None:
    version = os.listdir("/etc/postgresql")[0]
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"],  # noqa: S603,S607
                   check=True, timeout=120)


@pytest.mark.skipif(not ENABLED, reason="restarts the shared PostgreSQL: set LEDGER_DRILLS=pg-restart (or CI=true)")
@pytest.mark.parametrize("database", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
@pytest.mark.req("URS-A11-7-1")
def test_postgres_restart_under_load(served):
    served.start()
    token = served.token("integrator")
    statuses: list[tuple[int, str | None]] = []
    keys: dict[str, dict] = {}
    stop = threading.Event()

    def write(name: str) -> None:
        with httpx.Client(base_url=served.server.url, timeout=30,
                          headers={"Authorization": f"Bearer {token}"}) as client:
            n = 0
            while not stop.is_set():
                n += 1
                key = f"{name}-{n}-{uuid.uuid4().hex[:6]}"
                body = {"type": "CaseEnrolled", "data": {"kind": "autologous", "product": "CAR-T (drill)",
                                                         "treating_site": "hospital-1", "mrn": f"MRN-R2-{key}"}}
                keys[key] = body
                response = client.post("/v1/events", json=body, headers={"Idempotency-Key": key})
                statuses.append((response.status_code, response.headers.get("Retry-After")))
                time.sleep(0.02)

    writers = [threading.Thread(target=write, args=(f"w{i}",)) for i in range(4)]
    for w in writers:
        w.start()
    for _ in range(RESTARTS):
        time.sleep(1.5)
        _restart_postgres()
    time.sleep(2)
    stop.set()
    for w in writers:
        w.join()
    assert not [s for s, _ in statuses if s >= 500 and s != 503], statuses
    assert all(retry for s, retry in statuses if s == 503), "a 503 without Retry-After"
    deadline = time.monotonic() + 60
    with httpx.Client(base_url=served.server.url, timeout=30,
                      headers={"Authorization": f"Bearer {token}"}) as client:
        answers = {}
        for key, body in keys.items():  # every request retried with its key until it is answered
            while True:
                response = client.post("/v1/events", json=body, headers={"Idempotency-Key": key})
                if response.status_code in (200, 201):
                    answers[key] = response.json()["event_id"]
                    break
                assert response.status_code == 503 and time.monotonic() < deadline, response.text
                time.sleep(float(response.headers.get("Retry-After", "1")))
    with connect(served.database) as conn:
        enrolled = conn.execute("SELECT count(*) FROM ledger_events WHERE convert_from(state, 'UTF8') LIKE %s",
                                ('%"type":"CaseEnrolled"%',)).fetchone()[0]
    assert enrolled == len(keys), f"{enrolled} CaseEnrolled events for {len(keys)} keys"
    assert len(set(answers.values())) == len(keys)
    codes = [s for s, _ in statuses]
    report("R2", restarts=RESTARTS, requests=len(codes), created=codes.count(201),
           unavailable_503=codes.count(503), other_5xx=sum(1 for c in codes if c >= 500 and c != 503),
           keys=len(keys), case_enrolled_events=enrolled)
