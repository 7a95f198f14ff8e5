"""The alert timer queue and the alert port on real SQLite and PostgreSQL: a timer is scheduled
once however often the follower replays, each due timer is claimed by one worker, a worker that
died is taken over once its lease ran out, and a timer fired twice records one alert."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import text

from ledger.services.alerts import AlertService
from ledger.services.executor import Executor
from ledger.streams import alert_stream
from projections.alert_timers import LEASE_MICROS, Timer, TimerQueue, schedule, timer_figures, timers_of
from projections.alert_worker import MAX_ATTEMPTS, AlertWorker
from projections.common import micros

LABEL = "UNT-838C-9DM7-9"


def a_timer(clock, *, cause="e-1", seconds=0) -> Timer:
    return Timer("raise", f"near_expiry:{LABEL}", "near_expiry", LABEL, cause,
                 micros(clock() + timedelta(seconds=seconds)), (), None, "warning", f"{LABEL} expires soon")


def test_a_timer_is_scheduled_once_however_often_it_is_asked_for(engine, clock):
    for _ in range(3):
        with engine.begin() as conn:
            schedule(conn, a_timer(clock), position=7)
    with engine.connect() as conn:
        assert len(timers_of(conn, [f"near_expiry:{LABEL}"])) == 1
        assert timer_figures(conn, clock()) == {"due": 1.0, "lag_seconds": 0.0}


def test_each_due_timer_is_claimed_by_one_worker_and_a_dead_workers_claim_is_taken_over(engine, clock):
    with engine.begin() as conn:
        schedule(conn, a_timer(clock, cause="due"), position=1)
        schedule(conn, a_timer(clock, cause="later", seconds=60), position=2)
    first, second = TimerQueue(engine, "worker-a"), TimerQueue(engine, "worker-b")
    claimed = first.claim_due(clock())
    assert [t.cause for t in claimed] == ["due"]
    assert second.claim_due(clock()) == []  # held by worker-a; the other is not due
    # worker-a dies: once its lease has run out, worker-b takes the timer over
    after_lease = clock() + timedelta(microseconds=LEASE_MICROS + 1)
    assert [t.cause for t in second.claim_due(after_lease)] == ["due"]
    first.done(claimed[0], after_lease)  # too late: no longer its claim
    with engine.connect() as conn:
        rows = timers_of(conn, [claimed[0].alert_id])
    states = {r["cause"]: (r["state"], r["claimed_by"], r["attempts"]) for r in rows}
    assert states["due"] == ("claimed", "worker-b", 2) and states["later"][0] == "scheduled"
    second.done(claimed[0], after_lease)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT state FROM alert_timers WHERE cause = 'due'")).scalar_one() == "done"


def test_a_timer_fired_twice_records_one_alert(domain_ledger, engine, clock):
    alerts = AlertService(Executor(domain_ledger, clock))
    with engine.begin() as conn:
        schedule(conn, a_timer(clock), position=1)
    worker = AlertWorker(engine, alerts, clock, worker="w")
    assert worker.run_once() == 1
    worker.fire(a_timer(clock))  # e.g. a worker killed after the append, before marking the timer done
    alerts.raise_alert("near_expiry", LABEL, [], "warning", "again, other cause")  # open: nothing
    stream = [e.envelope for e in domain_ledger.read_stream(alert_stream(f"near_expiry:{LABEL}"))]
    assert [(e["type"], e["data"]["cause"], e["actor"]) for e in stream] == [("AlertRaised", "e-1", "system")]
    alerts.clear_alert("near_expiry", LABEL, "unit infused", cause="e-2")
    alerts.clear_alert("near_expiry", LABEL, "unit infused", cause="e-2")
    worker.fire(a_timer(clock))  # the same cause never raises it again
    alerts.raise_alert("near_expiry", LABEL, [], "warning", "relabelled", cause="e-3")  # a new cause does
    stream = [e.envelope for e in domain_ledger.read_stream(alert_stream(f"near_expiry:{LABEL}"))]
    assert [e["type"] for e in stream] == ["AlertRaised", "AlertCleared", "AlertRaised"]


def test_a_mail_the_server_keeps_refusing_is_given_up_after_its_attempts(domain_ledger, engine, clock):
    """A refused mail is retried once each claim expires, MAX_ATTEMPTS times, then marked failed
    (it used to be retried for ever, and could go out again each time)."""

    class Refusing:
        sender = "alerts@ledger.example"
        sent = 0

        def send(self, message) -> None:  # noqa: ANN001
            Refusing.sent += 1
            raise ConnectionRefusedError("the mail server is away")

    with engine.begin() as conn:
        conn.execute(text("INSERT INTO alert_contacts (user_id, email, sites, active, reads_all) "
                          "VALUES ('qa', 'qa@ledger.example', '[]', 1, 1)"))
        schedule(conn, Timer("mail", f"near_expiry:{LABEL}", "near_expiry", LABEL, "e-1", micros(clock()), (),
                             None, "warning", "expires soon"), position=1)
    worker = AlertWorker(engine, AlertService(Executor(domain_ledger, clock)), clock, worker="w", mailer=Refusing())
    now = clock()
    for _ in range(MAX_ATTEMPTS + 2):
        worker.clock = lambda now=now: now
        worker.run_once()
        now += timedelta(microseconds=LEASE_MICROS + 1)  # the claim expires: the timer is due again
    with engine.connect() as conn:
        (row,) = timers_of(conn, [f"near_expiry:{LABEL}"])
    assert Refusing.sent == MAX_ATTEMPTS and (row["state"], row["attempts"]) == ("failed", MAX_ATTEMPTS)
