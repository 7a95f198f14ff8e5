"""The alert follower: the ``alerts`` read model, and the timers that raise and clear alerts.

Tracked on its own (``alerts``), in the same transaction as everything it writes. From the log it

* keeps, per unit stream, its label, COI and the sites its events involve (``alert_subjects``),
  so an alert names its subject by label and concerns the unit's sites;
* schedules timers (``projections.alert_timers``): ``excursion`` at once when the ledger detects an
  excursion; ``handover_unacknowledged`` ``handover_minutes`` after a handover is offered;
  ``near_expiry`` ``expiry_hours`` before a labelled unit's expiry; and a ``clear`` (with the
  scheduled raises cancelled) when the condition ends: the excursion assessed, the handover
  acknowledged or declined, the unit infused, disposed of or consumed by a lot, the shipment
  delivered;
* projects ``AlertRaised`` / ``AlertCleared`` into ``alerts`` and ``alert_sites``, and schedules
  the e-mail of a raised alert (a ``mail`` timer, due at once) to the staff of its sites;
* keeps whom to mail (``alert_contacts``: a user's address, ``UserContactSet``, their sites and
  whether they are active).

The timers fire in ``projections.alert_worker``, which records the alert events; the follower only
ever decides *when*, never writes events.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from ledger.datatypes import EventData
from ledger.domain.base import when
from ledger.domain.catalogue import typed
from ledger.domain.events_alert import AlertCleared, AlertRaised, UserContactSet, alert_id
from ledger.domain.events_quality import (
    ExcursionAssessed,
    ExcursionDetected,
    ManufacturingStarted,
    ProductInfused,
    UnitDisposed,
)
from ledger.domain.events_registry import UserCreated, UserDeactivated, UserRolesChanged
from ledger.domain.events_unit import (
    CustodyAcknowledged,
    CustodyDeclined,
    CustodyTransferred,
    ShipmentDelivered,
    UnitLabelled,
)
from ledger.domain.scope import event_sites
from ledger.store.records import SealedEvent
from ledger.timefmt import format_utc, parse_utc, utc_now

from .alert_timers import Timer, cancel_raises, schedule
from .common import delete_all, dumps, env_of, is_in, loads, micros, sql

Subject = tuple[str, str | None, frozenset[str]]  # label, COI, sites
MAIL_WINDOW = timedelta(hours=1)
"""Only alerts raised this recently are mailed: a log replayed into a fresh database (a restore, a
migration) must not mail every alert of the past again."""


class AlertFollower:
    name = "alerts"
    tables = ("alerts", "alert_sites", "alert_subjects", "alert_contacts")
    """Emptied by a rebuild. ``alert_timers`` is not: it is the durable queue, not a view, and a
    replay finds each timer already there (scheduled, done or cancelled) and leaves it be, so a
    rebuild neither raises nor mails anything again."""

    def __init__(self, reads_all: Callable[[Sequence[str], Sequence[str]], bool], *, handover_minutes: float = 30.0,
                 expiry_hours: float = 24.0, clock: Callable[[], datetime] = utc_now,
                 mail_window: timedelta = MAIL_WINDOW) -> None:
        self.reads_all = reads_all  # the read rule's "reads every case" (roles, sites), injected
        self.handover = timedelta(minutes=handover_minutes)
        self.expiry = timedelta(hours=expiry_hours)
        self.clock = clock
        self.mail_window = mail_window
        self._subjects: dict[str, Subject | None] = {}  # read in this batch (another worker may write between)

    def begin_batch(self) -> None:
        self._subjects = {}

    def reset(self, conn: Connection) -> None:
        delete_all(conn, self.tables)

    def apply(self, conn: Connection, position: int, event: SealedEvent) -> None:
        env = env_of(event)
        data = typed(env["type"], env["data"])
        stream = str(env["stream"])
        if isinstance(data, UnitLabelled):
            self._remember(conn, stream, (data.label, data.coi, frozenset()), new=True)
        subject = self._subject(conn, stream)
        if subject is not None:
            sites = event_sites(env["type"], data if data is not None else env["data"], env.get("site"))
            if not sites <= subject[2]:
                subject = (subject[0], subject[1], subject[2] | sites)
                self._remember(conn, stream, subject)
        self._timers(conn, position, env, data, subject)
        match data:
            case AlertRaised():
                self._raised(conn, position, env, data)
                if parse_utc(env["recorded_at"]) >= self.clock() - self.mail_window:
                    schedule(conn, Timer("mail", data.alert_id, data.kind, data.subject, str(env["event_id"]),
                                         micros(env["recorded_at"]), tuple(data.sites), data.coi, data.severity,
                                         data.message), position)
            case AlertCleared():
                self._cleared(conn, env, data)
            case UserCreated(user=user, roles=roles, sites=sites) | UserRolesChanged(user=user, roles=roles,
                                                                                     sites=sites):
                self._contact(conn, user, sites=sites, reads_all=self.reads_all(roles, sites))
            case UserContactSet(user=user, email=email):
                self._contact(conn, user, email=email)
            case UserDeactivated(user=user):
                self._contact(conn, user, active=False)

    # ------------------------------------------------------------ subjects

    def _subject(self, conn: Connection, stream: str) -> Subject | None:
        if stream not in self._subjects:
            row = conn.execute(sql("SELECT label, coi, sites FROM alert_subjects WHERE stream = :s"),
                               {"s": stream}).first()
            self._subjects[stream] = None if row is None else (row[0], row[1], frozenset(loads(row[2])))
        return self._subjects[stream]

    def _remember(self, conn: Connection, stream: str, subject: Subject, *, new: bool = False) -> None:
        params = {"s": stream, "l": subject[0], "c": subject[1], "sites": dumps(sorted(subject[2]))}
        if new:
            conn.execute(sql("INSERT INTO alert_subjects (stream, label, coi, sites) VALUES (:s, :l, :c, :sites) "
                             "ON CONFLICT (stream) DO NOTHING"), params)
            self._subjects.pop(stream, None)
        else:
            conn.execute(sql("UPDATE alert_subjects SET sites = :sites WHERE stream = :s"), params)
            self._subjects[stream] = subject

    # -------------------------------------------------------------- timers

    def _timers(self, conn: Connection, position: int, env: Mapping[str, Any], data: EventData | None,
                subject: Subject | None) -> None:
        at = micros(when(env))
        cause = str(env["event_id"])
        if subject is None:
            if isinstance(data, ShipmentDelivered):  # a late shipment planned through the port
                self._clear(conn, position, "shipment_late", data.tracking, "shipment delivered", cause, at)
            return
        label, coi, sites = subject

        def raise_at(kind: str, due: int, severity: str, message: str) -> None:
            schedule(conn, Timer("raise", alert_id(kind, label), kind, label, cause, due, tuple(sites), coi,
                                 severity, message), position)

        match data:
            case UnitLabelled(spec=spec) if spec.expiry is not None:
                due = micros(spec.expiry - self.expiry)
                raise_at("near_expiry", max(due, at), "warning", f"{label} expires at {format_utc(spec.expiry)}")
            case ExcursionDetected():
                raise_at("excursion", at, "critical",
                         f"{label}: temperature excursion {data.min_celsius}..{data.max_celsius} °C "
                         f"for {data.duration_s} s from {format_utc(data.start)}")
            case ExcursionAssessed(decision=decision):
                self._clear(conn, position, "excursion", label, f"excursion assessed: {decision}", cause, at)
            case CustodyTransferred(via_container=None, from_party=sender, to_party=receiver):
                raise_at("handover_unacknowledged", at + self.handover // timedelta(microseconds=1), "warning",
                         f"{label}: handover {sender} -> {receiver} not acknowledged since {format_utc(when(env))}")
            case CustodyAcknowledged(via_container=None):
                self._clear(conn, position, "handover_unacknowledged", label, "handover acknowledged", cause, at)
            case CustodyDeclined(via_container=None):
                self._clear(conn, position, "handover_unacknowledged", label, "handover declined", cause, at)
            case ProductInfused():
                self._clear(conn, position, "near_expiry", label, "unit infused", cause, at)
            case UnitDisposed():
                self._clear(conn, position, "near_expiry", label, "unit disposed of", cause, at)
            case ManufacturingStarted(inputs=inputs) if is_in(env["stream"], inputs):
                self._clear(conn, position, "near_expiry", label, "unit consumed by a lot", cause, at)
            case ShipmentDelivered(tracking=tracking):
                self._clear(conn, position, "shipment_late", tracking, "shipment delivered", cause, at)

    @staticmethod
    def _clear(conn: Connection, position: int, kind: str, subject: str, reason: str, cause: str, at: int) -> None:
        ident = alert_id(kind, subject)
        cancel_raises(conn, ident)
        schedule(conn, Timer("clear", ident, kind, subject, cause, at, message=reason), position)

    # ------------------------------------------------------------ contacts

    @staticmethod
    def _contact(conn: Connection, user: str, **change: Any) -> None:
        row = conn.execute(sql("SELECT email, sites, active, reads_all FROM alert_contacts WHERE user_id = :u"),
                           {"u": user}).first()
        email, sites, active, reads_all = (row[0], loads(row[1]), row[2], row[3]) if row else (None, [], 1, 0)
        email = change.get("email", email)
        sites = sorted(change.get("sites", sites))
        active = 0 if change.get("active", True) is False else active
        reads_all = int(change.get("reads_all", reads_all))
        conn.execute(sql("DELETE FROM alert_contacts WHERE user_id = :u"), {"u": user})
        conn.execute(sql("INSERT INTO alert_contacts (user_id, email, sites, active, reads_all) "
                         "VALUES (:u, :e, :s, :a, :r)"),
                     {"u": user, "e": email, "s": dumps(sites), "a": active, "r": reads_all})

    # -------------------------------------------------------------- alerts

    @staticmethod
    def _raised(conn: Connection, position: int, env: Mapping[str, Any], data: AlertRaised) -> None:
        conn.execute(sql("DELETE FROM alert_sites WHERE alert_id = :a"), {"a": data.alert_id})
        conn.execute(sql("DELETE FROM alerts WHERE alert_id = :a"), {"a": data.alert_id})
        conn.execute(sql(
            "INSERT INTO alerts (alert_id, kind, subject, coi, sites, severity, message, state, due_at, raised_at, "
            "raised_position, raised_event_id, cleared_at, clear_reason, cleared_event_id) VALUES (:a, :kind, "
            ":subject, :coi, :sites, :severity, :message, 'open', :due, :at, :p, :e, NULL, NULL, NULL)"),
            {"a": data.alert_id, "kind": data.kind, "subject": data.subject, "coi": data.coi,
             "sites": dumps(sorted(data.sites)), "severity": data.severity, "message": data.message,
             "due": format_utc(data.due_at) if data.due_at else None, "at": env["recorded_at"], "p": position,
             "e": env["event_id"]})
        if data.sites:
            conn.execute(sql("INSERT INTO alert_sites (alert_id, site) VALUES (:a, :s)"),
                         [{"a": data.alert_id, "s": site} for site in sorted(set(data.sites))])

    @staticmethod
    def _cleared(conn: Connection, env: Mapping[str, Any], data: AlertCleared) -> None:
        conn.execute(sql("UPDATE alerts SET state = 'cleared', cleared_at = :at, clear_reason = :r, "
                         "cleared_event_id = :e WHERE alert_id = :a"),
                     {"at": env["recorded_at"], "r": data.reason, "e": env["event_id"], "a": data.alert_id})
