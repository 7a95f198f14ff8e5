"""R1: ``kill -9`` the server under write load; no acknowledged event is lost, verify passes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest

from ledger.store.rawstore import connect

from .conftest import FULL, report

KILLS = 10 if FULL else 2


def _writer(url: str, token: str, acked: dict, stop: threading.Event, name: str) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, timeout=10) as client:
        n = 0
        while not stop.is_set():
            n += 1
            key = f"{name}-{n}-{uuid.uuid4().hex[:6]}"
            body = {"type": "CaseEnrolled", "data": {"kind": "autologous", "product": "CAR-T (drill)",
                                                     "treating_site": "hospital-1", "mrn": f"MRN-R1-{key}"}}
            try:
                response = client.post("/v1/events", json=body, headers={**headers, "Idempotency-Key": key})
            except httpx.HTTPError:
                time.sleep(0.05)
                continue
            if response.status_code == 201:
                acked[key] = (response.json(), body)


def _ledger_verify(environ: dict) -> subprocess.CompletedProcess:
    ledger = str(Path(sys.executable).with_name("ledger"))
    return subprocess.run([ledger, "verify", "--workers", "1"], env=environ, capture_output=True,  # noqa: S603
                          text=True, timeout=300, check=False)


def _stored(database, receipts: list[dict]) -> set[str]:
    """event ids found at the acknowledged (stream, seq) positions."""
    import json

    found = set()
    mark = "?" if database.kind == "sqlite" else "%s"
    sql = (f"SELECT state FROM {database.events_table} "  # noqa: S608
           f"WHERE originator_id = {mark} AND originator_version = {mark}")
    with connect(database) as conn:
        for r in receipts:
            stream = uuid.UUID(r["stream"])
            row = conn.execute(sql, (stream.hex if database.kind == "sqlite" else stream, r["seq"])).fetchone()
            if row:
                found.add(json.loads(bytes(row[0]))["envelope"]["event_id"])
    return found


@pytest.mark.req("URS-A11-7-1")
def test_kill_9_under_write_load_loses_no_acknowledged_event(served):
    served.start()
    token = served.token("integrator")
    acked: dict = {}
    for kill in range(KILLS):
        stop = threading.Event()
        writers = [threading.Thread(target=_writer, args=(served.server.url, token, acked, stop, f"k{kill}w{i}"))
                   for i in range(4)]
        for w in writers:
            w.start()
        time.sleep(1.0 + 0.3 * (kill % 3))
        os.killpg(served.server.proc.pid, signal.SIGKILL)  # the server and any worker, mid-write
        served.server.proc.wait()
        stop.set()
        for w in writers:
            w.join()
        verified = _ledger_verify(served.environ)
        assert verified.returncode == 0, f"after kill {kill + 1}: {verified.stdout}{verified.stderr}"
        served.start()
    assert len(acked) > 0
    receipts = [r for answer, _ in acked.values() for r in [answer]]
    stored = _stored(served.database, receipts)
    lost = [key for key, (answer, _) in acked.items() if answer["event_id"] not in stored]
    assert not lost, f"{len(lost)} acknowledged events lost, e.g. {lost[:3]}"
    report("R1", database=served.database.kind, kills=KILLS, acknowledged=len(acked), lost=len(lost),
           verify_passed_after_each_kill=True)
    with served.client("integrator") as client:  # a retried request is answered, not written again
        key, (answer, body) = next(iter(acked.items()))
        again = client.post("/v1/events", json=body, headers={"Idempotency-Key": key})
        assert again.status_code in (200, 201) and again.json()["event_id"] == answer["event_id"]


