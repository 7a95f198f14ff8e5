"""The delivery worker: sends the outbox's rows, signed, at least once, in log order per stream.

Each active subscription is a lane. In a lane, at most ``in_flight`` streams are sent at once,
each as a chain: the stream's next pending rows (up to ``chain``), sent one after another, the
next only once the previous was answered 2xx. A stream is taken only when its first pending row
is due and not leased, so several streams go in parallel and one stream strictly in log order.
Taken rows are leased (``lease_owner``, ``lease_until``) by conditional ``UPDATE``s, so two
workers (the service's and a ``ledger deliver`` process) never send one row at the same time: a
send starts only with ``timeout`` seconds of its lease left and ends within them (the transport cuts
an exchange at its deadline), and a chain stops after ``timeout`` seconds and gives back what it did
not send. (A host name's resolution, before the exchange, is bounded only by the resolver's own
timeouts.)
A worker that dies leaves leases that run out, and the rows are sent again (at least once). The
outcomes of a chain are recorded together, in one transaction.

A delivery is a ``POST`` of the row's payload signed per Standard Webhooks (``webhook-id``: the
same for every attempt of one event to one subscription, ``webhook-timestamp``,
``webhook-signature``) to the subscription's checked address (``ledger.webhooks.targets``: the
host is resolved and checked at every attempt), no redirect followed, with a timeout and at
most ``MAX_BODY`` bytes of the answer read (``ledger.webhooks.transport``). A 2xx answer
delivers it; anything else is retried after an exponential back-off with jitter, until the row
has been due longer than ``dead_after``: then it is dead (a dead letter, kept, redelivered only
by a replay) and the lane moves on. Every attempt is logged in ``webhook_attempts``.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import Engine, bindparam, text
from standardwebhooks import Webhook

from ..polling import Poller
from ..timefmt import format_utc, parse_utc
from .secrets import SecretBox
from .targets import UrlForbidden, UrlInvalid, resolve
from .transport import SendFailed, Transport

log = logging.getLogger("ledger.webhooks")
MAX_BODY = 64 * 1024  # bytes of a receiver's answer read, at most
LANES_TTL = 0.5  # seconds the list of active subscriptions is kept
CLAIM_PAGE = 1000  # pending rows read at a time when looking for due streams
CLAIM_PAGES = 20  # pages a claim reads at most (its work per poll stays bounded)
DEEP_CLAIM_EVERY = 1.0  # seconds between claims of one lane that read past the first page
CLAIM_SKIPPED = 100  # judged streams a page leaves out by name, at most (the rest are skipped as read)
STILL_OURS_KEPT = 0.1  # seconds a chain trusts its last look at which of its rows are still its to send
MESSAGE_IDS = uuid.UUID("2b7c5e0e-5a55-4f55-9d0a-1b4f3c1c0b91")


def message_id(subscription_id: str, event_id: str) -> str:
    """``webhook-id``: one per (subscription, event), the same on every attempt."""
    return "msg_" + uuid.uuid5(MESSAGE_IDS, f"{subscription_id}:{event_id}").hex


def backoff(attempts: int, base: float, ceiling: float, rng: Callable[[], float] = random.random) -> float:
    """Seconds before the next attempt after ``attempts`` failures: ``base * 2**(attempts-1)``, at
    most ``ceiling``, of which a random half is taken off (full jitter on the upper half)."""
    delay = min(ceiling, base * 2 ** max(attempts - 1, 0))
    return delay * (0.5 + 0.5 * rng())


class Observer(Protocol):
    def delivered(self, latency: float, lag: float) -> None: ...
    def failed(self) -> None: ...
    def dead(self) -> None: ...


class _Quiet:
    def delivered(self, latency: float, lag: float) -> None:
        pass

    def failed(self) -> None:
        pass

    def dead(self) -> None:
        pass


@dataclass(frozen=True)
class DeliveryPolicy:
    allow_private: bool = False
    timeout: float = 5.0
    retry_base: float = 1.0
    retry_max: float = 300.0
    dead_after: float = 3 * 24 * 3600.0
    in_flight: int = 16
    chain: int = 50
    poll: float = 0.05
    retain: float = 30 * 24 * 3600.0  # seconds a delivered (or cancelled) row and its attempts are kept
    prune_every: float = 3600.0

    @classmethod
    def from_settings(cls, settings: Any) -> DeliveryPolicy:
        return cls(allow_private=settings.webhook_allow_private, timeout=settings.webhook_timeout_seconds,
                   retry_base=settings.webhook_retry_base_seconds, retry_max=settings.webhook_retry_max_seconds,
                   dead_after=settings.webhook_dead_after_seconds, in_flight=settings.webhook_in_flight,
                   retain=settings.webhook_retain_days * 24 * 3600.0)


@dataclass(frozen=True)
class _Row:
    subscription_id: str
    position: int
    event_id: str
    payload: str
    attempts: int
    due_since: int
    committed_at: str


def _micros() -> int:
    return time.time_ns() // 1000


_STILL_OURS = text(
    "SELECT position FROM webhook_outbox WHERE subscription_id = :s AND position IN :ps "
    "AND status = 'pending' AND lease_owner = :w AND lease_until >= :n").bindparams(bindparam("ps", expanding=True))


def _q(statement: str) -> Any:
    return text(statement)


class DeliveryWorker:
    def __init__(self, engine: Engine, box: SecretBox, policy: DeliveryPolicy = DeliveryPolicy(), *,
                 observer: Observer | None = None, worker_id: str | None = None) -> None:
        self.engine, self.box, self.policy = engine, box, policy
        self.observer: Observer = observer or _Quiet()
        self.worker_id = worker_id or f"w-{uuid.uuid4().hex[:12]}"
        self._pool = ThreadPoolExecutor(max_workers=max(4, policy.in_flight * 2), thread_name_prefix="webhook")
        self._lock = threading.Lock()
        self._busy: dict[str, int] = {}  # subscription -> rows in flight in this worker
        self._secrets: dict[str, str] = {}
        self._poller = Poller("webhook-delivery", self.run_once, policy.poll, rest_always=True)
        self._pruned_at: float | None = None  # pruned at start, then every `prune_every` seconds
        self._deep_claims: dict[str, float] = {}  # subscription -> when a claim last read past its first page
        self._lanes_read: tuple[float, list[tuple[str, str, str]]] | None = None
        self.transport = Transport(timeout=policy.timeout, connections=policy.in_flight * 2, max_body=MAX_BODY)

    # -------------------------------------------------------------- claiming

    def _lanes(self) -> list[tuple[str, str, str]]:
        """The active subscriptions, read at most every ``LANES_TTL`` seconds: a new or resumed one
        is seen within that; a paused or deleted one at once, as a claim leases only rows of a
        subscription active at that moment."""
        if self._lanes_read is None or time.monotonic() - self._lanes_read[0] >= LANES_TTL:
            with self.engine.connect() as conn:
                lanes = [(r[0], r[1], r[2]) for r in conn.execute(_q(
                    "SELECT subscription_id, url, secret_sealed FROM webhook_subscriptions WHERE status = 'active' "
                    "ORDER BY subscription_id"))]
            self._lanes_read = (time.monotonic(), lanes)
        return self._lanes_read[1]

    def _claim(self, subscription_id: str, room: int) -> list[list[_Row]]:
        """Lease, for up to ``room`` streams whose first pending row is due and not leased, a chain
        of that stream's next pending rows (in position order, at most ``chain``), in one
        transaction; the chains to send."""
        now = _micros()
        lease = now + int((self.policy.timeout * 2 + 5) * 1_000_000)  # a chain stops after `timeout`
        chains = self._due_chains(subscription_id, room, now)
        if not chains:
            return []
        wanted = sorted(p for positions in chains.values() for p in positions)
        marks = ", ".join(f":p{i}" for i in range(len(wanted)))
        params = {"w": self.worker_id, "l": lease, "s": subscription_id, "n": now,
                  **{f"p{i}": p for i, p in enumerate(wanted)}}
        with self.engine.begin() as conn:  # three statements, however many chains
            conn.execute(_q(
                "UPDATE webhook_outbox SET lease_owner = :w, lease_until = :l WHERE subscription_id = :s "  # noqa: S608
                f"AND position IN ({marks}) AND status = 'pending' AND (lease_until IS NULL OR lease_until <= :n) "
                "AND EXISTS (SELECT 1 FROM webhook_subscriptions WHERE subscription_id = :s AND status = 'active')"),
                params)
            found = {r[0]: _Row(subscription_id, *r) for r in conn.execute(_q(
                "SELECT position, event_id, payload, attempts, due_since, committed_at FROM webhook_outbox "  # noqa: S608
                f"WHERE subscription_id = :s AND position IN ({marks}) AND lease_owner = :w AND lease_until = :l"),
                params)}
            taken = [positions for positions in chains.values() if all(p in found for p in positions)]
            back = [p for positions in chains.values() if positions not in taken for p in positions if p in found]
            if back:  # another worker took part of a chain meanwhile: give back what this one got of it
                marks = ", ".join(f":p{i}" for i in range(len(back)))
                conn.execute(_q(
                    "UPDATE webhook_outbox SET lease_owner = NULL, lease_until = NULL "  # noqa: S608
                    f"WHERE subscription_id = :s AND position IN ({marks}) AND lease_owner = :w"),
                    {"s": subscription_id, "w": self.worker_id, **{f"p{i}": p for i, p in enumerate(back)}})
        return [[found[p] for p in positions] for positions in taken]

    def _due_chains(self, subscription_id: str, room: int, now: int) -> dict[str, list[int]]:
        """The positions to send, by stream: from up to ``room`` streams whose first pending row is
        due and not leased, that row and the stream's next ones (at most ``chain``, stopping at one
        that is leased or not due). The pending rows are read in position order a page at a time,
        leaving out the streams already judged, so that a few streams holding thousands of rows in
        back-off do not hide the due ones behind them (at most ``CLAIM_PAGES`` pages, and past the
        first page at most once every ``DEEP_CLAIM_EVERY`` seconds a lane: such a scan re-reads the
        waiting rows, ~0.1 s for 100,000 of them)."""
        chains: dict[str, list[int]] = {}
        closed: set[str] = set()  # streams whose first pending row is leased or not due: they wait
        after = 0
        deep = time.monotonic() - self._deep_claims.get(subscription_id, -DEEP_CLAIM_EVERY) >= DEEP_CLAIM_EVERY
        for page in range(CLAIM_PAGES if deep else 1):
            if page == 1:
                self._deep_claims[subscription_id] = time.monotonic()
            skipped = sorted(closed)[:CLAIM_SKIPPED]
            marks = ", ".join(f":x{i}" for i in range(len(skipped)))
            with self.engine.connect() as conn:
                rows = conn.execute(_q(  # no payloads yet: only those of the rows taken are read
                    "SELECT position, stream, lease_until, next_attempt FROM webhook_outbox "  # noqa: S608
                    "WHERE subscription_id = :s AND status = 'pending' AND position > :a "
                    + (f"AND stream NOT IN ({marks}) " if skipped else "")
                    + f"ORDER BY position LIMIT {CLAIM_PAGE}"),
                    {"s": subscription_id, "a": after, **{f"x{i}": x for i, x in enumerate(skipped)}}).all()
            for position, stream, lease_until, next_attempt in rows:
                if stream in closed:
                    continue
                if stream not in chains:
                    if (lease_until is not None and lease_until > now) or next_attempt > now or len(chains) >= room:
                        closed.add(stream)
                        continue
                    chains[stream] = []
                chain = chains[stream]
                if len(chain) >= self.policy.chain or (lease_until is not None and lease_until > now) \
                        or next_attempt > now:
                    closed.add(stream)
                    continue
                chain.append(position)
            if len(rows) < CLAIM_PAGE or len(chains) >= room:
                return chains
            after = rows[-1][0]
        return chains

    def run_once(self) -> int:
        """Take what is due in every lane (as room allows) and start sending it; how many chains.
        Once every ``prune_every`` seconds, first delete what is past its retention."""
        if self._pruned_at is None or time.monotonic() - self._pruned_at >= self.policy.prune_every:
            self._pruned_at = time.monotonic()
            prune(self.engine, _micros() - int(self.policy.retain * 1_000_000))
        started = 0
        for subscription_id, url, sealed in self._lanes():
            with self._lock:
                room = self.policy.in_flight - self._busy.get(subscription_id, 0)
            if room <= 0:
                continue
            for chain in self._claim(subscription_id, room):
                with self._lock:
                    self._busy[subscription_id] = self._busy.get(subscription_id, 0) + 1
                self._pool.submit(self._deliver_and_release, chain, url, sealed)
                started += 1
        return started

    def _deliver_and_release(self, chain: list[_Row], url: str, sealed: str) -> None:
        try:
            self.deliver_chain(chain, url, sealed)
        except Exception:  # noqa: BLE001 - the lease runs out and the rows are tried again
            log.exception("webhook delivery failed unexpectedly", extra={"subscription": chain[0].subscription_id})
        finally:
            with self._lock:
                self._busy[chain[0].subscription_id] -= 1
            self._poller.wake()

    # ------------------------------------------------------------- sending

    def _secret(self, subscription_id: str, sealed: str) -> str:
        if subscription_id not in self._secrets:
            self._secrets[subscription_id] = self.box.open(subscription_id, sealed)
        return self._secrets[subscription_id]

    def send(self, row: _Row, url: str, sealed: str) -> tuple[int | None, str | None]:
        """POST the row once, ended within ``timeout`` of its start: ``(status code or None, error or None)``."""
        deadline = time.monotonic() + self.policy.timeout
        try:
            target = resolve(url, allow_private=self.policy.allow_private)
        except (UrlInvalid, UrlForbidden) as refused:
            return None, f"{refused.code}: {refused.detail}"[:500]
        msg_id = message_id(row.subscription_id, row.event_id)
        stamp = datetime.now(UTC)
        signature = Webhook(self._secret(row.subscription_id, sealed)).sign(msg_id, stamp, row.payload)
        headers = {"host": target.host_header, "content-type": "application/json", "user-agent": "coi-ledger-webhooks",
                   "webhook-id": msg_id, "webhook-timestamp": str(int(stamp.timestamp())),
                   "webhook-signature": signature}
        try:
            status = self.transport.post(target, row.payload.encode(), headers, deadline)
        except SendFailed as failed:
            return None, str(failed)[:500]
        return status, None if 200 <= status < 300 else f"HTTP {status}"

    def _still_ours(self, rows: list[_Row]) -> set[int]:
        """The positions of ``rows`` still pending under this worker's lease, with time enough left
        for a whole send (and STILL_OURS_KEPT more). A row cancelled after it was claimed (its
        subscription deleted, its owner deactivated or no longer reading it) is not sent, nor one
        whose lease ran out (another worker may take it), nor one whose send could outlast the lease."""
        with self.engine.connect() as conn:
            return set(conn.execute(_STILL_OURS, {
                "s": rows[0].subscription_id, "w": self.worker_id, "ps": [r.position for r in rows],
                "n": _micros() + int((self.policy.timeout + STILL_OURS_KEPT) * 1_000_000)}).scalars())

    def deliver_chain(self, chain: list[_Row], url: str, sealed: str) -> int:
        """Send a stream's leased rows one after another, stopping at the first that fails or is no
        longer this worker's to send (the rest are given back, unattempted); record every outcome in
        one transaction. How many were delivered."""
        results: list[tuple[_Row, int | None, str | None, float, str]] = []
        began, checked, ours = time.perf_counter(), float("-inf"), set()
        for i, row in enumerate(chain):
            at = time.perf_counter()
            if at - began > self.policy.timeout:
                break  # within its lease: the rest go back to the queue
            if at - checked > STILL_OURS_KEPT:  # one query for the rest of the chain, not one a send
                ours, checked = self._still_ours(chain[i:]), at
            if row.position not in ours:
                break  # cancelled meanwhile, or too little lease left: the rest go back to the queue
            started = time.perf_counter()
            status, error = self.send(row, url, sealed)
            results.append((row, status, error, time.perf_counter() - started, format_utc(datetime.now(UTC))))
            if error is not None:
                break
        now = _micros()
        attempts, updates, delivered = [], [], 0
        for row, status, error, latency, at in results:
            attempt = row.attempts + 1
            if error is None:
                outcome = "delivered"
            elif (now - row.due_since) / 1_000_000 >= self.policy.dead_after:
                outcome = "dead"
            else:
                outcome = "retry"
            next_attempt = now + int(backoff(attempt, self.policy.retry_base, self.policy.retry_max) * 1_000_000)
            attempts.append({"s": row.subscription_id, "p": row.position, "a": attempt, "at": at, "o": outcome,
                             "c": status, "l": round(latency * 1000, 3), "e": error, "w": self.worker_id})
            updates.append({"st": "pending" if outcome == "retry" else outcome, "a": attempt, "n": next_attempt,
                            "d": at if outcome == "delivered" else None, "c": status, "e": error,
                            "s": row.subscription_id, "p": row.position, "w": self.worker_id})
            if outcome == "delivered":
                delivered += 1
                self.observer.delivered(latency, (datetime.now(UTC) - parse_utc(row.committed_at)).total_seconds())
            else:
                self.observer.failed()
                if outcome == "dead":
                    self.observer.dead()
        unsent = [{"s": r.subscription_id, "p": r.position, "w": self.worker_id} for r in chain[len(results):]]
        with self.engine.begin() as conn:
            if attempts:
                conn.execute(_q(
                    "INSERT INTO webhook_attempts (subscription_id, position, attempt, attempted_at, outcome, "
                    "status_code, latency_ms, error, worker) VALUES (:s, :p, :a, :at, :o, :c, :l, :e, :w)"), attempts)
                conn.execute(_q(
                    "UPDATE webhook_outbox SET status = :st, attempts = :a, next_attempt = :n, lease_owner = NULL, "
                    "lease_until = NULL, delivered_at = :d, last_status = :c, last_error = :e "
                    "WHERE subscription_id = :s AND position = :p AND lease_owner = :w AND status = 'pending'"),
                    updates)
            if unsent:
                conn.execute(_q(
                    "UPDATE webhook_outbox SET lease_owner = NULL, lease_until = NULL "
                    "WHERE subscription_id = :s AND position = :p AND lease_owner = :w"), unsent)
        return delivered

    def deliver(self, row: _Row, url: str, sealed: str) -> bool:
        """Send one leased row and record the outcome; whether it was delivered."""
        return self.deliver_chain([row], url, sealed) == 1

    # ------------------------------------------------------------ running

    def wake(self) -> None:
        self._poller.wake()

    def start(self) -> None:
        self._poller.start()

    def stop(self) -> None:
        self._poller.stop()
        self._pool.shutdown(wait=True, cancel_futures=True)
        self.transport.close()


def queue_depth(engine: Engine) -> dict[str, int]:
    """Rows by state (``pending``, ``dead``, ...), for the metrics."""
    with engine.connect() as conn:
        return {r[0]: r[1] for r in conn.execute(_q("SELECT status, COUNT(*) FROM webhook_outbox GROUP BY status"))}


def prune(engine: Engine, before: int) -> int:
    """Delete the delivered and cancelled rows queued before ``before`` (microseconds since the
    epoch; a replayed row counts from its replay) with their attempt log; how many rows. Pending
    rows and dead letters stay. A replay from a position older than the retention redelivers
    only what is still kept."""
    with engine.begin() as conn:
        conn.execute(_q(
            "DELETE FROM webhook_attempts WHERE EXISTS (SELECT 1 FROM webhook_outbox o "
            "WHERE o.subscription_id = webhook_attempts.subscription_id AND o.position = webhook_attempts.position "
            "AND o.status IN ('delivered', 'cancelled') AND o.due_since < :b)"), {"b": before})
        return conn.execute(_q("DELETE FROM webhook_outbox WHERE status IN ('delivered', 'cancelled') "
                               "AND due_since < :b"), {"b": before}).rowcount


def payload_of(body: str) -> dict[str, Any]:
    return json.loads(body)
