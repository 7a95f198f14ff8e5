"""The webhook outbox: a follower of the log that queues, for each subscription, the events it gets.

Tracked as ``webhooks`` and run by a :class:`~projections.runner.ProjectionRunner`: the rows it
queues and its tracking position are written in one transaction, so a follower killed mid-batch
queues nothing twice and loses nothing. It follows the log on its own, not behind the read models
(their lag under load would be the webhooks' lag too): it keeps its own stream directory (which
case a stream belongs to, ``stream_directory`` rows of owner ``webhooks``) and its own copy of
the read scope, by the same rule as the read-scope read model (``projections.scope``): a case
involves the sites of its events and of its units' events (``ledger.domain.scope.event_sites``),
kept in ``webhook_scope``. Whether the owner may read an event is judged on them: by the sites
its case involves, or for an event of no case, the sites the event itself involves.

* ``webhook_scope``: one row per (COI, site) a case involves.
* ``webhook_subscriptions``: each subscription as its events left it (``active``, ``paused`` or
  ``deleted``), its terms and its sealed secret.
* ``webhook_outbox``: one row per (subscription, event position) to deliver, with its payload (the
  event as the owner may read it: COI pseudonyms only, never a patient reference), its state
  (``pending``, ``delivered``, ``dead``), attempts, the next attempt's time and the delivery
  worker's lease (``ledger.webhooks.delivery``).

A ``SubscriptionReplayRequested`` makes the subscription's rows from its position on pending
again. A deleted subscription's pending rows are dropped from the queue (kept as ``cancelled``).

A subscription reads what its owner may read NOW: a ``UserRolesChanged`` of its owner sets its
owner scope anew (the sites; whether the roles read every case is the access policy's rule,
injected as ``reads_all``) and cancels what is pending that it may no longer read, and a
``UserDeactivated`` empties it and cancels what was pending. A replay re-queues only what the owner
may read now.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection

from ledger.domain.catalogue import typed
from ledger.domain.events_case import CaseEnrolled, DonorRegistered
from ledger.domain.events_quality import ManufacturingStarted
from ledger.domain.events_registry import UserDeactivated, UserRolesChanged
from ledger.domain.events_unit import UnitLabelled
from ledger.domain.events_webhooks import (
    SubscriptionCreated,
    SubscriptionDeleted,
    SubscriptionPaused,
    SubscriptionReplayRequested,
    SubscriptionResumed,
)
from ledger.domain.scope import event_sites
from ledger.store.records import SealedEvent
from ledger.webhooks.matching import Terms

from .common import StreamDirectory, env_of, register_streams, scrub, sql

NAME = "webhooks"
OPENERS = frozenset(m.__name__ for m in (CaseEnrolled, DonorRegistered, UnitLabelled, ManufacturingStarted))
"""The events that give a stream its case (``projections.common.register_streams``)."""
OWNER_CHANGES = frozenset(m.__name__ for m in (UserRolesChanged, UserDeactivated))


def now_micros() -> int:
    return time.time_ns() // 1000


def terms_of(row_terms: str) -> Terms:
    raw = json.loads(row_terms)
    return Terms(frozenset(raw["event_types"]), frozenset(raw["sites"]), frozenset(raw["cois"]),
                 raw["min_severity"], frozenset(raw["owner_sites"]), raw["owner_reads_all"])


def terms_text(d: SubscriptionCreated) -> str:
    return json.dumps({"event_types": sorted(d.event_types), "sites": sorted(d.sites), "cois": sorted(d.cois),
                       "min_severity": d.min_severity, "owner_sites": sorted(d.owner_sites),
                       "owner_reads_all": d.owner_reads_all}, sort_keys=True)


def payload(position: int, env: Mapping[str, Any], coi: str | None) -> str:
    """What a subscriber receives (Standard Webhooks' ``type`` / ``timestamp`` / ``data``)."""
    return json.dumps({
        "type": env["type"], "timestamp": env["recorded_at"],
        "data": {"position": position, "event_id": env["event_id"], "stream": env["stream"], "coi": coi,
                 "site": env.get("site"), "occurred_at": env.get("occurred_at"),
                 "recorded_at": env["recorded_at"], "event": scrub(env["data"])},
    }, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


_CANCEL = ("UPDATE webhook_outbox SET status = 'cancelled', lease_owner = NULL, lease_until = NULL "
           "WHERE subscription_id = :s AND status = 'pending'")


def _cancel(conn: Connection, sid: str, positions: list[int] | None = None) -> None:
    """``sid``'s pending rows (those at ``positions``, or all of them) are never sent: cancelled,
    kept in its delivery log, their leases dropped (a worker holding one stops before it)."""
    if positions is None:
        conn.execute(sql(_CANCEL), {"s": sid})
    elif positions:
        conn.execute(sql(_CANCEL + " AND position = :p"), [{"s": sid, "p": p} for p in positions])


class WebhookOutbox:
    """The follower that fills ``webhook_outbox`` (see the module's documentation)."""

    name = NAME

    def __init__(self, reads_all: Callable[[Sequence[str], Sequence[str]], bool]) -> None:
        """``reads_all(roles, sites)``: whether an owner with these reads every case."""
        self.reads_all = reads_all
        self.directory = StreamDirectory(NAME)
        self._subscriptions: dict[str, Terms] | None = None
        self._case_sites: dict[str, set[str]] = {}

    def begin_batch(self) -> None:
        self._subscriptions, self._case_sites = None, {}

    def _live(self, conn: Connection) -> dict[str, Terms]:
        if self._subscriptions is None:
            self._subscriptions = {r[0]: terms_of(r[1]) for r in conn.execute(sql(
                "SELECT subscription_id, terms FROM webhook_subscriptions WHERE status <> 'deleted'"))}
        return self._subscriptions

    def _sites_of_case(self, conn: Connection, coi: str) -> set[str]:
        if coi not in self._case_sites:
            self._case_sites[coi] = {r[0] for r in conn.execute(sql(
                "SELECT site FROM webhook_scope WHERE coi = :c"), {"c": coi})}
        return self._case_sites[coi]

    def _involve(self, conn: Connection, coi: str, sites: frozenset[str]) -> set[str]:
        """The case's sites, with those this event involves added (as ``projections.scope`` does)."""
        known = self._sites_of_case(conn, coi)
        new = sorted(sites - known)
        if new:
            conn.execute(sql("INSERT INTO webhook_scope (coi, site) VALUES (:c, :s) ON CONFLICT (coi, site) "
                             "DO NOTHING"), [{"c": coi, "s": site} for site in new])
            known.update(new)
        return known

    def apply(self, conn: Connection, position: int, event: SealedEvent) -> None:
        env = env_of(event)
        kind = env["type"]
        if kind.startswith("Subscription"):
            self._subscription_event(conn, position, env)
            return
        if kind in OWNER_CHANGES:  # and then queued like any event, for whoever subscribed to it
            self._owner_changed(conn, kind, env["data"])
        data = typed(kind, env["data"]) if kind in OPENERS else None
        register_streams(self.directory, conn, env, data)
        found = self.directory.lookup(conn, env["stream"])
        coi = found[0] if found else None
        own = event_sites(kind, env["data"], env.get("site"))
        sites = self._involve(conn, coi, own) if coi else own
        live = self._live(conn)
        interested = [s for s, terms in live.items() if kind in terms.event_types]
        if not interested:
            return
        wanted = [s for s in interested if live[s].wants(kind, coi, sites, env["data"])]
        if not wanted:
            return
        body, now = payload(position, env, coi), now_micros()
        conn.execute(sql(
            "INSERT INTO webhook_outbox (subscription_id, position, event_id, stream, event_type, payload, status, "
            "attempts, due_since, next_attempt, committed_at) VALUES (:s, :p, :e, :st, :t, :b, 'pending', 0, :n, "
            ":n, :c)"),
            [{"s": s, "p": position, "e": env["event_id"], "st": env["stream"], "t": kind, "b": body, "n": now,
              "c": env["recorded_at"]} for s in wanted])

    def _owner_changed(self, conn: Connection, kind: str, data: Mapping[str, Any]) -> None:
        """The owner's read scope, as it is from this event on, in each of its subscriptions' terms."""
        owned = conn.execute(sql("SELECT subscription_id, terms FROM webhook_subscriptions "
                                 "WHERE owner = :o AND status <> 'deleted'"), {"o": data["user"]}).all()
        if not owned:
            return
        active = kind == UserRolesChanged.__name__
        sites = sorted(data.get("sites", [])) if active else []
        reads_all = active and self.reads_all(data.get("roles", []), sites)
        for sid, terms in owned:
            now = json.dumps({**json.loads(terms), "owner_sites": sites, "owner_reads_all": reads_all}, sort_keys=True)
            conn.execute(sql("UPDATE webhook_subscriptions SET terms = :t WHERE subscription_id = :s"),
                         {"t": now, "s": sid})
            # queued while the owner could read it: all of it when the owner is gone, else what the
            # owner's scope no longer lets through
            _cancel(conn, sid, self._readable(conn, sid, terms_of(now), 0, ("pending",), keep=False)
                    if active else None)
        self._subscriptions = None

    def _subscription_event(self, conn: Connection, position: int, env: Mapping[str, Any]) -> None:
        data, at = env["data"], env["recorded_at"]
        sid = data.get("subscription_id")
        match env["type"]:
            case SubscriptionCreated.__name__:
                d = SubscriptionCreated.model_validate(data)
                conn.execute(sql(
                    "INSERT INTO webhook_subscriptions (subscription_id, owner, url, terms, secret_sealed, status, "
                    "created_position, created_at, changed_at) VALUES (:s, :o, :u, :t, :k, 'active', :p, :a, :a)"),
                    {"s": sid, "o": d.owner, "u": d.url, "t": terms_text(d), "k": d.secret_sealed, "p": position,
                     "a": at})
            case SubscriptionPaused.__name__ | SubscriptionResumed.__name__ | SubscriptionDeleted.__name__:
                status = {SubscriptionPaused.__name__: "paused", SubscriptionResumed.__name__: "active",
                          SubscriptionDeleted.__name__: "deleted"}[env["type"]]
                conn.execute(sql("UPDATE webhook_subscriptions SET status = :st, changed_at = :a "
                                 "WHERE subscription_id = :s"), {"st": status, "a": at, "s": sid})
                if status == "deleted":
                    _cancel(conn, sid)
            case SubscriptionReplayRequested.__name__:  # sent again: what its owner may read now
                terms = conn.execute(sql("SELECT terms FROM webhook_subscriptions WHERE subscription_id = :s"),
                                     {"s": sid}).scalar()
                again = self._readable(conn, sid, terms_of(terms), data["from_position"], ("delivered", "dead"),
                                       keep=True) if terms is not None else []
                if again:
                    now = now_micros()
                    conn.execute(sql("UPDATE webhook_outbox SET status = 'pending', due_since = :n, "
                                     "next_attempt = :n WHERE subscription_id = :s AND position = :p "
                                     "AND status IN ('delivered', 'dead')"),
                                 [{"n": now, "s": sid, "p": position} for position in again])
        self._subscriptions = None  # read again, with this batch's change

    def _readable(self, conn: Connection, sid: str, terms: Terms, from_position: int, states: tuple[str, ...],
                  *, keep: bool) -> list[int]:
        """The positions of ``sid``'s rows in ``states`` from ``from_position`` on that ``terms`` let
        through (``keep``) or not, each judged as a new event would be: by its case's sites now, or
        for an event of no case by the sites it involves."""
        marks = ", ".join(f"'{state}'" for state in states)  # fixed names, never input
        rows = conn.execute(sql(f"SELECT position, event_type, payload FROM webhook_outbox "  # noqa: S608
                                f"WHERE subscription_id = :s AND status IN ({marks}) AND position >= :p "
                                "ORDER BY position"), {"s": sid, "p": from_position}).all()
        return [position for position, kind, body in rows
                if terms.wants(kind, *self._judged(conn, kind, json.loads(body)["data"])) == keep]

    def _judged(self, conn: Connection, kind: str, sent: Mapping[str, Any]) -> tuple[str | None, set[str], Any]:
        """``(coi, sites, data)`` of a queued row's payload, for :meth:`Terms.wants`."""
        coi, data = sent["coi"], sent["event"]
        if coi:
            return coi, self._sites_of_case(conn, coi), data
        try:
            return None, set(event_sites(kind, data, sent["site"])), data
        except ValueError:  # data the catalogue no longer reads (scrubbed of a pseudonym): where it happened
            return None, {sent["site"]} - {None}, data

    def reset(self, conn: Connection) -> None:
        """Never emptied by a rebuild: what was queued and delivered stays (no resend of the past)."""

    def __repr__(self) -> str:
        return f"WebhookOutbox({NAME!r})"
