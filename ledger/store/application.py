"""The Ledger: the one writer of the event store.

Every append goes through ``Ledger.append``: validate (before anything is written), chain
(``prev`` = hash of the stream's head), e-sign if asked, hash, seal, then store in one
transaction together with the idempotency claim, if any. Streams never fork: the store's
unique (stream, seq) key refuses a second event at the same position.
"""

from __future__ import annotations

import hashlib
import hmac
import random
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.application import Application
from eventsourcing.persistence import IntegrityError, InterfaceError, OperationalError, Transcoder

from ..envelope import (
    GENESIS_PREV,
    SCHEMA_VERSION,
    canonical_and_hash,
    esign_digest,
)
from ..errors import (
    DeviceNonceReused,
    IdempotencyKeyReused,
    LedgerError,
    StorageUnavailable,
    StreamConflict,
)
from ..keys.sealing import SealingKey
from ..streams import device_stream
from ..timefmt import format_utc, utc_now
from .admission import Admission
from .database import Database
from .drafts import AppendResult, Claim, Draft, EsignIntent
from .event_types import EventCatalogue
from .group_commit import GroupCommit
from .notices import NoticeRow, publish, stream_notice
from .recorders import ClaimRow
from .records import CanonicalTranscoder, Receipt, SealedEvent, record_class

MAX_AUTO_RETRIES = 20
HEAD_CACHE_SIZE = 20_000  # streams whose head this process wrote last (seq, hash)


