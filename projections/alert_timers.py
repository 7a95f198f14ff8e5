"""Durable alert timers: a table-backed queue (``alert_timers``) with claim-by-update.

The alert follower (``projections.alerts``) schedules a timer in the same transaction that
advances its tracking row, so a timer is scheduled if and only if the event that asked for it was
applied, and a follower replaying the log schedules nothing twice (the timer id follows from the
action, the alert and the cause: ``INSERT .. ON CONFLICT DO NOTHING``). Any number of workers, in
any number of processes, fire due timers: a worker claims one with a conditional ``UPDATE`` that
only one of them can win (``state = 'scheduled'``, or a claim whose lease ran out because its
worker died), fires it, then marks it ``done``. A worker killed between the append and ``done``
leaves a claim whose lease runs out; the next worker fires it again and the alert's own decision
(one raise per cause, ``ledger.domain.alerts``) records nothing twice.

One SQL implementation serves SQLite and PostgreSQL; on PostgreSQL candidates are picked with
``FOR UPDATE SKIP LOCKED`` so workers do not queue behind each other's claims.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine

from .common import dumps, loads, micros, rows, sql

LEASE_MICROS = 30_000_000  # a claim not marked done within 30 s is taken over


@dataclass(frozen=True)
class Timer:
    """What to do at ``due_at`` (epoch microseconds): ``raise`` or ``clear`` one alert."""

    action: str
    alert_id: str
    kind: str
    subject: str
    cause: str
    due_at: int
    sites: tuple[str, ...] = ()
    coi: str | None = None
    severity: str = "warning"
    message: str = ""

    @property
    def timer_id(self) -> str:
        return f"{self.action}|{self.alert_id}|{self.cause}"


def schedule(conn: Connection, timer: Timer, position: int) -> None:
    """Schedule ``timer`` unless a timer with its id exists (replays schedule nothing twice)."""
    conn.execute(sql(
        "INSERT INTO alert_timers (timer_id, alert_id, action, kind, subject, coi, sites, severity, message, cause, "
        "due_at, state, claimed_by, lease_until, attempts, fired_at, position) VALUES (:id, :alert, :action, :kind, "
        ":subject, :coi, :sites, :severity, :message, :cause, :due, 'scheduled', NULL, NULL, 0, NULL, :p) "
        "ON CONFLICT (timer_id) DO NOTHING"),
        {"id": timer.timer_id, "alert": timer.alert_id, "action": timer.action, "kind": timer.kind,
         "subject": timer.subject, "coi": timer.coi, "sites": dumps(sorted(timer.sites)), "severity": timer.severity,
         "message": timer.message, "cause": timer.cause, "due": timer.due_at, "p": position})


def cancel_raises(conn: Connection, alert_id: str) -> None:
    """The condition ended before its alert was due: its scheduled raises never fire."""
    conn.execute(sql("UPDATE alert_timers SET state = 'cancelled' "
                     "WHERE alert_id = :a AND action = 'raise' AND state = 'scheduled'"), {"a": alert_id})


def _timer(row: dict[str, Any]) -> Timer:
    return Timer(row["action"], row["alert_id"], row["kind"], row["subject"], row["cause"], row["due_at"],
                 tuple(loads(row["sites"])), row["coi"], row["severity"], row["message"])


class TimerQueue:
    """The worker's side of the queue: claim due timers, mark them done or failed."""

    def __init__(self, engine: Engine, worker: str) -> None:
        self.engine = engine
        self.worker = worker
        self.postgres = engine.dialect.name == "postgresql"

    def claim_due(self, now: datetime, limit: int = 20) -> list[Timer]:
        """Due timers this worker now holds (each held by one worker at a time), oldest first."""
        at = micros(now)
        lock = " FOR UPDATE SKIP LOCKED" if self.postgres else ""
        with self.engine.begin() as conn:
            found = rows(conn.execute(sql(
                "SELECT * FROM alert_timers WHERE (state = 'scheduled' AND due_at <= :now) "
                "OR (state = 'claimed' AND lease_until < :now) ORDER BY due_at, action DESC LIMIT :n" + lock),
                {"now": at, "n": limit}))
            claimed = []
            for row in found:
                won = conn.execute(sql(
                    "UPDATE alert_timers SET state = 'claimed', claimed_by = :w, lease_until = :lease, "
                    "attempts = attempts + 1 WHERE timer_id = :id AND (state = 'scheduled' "
                    "OR (state = 'claimed' AND lease_until < :now))"),
                    {"w": self.worker, "lease": at + LEASE_MICROS, "id": row["timer_id"], "now": at}).rowcount
                if won:
                    claimed.append(_timer(row))
            return claimed

    def done(self, timer: Timer, now: datetime, *, failed: bool = False) -> None:
        with self.engine.begin() as conn:
            conn.execute(sql("UPDATE alert_timers SET state = :s, fired_at = :at, lease_until = NULL "
                             "WHERE timer_id = :id AND claimed_by = :w"),
                         {"s": "failed" if failed else "done", "at": micros(now), "id": timer.timer_id,
                          "w": self.worker})

    def attempts(self, timer: Timer) -> int:
        with self.engine.connect() as conn:
            return conn.execute(sql("SELECT attempts FROM alert_timers WHERE timer_id = :id"),
                                {"id": timer.timer_id}).scalar_one()


def timer_figures(conn: Connection, now: datetime) -> dict[str, float]:
    """For ``/metrics``: timers due and not yet fired, and how late the oldest of them is (s)."""
    at = micros(now)
    row = conn.execute(sql("SELECT COUNT(*), MIN(due_at) FROM alert_timers "
                           "WHERE state IN ('scheduled', 'claimed') AND due_at <= :now"), {"now": at}).first()
    count, oldest = (row[0], row[1]) if row else (0, None)
    return {"due": float(count or 0), "lag_seconds": 0.0 if oldest is None else (at - oldest) / 1_000_000}


def timers_of(conn: Connection, alert_ids: Iterable[str]) -> list[dict[str, Any]]:
    """Every timer of the alerts (tests and diagnostics)."""
    ids = list(alert_ids)
    marks = ", ".join(f":a{i}" for i in range(len(ids))) or "NULL"
    return rows(conn.execute(sql(f"SELECT * FROM alert_timers WHERE alert_id IN ({marks}) ORDER BY due_at"),  # noqa: S608
                             {f"a{i}": a for i, a in enumerate(ids)}))
