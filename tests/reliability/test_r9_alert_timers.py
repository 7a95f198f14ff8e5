"""R9: durable alert timers. A near-expiry alert fires at its time although the server was
stopped before it was due and started again after; and with the server (two workers) killed with
``kill -9`` around timers' due times and restarted, each alert is raised exactly once."""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from ledger.store.rawstore import connect
from ledger.streams import alert_stream
from ledger.timefmt import parse_utc

from .conftest import report

TIMERS = {"LEDGER_ALERT_EXPIRY_HOURS": "0", "LEDGER_ALERT_POLL_SECONDS": "0.1"}


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def label_expiring(client, mrn: str, expiry: datetime) -> str:
    """A case and a unit expiring at ``expiry``; its label."""
    enrolled = client.post("/v1/events", json={"type": "CaseEnrolled", "data": {
        "kind": "autologous", "product": "CAR-T (drill)", "treating_site": "hospital-1", "mrn": mrn}})
    assert enrolled.status_code == 201, enrolled.text
    labelled = client.post("/v1/events", json={"type": "UnitLabelled", "coi": enrolled.json()["answer"]["coi"],
                                               "data": {"kind": "cryobag", "spec": {"expiry": iso(expiry)}}})
    assert labelled.status_code == 201, labelled.text
    return labelled.json()["answer"]["label"]


def alert_events(database, alert_id: str) -> list[dict]:
    """The alert's stream as stored (read without the service)."""
    stream = alert_stream(alert_id)
    mark = "?" if database.kind == "sqlite" else "%s"
    sql = (f"SELECT state FROM {database.events_table} WHERE originator_id = {mark} "  # noqa: S608
           "ORDER BY originator_version")
    with connect(database) as conn:
        found = conn.execute(sql, (stream.hex if database.kind == "sqlite" else stream,)).fetchall()
    return [json.loads(bytes(row[0]))["envelope"] for row in found]


def wait_raised(database, alert_id: str, timeout: float = 30.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if events := alert_events(database, alert_id):
            return events
        time.sleep(0.2)
    raise AssertionError(f"{alert_id} was not raised within {timeout} s")


@pytest.mark.req("URS-ALR-1")
def test_a_near_expiry_alert_fires_at_its_time_across_a_restart(served):
    served.environ.update(TIMERS)
    served.start()
    expiry = (datetime.now(UTC) + timedelta(seconds=6)).replace(microsecond=0)
    with served.client("nurse") as client:
        label = label_expiring(client, "MRN-R9-RESTART", expiry)
        time.sleep(1.0)  # the follower schedules the timer
        assert client.get(f"/v1/alerts/near_expiry:{label}").status_code == 404  # not yet due
    served.server.stop()
    assert alert_events(served.database, f"near_expiry:{label}") == []
    while datetime.now(UTC) < expiry + timedelta(seconds=1):  # due while no server runs
        time.sleep(0.2)
    served.start()
    raised, = wait_raised(served.database, f"near_expiry:{label}")
    assert raised["type"] == "AlertRaised" and raised["actor"] == "system"
    assert parse_utc(raised["data"]["due_at"]) == expiry and parse_utc(raised["recorded_at"]) >= expiry
    assert raised["data"]["sites"] == ["hospital-1"] and "MRN" not in json.dumps(raised["data"])
    with served.client("nurse") as client:
        deadline = time.monotonic() + 10
        while (shown := client.get(f"/v1/alerts/near_expiry:{label}")).status_code != 200:
            assert time.monotonic() < deadline, shown.text
            time.sleep(0.2)
        assert shown.json()["state"] == "open"


@pytest.mark.req("URS-ALR-1")
def test_kill_9_around_due_times_fires_each_alert_exactly_once(served):
    served.environ.update(TIMERS)
    served.start(workers=2)
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=4)
    due = [start + timedelta(seconds=i) for i in range(4)]  # one a second, killed in the middle of them
    with served.client("nurse") as client:
        labels = [label_expiring(client, f"MRN-R9-{uuid.uuid4().hex[:8]}", at) for at in due]
    kills = 0
    for moment in (due[1] - timedelta(milliseconds=200), due[2] + timedelta(milliseconds=100)):
        while datetime.now(UTC) < moment:
            time.sleep(0.02)
        os.killpg(served.server.proc.pid, signal.SIGKILL)  # the server and its workers, around a due time
        served.server.proc.wait()
        kills += 1
        served.start(workers=2)
    streams = {label: wait_raised(served.database, f"near_expiry:{label}") for label in labels}
    time.sleep(2.0)  # any second firing would have happened by now
    for label in labels:
        events = alert_events(served.database, f"near_expiry:{label}")
        assert [e["type"] for e in events] == ["AlertRaised"], (label, events)
    late = [(parse_utc(s[0]["recorded_at"]) - at).total_seconds() for s, at in zip(streams.values(), due, strict=True)]
    assert all(seconds >= 0 for seconds in late), late
    report("R9", database=served.database.kind, kills=kills, alerts=len(labels), raised_once=True,
           max_late_s=round(max(late), 2))
