"""In-memory helpers for the pure domain tests: envelopes are plain dicts, no hashing."""

from __future__ import annotations

import hashlib
import json
import random
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from ledger.domain.base import NewEvent, RecordedRefusal, new_event
from ledger.domain.case import CaseState, decide_enrol, fold_case
from ledger.domain.credentials import FAST_TEST_PARAMS, WrappedKey, new_signing_key
from ledger.domain.esign import REQUIRED_MEANING, Manifestation
from ledger.domain.events_review import ExceptionDispositioned
from ledger.domain.exceptions import fold_exceptions
from ledger.domain.identifiers import issue_unit_label
from ledger.domain.labelling import decide_label_unit
from ledger.domain.release import ReleaseReview, decide_sign_off, in_log_order, latest_signoff, listing
from ledger.domain.unit import UnitState, fold_unit
from ledger.domain.users import (
    UserState,
    decide_create_user,
    decide_issue_signing_key,
    decide_set_password,
    fold_user,
)
from ledger.streams import user_stream
from ledger.timefmt import format_utc

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
SECRET = b"treating-site-secret-0001"
MRN = "MRN-77001234"
OTHER_MRN = "MRN-99990000"
PATIENT_NAME = "Jane Q. Doe"
PATIENT_DOB = "1961-07-04"
PASSWORD = "correct horse battery staple"