class Ledger(Application[UUID]):
    name = "Ledger"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.name = "Ledger"  # the library derives table names from it: one store, always

    def __init__(
        self,
        database: Database,
        sealing_key: SealingKey,
        catalogue: EventCatalogue,
        *,
        clock: Callable[[], Any] = utc_now,
        pool_size: int = 10,
        claim_key: bytes | None = None,
        occurred_window: tuple[timedelta, timedelta] | None = None,
        notify_types: frozenset[str] = frozenset(),
    ) -> None:
        self.database = database
        # Event types whose streams other processes cache facts of (who a caller is): each append
        # of one announces its stream (ledger/store/notices.py), in the same transaction.
        self.notify_types = notify_types
        self.claim_key = claim_key  # keys stored request digests (an MRN in a body cannot be brute-forced)
        self.sealing_key = sealing_key
        self.catalogue = catalogue
        self.clock = clock
        # Heads this process committed: a draft whose expected_seq equals the cached seq needs
        # no read (if another writer moved the stream since, the unique (stream, seq) key refuses
        # the insert and the caller gets a StreamConflict, as with a read head).
        self._heads: OrderedDict[UUID, tuple[int, str]] = OrderedDict()
        self._heads_lock = threading.Lock()
        # SQLite has one writer at a time: queueing this process's writers here, rather than on
        # the file lock, keeps them from holding pooled connections while they busy-wait.
        # PostgreSQL writers serialise inside the database (advisory lock) and need no guard.
        self._writer: AbstractContextManager[Any] = (
            threading.Lock() if database.kind == "sqlite" else nullcontext()
        )
        # PostgreSQL writers of this process share commits (see ledger/store/group_commit.py).
        self._group: GroupCommit[SealedEvent, ClaimRow] | None = (
            GroupCommit(self._save, outage=(StorageUnavailable,)) if database.kind == "postgres" else None
        )
        self.admission = Admission(
            catalogue, lambda device: (e.envelope for e in self.read_stream(device_stream(device))), clock,
            occurred_window,
        )
        super().__init__(env=database.eventsourcing_env(pool_size=pool_size))

    def construct_transcoder(self) -> Transcoder:
        return CanonicalTranscoder()

    # ----------------------------------------------------------------- writing

    def append(self, drafts: Sequence[Draft], *, claim: Claim | None = None) -> AppendResult:
        """Append ``drafts`` atomically (all or nothing) and return their receipts.

        With a ``claim``, a retried request returns the original result instead of writing
        again; the same scope with a different digest is refused (IDEMPOTENCY_KEY_REUSED).
        """
        if claim is not None:
            replay = self.claimed(claim)
            if replay is not None:
                return replay
        prepared = self.admission.admit(drafts)
        self._refuse_used_nonces(prepared)
        with self._writer:
            return self._append_prepared(prepared, claim)

    def _append_prepared(self, prepared: list[Draft], claim: Claim | None) -> AppendResult:
        for attempt in range(MAX_AUTO_RETRIES):
            events = self._chain(prepared)
            rows: list[Any] = _nonce_rows(events)
            notices = sorted({stream_notice(e.originator_id) for e in events  # type: ignore[attr-defined]
                              if e.envelope["type"] in self.notify_types})  # type: ignore[attr-defined]
            rows.extend(NoticeRow(n) for n in notices)
            if claim is not None:
                rows.append(ClaimRow(
                    claim.scope_id,
                    self._stored_digest(claim.request_digest),
                    {"answer": claim.answer, "receipts": [_receipt_json(e) for e in events]},
                    events[0].envelope["recorded_at"],
                ))
            try:
                recordings = (self._group.submit(events, rows) if self._group is not None
                              else self._save(events, rows))
            except IntegrityError:
                outcome = self._reconcile(events, claim)
                if outcome is not None:
                    if notices and not outcome.replayed:  # our own write had committed
                        publish(self.database.url, notices)
                    return outcome
                self._refuse_used_nonces(prepared)  # taken by a concurrent replay meanwhile
                if any(d.expected_seq is not None for d in prepared):
                    raise self._conflict(prepared) from None
                time.sleep(random.uniform(0, 0.005 * (attempt + 1)))  # noqa: S311 - jitter spreads a busy head
                continue
            self._remember_heads(events)
            if notices:
                publish(self.database.url, notices)
            receipts = [
                _receipt(r.domain_event, r.notification.id) for r in recordings  # type: ignore[arg-type]
            ]
            return AppendResult(receipts, claim.answer if claim else {})
        raise StreamConflict("the stream is too busy: gave up after repeated conflicts")

    def claimed(self, claim: Claim) -> AppendResult | None:
        """The earlier result for this claim's scope, or None if it is unused."""
        found = self._storage(lambda: self.recorder.find_claim(claim.scope_id))  # type: ignore[attr-defined]
        if found is None:
            return None
        digest, result = found
        # Claims written before digests were keyed hold the bare SHA-256: still honoured.
        if digest not in (self._stored_digest(claim.request_digest), claim.request_digest):
            raise IdempotencyKeyReused(
                "this Idempotency-Key was used before for a different request"
            )
        receipts = result["receipts"]
        keys = [(UUID(r["stream"]), r["seq"]) for r in receipts]
        positions = self._storage(lambda: self.recorder.positions(keys))  # type: ignore[attr-defined]
        return AppendResult(
            [Receipt(**r, position=positions[k]) for r, k in zip(receipts, keys, strict=True)],
            result["answer"],
            replayed=True,
        )

    def _refuse_used_nonces(self, drafts: Sequence[Draft]) -> None:
        """A device's nonce is good for one event: its claim row (``_nonce_rows``) is stored in
        the same transaction as the event, so a replay finds it, or fails on the unique scope."""
        seen: set[str] = set()
        for draft in drafts:
            scope = _nonce_scope(draft.device_sig)
            if scope is None:
                continue
            if scope in seen or self._storage(lambda s=scope: self.recorder.find_claim(s)) is not None:  # type: ignore[attr-defined]
                raise DeviceNonceReused(
                    f"device {draft.device_sig['device']!r} used nonce {draft.device_sig['nonce']!r} "  # type: ignore[index]
                    "before: a signed submission is accepted once")
            seen.add(scope)

    def _stored_digest(self, request_digest: str) -> str:
        if self.claim_key is None:
            return request_digest
        return hmac.new(self.claim_key, request_digest.encode(), hashlib.sha256).hexdigest()

    def _chain(self, drafts: Sequence[Draft]) -> list[SealedEvent]:
        """Build, e-sign, hash and seal the envelopes, each linked to its stream's head."""
        heads: dict[UUID, tuple[int, str]] = {}
        recorded_at = format_utc(self.clock())
        events = []
        for draft in drafts:
            if draft.stream not in heads:
                head = self._known_head(draft)
                if draft.expected_seq is not None and draft.expected_seq != head[0]:
                    raise StreamConflict(
                        f"stream {draft.stream} is at seq {head[0]}, not {draft.expected_seq}",
                        current_seq=head[0],
                    )
                heads[draft.stream] = head
            seq, prev = heads[draft.stream]
            envelope = {
                "stream": str(draft.stream),
                "seq": seq + 1,
                "event_id": str(uuid4()),
                "type": draft.type,
                "schema": SCHEMA_VERSION,
                "recorded_at": recorded_at,
                "occurred_at": draft.occurred_at,
                "actor": draft.actor,
                "on_behalf": draft.on_behalf,
                "site": draft.site,
                "data": draft.data,
                "device_sig": dict(draft.device_sig) if draft.device_sig else None,
                "esign": None,
                "prev": prev,
            }
            if draft.esign is not None:
                envelope["esign"] = _manifestation(draft.esign, recorded_at)
                envelope["esign"]["signature"] = draft.esign.sign(esign_digest(envelope))
            envelope_jcs, event_hash = canonical_and_hash(envelope)
            sealed = record_class(draft.type)(
                envelope, event_hash, self.sealing_key.seal(event_hash), self.sealing_key.key_id, envelope_jcs
            )
            events.append(sealed)
            heads[draft.stream] = (seq + 1, event_hash)
        return events

    def _known_head(self, draft: Draft) -> tuple[int, str]:
        """The stream's head for ``draft``: no read for an expected empty stream (seq 1 is then
        refused by the store if it exists) or for a head this process wrote at the expected seq."""
        if draft.expected_seq == 0:
            return 0, GENESIS_PREV
        if draft.expected_seq is not None:
            with self._heads_lock:
                cached = self._heads.get(draft.stream)
            if cached is not None and cached[0] == draft.expected_seq:
                return cached
        return self.head(draft.stream)

    def _remember_heads(self, events: list[SealedEvent]) -> None:
        with self._heads_lock:
            for event in events:
                self._heads[event.originator_id] = (event.originator_version, event.hash)  # type: ignore[attr-defined]
                self._heads.move_to_end(event.originator_id)
            while len(self._heads) > HEAD_CACHE_SIZE:
                self._heads.popitem(last=False)

    def _conflict(self, drafts: Sequence[Draft]) -> StreamConflict:
        """The StreamConflict for drafts whose expected seq is no longer the stream's head."""
        for draft in drafts:
            if draft.expected_seq is None:
                continue
            with self._heads_lock:
                self._heads.pop(draft.stream, None)
            current = self.head(draft.stream)[0]
            if current != draft.expected_seq:
                return StreamConflict(
                    f"stream {draft.stream} is at seq {current}, not {draft.expected_seq}", current_seq=current
                )
        return StreamConflict("the stream changed since it was read; read it again and retry")

    def _save(self, events: list[SealedEvent], claims: list[ClaimRow]):
        # The event store directly: ``Application.save`` would first test each event against the
        # library's runtime-checkable protocol (~5 % of a batch's CPU on Python 3.11), to collect
        # aggregates the ledger does not have.
        return self._storage(lambda: self.events.put(events, claims=claims))

    def _reconcile(self, events: list[SealedEvent], claim: Claim | None) -> AppendResult | None:
        """After an IntegrityError: did our own write commit (a library retry), or did the
        claim get used concurrently? Returns the original result, or None for a conflict."""
        if claim is not None:
            replay = self.claimed(claim)
            if replay is not None:
                return replay
        first = events[0]
        stored = self._storage(
            lambda: self.recorder.select_events(
                first.originator_id, gt=first.originator_version - 1, lte=first.originator_version
            )
        )
        mine = first.envelope["event_id"]
        if stored and self.mapper.to_domain_event(stored[0]).envelope["event_id"] == mine:  # type: ignore[attr-defined]
            keys = [(e.originator_id, e.originator_version) for e in events]
            positions = self._storage(lambda: self.recorder.positions(keys))  # type: ignore[attr-defined]
            return AppendResult(
                [_receipt(e, positions[k]) for e, k in zip(events, keys, strict=True)],
                claim.answer if claim else {},
            )
        return None

    # ----------------------------------------------------------------- reading

    def head(self, stream: UUID) -> tuple[int, str]:
        """(seq, hash) of the stream's last event; (0, 64 zeros) for an empty stream."""
        rows = self._storage(lambda: self.recorder.select_events(stream, desc=True, limit=1))
        if not rows:
            return 0, GENESIS_PREV
        last = self.mapper.to_domain_event(rows[0])
        return last.originator_version, last.hash  # type: ignore[attr-defined]

    def read_stream(self, stream: UUID, *, after: int = 0) -> list[SealedEvent]:
        rows = self._storage(lambda: self.recorder.select_events(stream, gt=after or None))
        return [self.mapper.to_domain_event(r) for r in rows]  # type: ignore[misc]

    def read_log(self, *, after: int = 0, limit: int = 500) -> list[tuple[int, SealedEvent]]:
        """Events in global commit order after position ``after`` (positions may have gaps)."""
        rows = self._storage(
            lambda: self.recorder.select_notifications(after + 1, limit)
        )
        return [(n.id, self.mapper.to_domain_event(n)) for n in rows]  # type: ignore[misc]

    def last_position(self) -> int:
        return self._storage(self.recorder.max_notification_id) or 0

    @staticmethod
    def _storage(call: Callable[[], Any]) -> Any:
        try:
            return call()
        except (OperationalError, InterfaceError) as exc:
            raise StorageUnavailable(f"the database is unavailable: {type(exc).__name__}") from exc


def _nonce_scope(device_sig: Any) -> str | None:
    """The claim scope of a signed submission's (device, nonce); None when it has no nonce."""
    if not device_sig or "nonce" not in device_sig:
        return None
    return hashlib.sha256(f"device-nonce\x00{device_sig['device']}\x00{device_sig['nonce']}".encode()).hexdigest()


def _nonce_rows(events: list[SealedEvent]) -> list[ClaimRow]:
    """One claim row per device nonce, naming the event that used it."""
    rows = []
    for event in events:
        sig = event.envelope["device_sig"]
        scope = _nonce_scope(sig)
        if scope is not None:
            rows.append(ClaimRow(scope, hashlib.sha256(str(sig["sig"]).encode()).hexdigest(),
                                 {"device_nonce": _receipt_json(event)}, event.envelope["recorded_at"]))
    return rows


def _manifestation(intent: EsignIntent, signed_at: str) -> dict[str, Any]:
    return {
        "signer": intent.signer,
        "printed_name": intent.printed_name,
        "meaning": intent.meaning,
        "signed_at": signed_at,
        "key_id": intent.key_id,
    }


def _receipt(event: SealedEvent, position: int) -> Receipt:
    return Receipt(position=position, **_receipt_json(event))


def _receipt_json(event: SealedEvent) -> dict[str, Any]:
    env = event.envelope
    return {
        "event_id": env["event_id"],
        "stream": env["stream"],
        "seq": env["seq"],
        "hash": event.hash,
        "recorded_at": env["recorded_at"],
    }


__all__ = ["AppendResult", "Claim", "Draft", "EsignIntent", "Ledger", "LedgerError"]