class Ledger:
    """Appends decided events as envelope dicts and folds states from them."""

    def __init__(self) -> None:
        self.streams: dict[UUID, list[dict[str, Any]]] = defaultdict(list)
        self.now = T0
        self.rng = random.Random(7)
        self.wrapped: dict[str, WrappedKey] = {}

    def tick(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now

    def append(self, events: list[NewEvent], *, actor: str = "system",
               esign: Manifestation | None = None) -> list[dict[str, Any]]:
        stored = []
        for event in events:
            stream = self.streams[event.stream]
            envelope = {
                "stream": str(event.stream), "seq": len(stream) + 1, "event_id": str(uuid4()),
                "type": event.type, "schema": 1, "recorded_at": format_utc(self.now),
                "occurred_at": None, "actor": actor, "on_behalf": None, "site": None,
                "data": json.loads(json.dumps(event.data)), "device_sig": None,
                "esign": esign.as_esign("c2ln") if esign and event.type in REQUIRED_MEANING
                else None,
                "prev": "0" * 64,
            }
            stream.append(envelope)
            stored.append(envelope)
        return stored

    def run(self, decide: Callable[..., list[NewEvent]], *args: Any, actor: str = "system",
            **kwargs: Any) -> list[dict[str, Any]]:
        """Decide and append; a recorded refusal's events are appended before re-raising.

        An ``esign`` keyword goes to the decision and onto the envelopes that need it."""
        esign = kwargs.get("esign")
        try:
            events = decide(*args, actor=actor, now=self.now, **kwargs)
        except RecordedRefusal as refusal:
            self.append(refusal.events, actor=actor)
            raise
        return self.append(events, actor=actor, esign=esign)

    def case(self, stream: UUID) -> CaseState:
        return fold_case(self.streams[stream])

    def unit(self, stream: UUID) -> UnitState:
        return fold_unit(self.streams[stream])

    def user(self, user_id: str) -> UserState:
        return fold_user(self.streams[user_stream(user_id)])

    def types(self, stream: UUID) -> list[str]:
        return [e["type"] for e in self.streams[stream]]

    def dump(self) -> str:
        return json.dumps([e for s in self.streams.values() for e in s])

    # Review sign-off and release gate (``ledger.domain.release``) -----------------------

    def _family(self, roots: list[UUID]) -> list[UUID]:
        seen: dict[UUID, None] = {}
        todo = list(roots)
        while todo:
            stream = todo.pop(0)
            if stream in seen or not self.streams.get(stream):
                continue
            seen[stream] = None
            todo.extend(self.unit(stream).parents)
        return list(seen)

    def exceptions(self, streams: list[UUID]) -> dict[str, Any]:
        """The exceptions of ``streams``; an envelope's stand-in hash is the SHA-256 of its JSON."""
        def hashed(stream: UUID) -> list[tuple[dict[str, Any], str]]:
            return [(e, hashlib.sha256(json.dumps(e, sort_keys=True).encode()).hexdigest())
                    for e in self.streams[stream]]
        return fold_exceptions(in_log_order(hashed(s) for s in streams), self.now)

    def review(self, unit_id: UUID) -> ReleaseReview:
        """What the release gate judges for ``unit_id``: its family's exceptions, its case's sign-off."""
        case = self.unit(unit_id).case
        assert case is not None
        return ReleaseReview(self.exceptions([case, *self._family([unit_id])]), latest_signoff(self.streams[case]))

    def signed_review(self, unit_id: UUID, actor: str = "qa.quinn") -> ReleaseReview:
        """QA signs off whenever it can: when no COI-critical or GMP exception of the family is open
        and the latest sign-off is not current; the review as the release gate then sees it."""
        review = self.review(unit_id)
        if any(e.blocking for e in review.exceptions.values()):
            return review
        signoff = review.signoff
        if signoff is not None and signoff.listed == {e["exception_id"]: (e["event_hash"], e["state"],
                                                                          e["classification"])
                                                      for e in listing(review.exceptions)}:
            return review
        return self.sign_off(unit_id, actor)

    def disposition(self, unit_id: UUID, kind: str, classification: str = "no_impact",
                    actor: str = "qa.quinn") -> str:
        """QA's e-signed disposition of the open exceptions of ``kind`` in ``unit_id``'s family (stand-in
        for the disposition decision: the event QA's command records); their ids."""
        case = self.unit(unit_id).case
        assert case is not None
        found = self.review(unit_id).exceptions
        ids = [e.exception_id for e in found.values() if e.kind == kind and e.state == "open"]
        assert ids, f"no open {kind} exception"
        for exception_id in ids:
            self.append([new_event(case, ExceptionDispositioned, exception_id=exception_id,
                                   event_hash=found[exception_id].opened_hash, classification=classification,
                                   comment="reviewed")], actor=actor, esign=self.sign(actor, "reviewed"))
        return ",".join(ids)

    def sign_off(self, unit_id: UUID, actor: str = "qa.quinn") -> ReleaseReview:
        """QA signs off the review of ``unit_id``'s case (its family as it is now); the review then."""
        case = self.unit(unit_id).case
        assert case is not None
        found = self.exceptions([case, *self._family([unit_id])])
        self.run(decide_sign_off, self.case(case), found, listing(found), esign=self.sign(actor, "reviewed"),
                 signer=self.user(actor), actor=actor)
        return self.review(unit_id)

    # Set-up shortcuts -------------------------------------------------------------------

    def add_user(self, user_id: str, name: str, roles: list[str]) -> None:
        self.run(decide_create_user, self.user(user_id), user_id=user_id, printed_name=name,
                 roles=roles, actor="admin")
        self.run(decide_set_password, self.user(user_id), expires_at=T0 + timedelta(days=90),
                 actor="admin")
        wrapped, public, key_id = new_signing_key(PASSWORD, params=FAST_TEST_PARAMS)
        self.wrapped[user_id] = wrapped
        self.run(decide_issue_signing_key, self.user(user_id), key_id=key_id,
                 public_key=public, actor=user_id)

    def sign(self, user_id: str, meaning: str) -> Manifestation:
        user = self.user(user_id)
        active = [k for k in user.keys if k.active][-1]
        return Manifestation(user_id, user.printed_name or "", meaning, self.now, active.key_id)

    def enrol(self, kind: str = "autologous", mrn: str = MRN) -> UUID:
        case_id = uuid4()
        self.run(decide_enrol, CaseState(), case_id=case_id, kind=kind, product="cel-T 1",
                 treating_site="HOSP-1", site_secret=SECRET, mrn=mrn, rng=self.rng,
                 actor="coordinator")
        return case_id

    def label(self, case_id: UUID, kind: str, *, actor: str = "nurse",
              parents: tuple[UUID, ...] = (), **kwargs: Any) -> UUID:
        unit_id = uuid4()
        self.run(decide_label_unit, self.case(case_id), unit_id=unit_id, kind=kind,
                 label=issue_unit_label(self.rng), parents=[self.unit(p) for p in parents],
                 actor=actor, **kwargs)
        return unit_id


@pytest.fixture
def ledger() -> Ledger:
    return Ledger()


@pytest.fixture
def staffed(ledger: Ledger) -> Ledger:
    ledger.add_user("qa.quinn", "Quinn Adams", ["qa"])
    ledger.add_user("dr.chen", "Dr. Li Chen", ["clinician"])
    ledger.add_user("courier.kim", "Kim Park", ["courier"])
    return ledger


def code_of(excinfo: pytest.ExceptionInfo[Any]) -> str:
    return excinfo.value.code
