"""The two-person identity check (witness) at labelling and at the bedside.

``LEDGER_WITNESS_STEPS`` (a comma list of ``labelling``, ``infusion``; default ``infusion``) says
which steps need a second person; ``LEDGER_WITNESS_MINUTES`` (default 30) how long after the
step the witness may sign. The step's decision records the deadline in its event
(``witness_due``), so the rule that applied is kept with the step whatever the setting is
later. :func:`decide_witness` records ``StepWitnessed`` on the step's stream, e-signed
``reviewed`` by the witness, who must be

* another person than the step's actor, the person it was done for and its signer
  (``SELF_WITNESS``),
* a holder of a witnessing role (``events_witness.WITNESS_ROLES``, checked with the signature),
* in the site scope of the step's unit (the executor's scope check: another hospital's staff
  cannot witness),
* signing by ``witness_due`` (``WITNESS_LATE``), once (``ALREADY_WITNESSED``).

A step due a witness raises the exception ``witness_missing`` (COI-critical), shown once past
due and not witnessed (``ledger.domain.exception_rules``): a late witness is refused, so a
missed one stays for QA to disposition.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from ..errors import RuleViolation
from ..timefmt import format_utc, parse_utc
from .base import Envelope, NewEvent, as_uuid, new_event, refusal, require_aware
from .esign import Manifestation, require_esign
from .events_quality import ProductInfused
from .events_unit import UnitLabelled
from .events_witness import StepWitnessed
from .users import UserState

STEP_EVENTS: dict[str, str] = {"labelling": UnitLabelled.__name__, "infusion": ProductInfused.__name__}
"""The steps a witness may be required for, and the event type that records each."""
STEP_OF: dict[str, str] = {event: step for step, event in STEP_EVENTS.items()}

DEFAULT_STEPS: frozenset[str] = frozenset({"infusion"})
DEFAULT_MINUTES = 30


@dataclass(frozen=True)
class WitnessPolicy:
    """Which steps need a witness, and within how long of the step."""

    steps: frozenset[str] = DEFAULT_STEPS
    window: timedelta = timedelta(minutes=DEFAULT_MINUTES)

    def __post_init__(self) -> None:
        unknown = set(self.steps) - set(STEP_EVENTS)
        if unknown:
            raise ValueError(f"unknown witness step(s) {', '.join(sorted(unknown))}: "
                             f"choose from {', '.join(STEP_EVENTS)}")
        if self.window <= timedelta(0):
            raise ValueError("the witness window must be positive")

    @classmethod
    def parse(cls, steps: str | Iterable[str], minutes: int = DEFAULT_MINUTES) -> WitnessPolicy:
        """From the settings: ``steps`` as a comma list (``""``: no step needs a witness)."""
        names = steps.split(",") if isinstance(steps, str) else list(steps)
        return cls(frozenset(n.strip() for n in names if n.strip()), timedelta(minutes=minutes))

    def due(self, step: str, at: datetime) -> datetime | None:
        """When the witness of ``step`` done at ``at`` is due, or None if it needs none."""
        return at + self.window if step in self.steps else None


NO_WITNESS = WitnessPolicy(frozenset())
DEFAULT_WITNESS = WitnessPolicy()
"""The settings' default: the bedside check is witnessed within 30 minutes."""


def pending_not_found(pending_id: object) -> RuleViolation:
    """No step awaits a signature under this id (answered 404)."""
    error = refusal("PENDING_NOT_FOUND", f"nothing awaits a signature under {pending_id}")
    error.status = 404
    return error


def witnessable(envelope: Mapping[str, Any]) -> bool:
    """Whether ``envelope`` records a step that was due a witness."""
    return envelope.get("type") in STEP_OF and bool((envelope.get("data") or {}).get("witness_due"))


def step_people(envelope: Mapping[str, Any]) -> set[str]:
    """Who did the step: its actor, the person it was done for, its signer."""
    esign = envelope.get("esign") or {}
    return {p for p in (envelope.get("actor"), envelope.get("on_behalf"), esign.get("signer")) if p}


def decide_witness(stream: Sequence[Envelope], witnessed_event_id: UUID | str, comment: str | None, *,
                   esign: Manifestation | None, signer: UserState | None, actor: str,
                   now: datetime) -> list[NewEvent]:
    """The witness ``actor`` confirms the step ``witnessed_event_id`` of ``stream`` (all of that
    stream's envelopes), e-signed ``reviewed``, at ``now`` (the server's time: a witness is never
    backdated)."""
    require_aware(now)
    wanted = str(as_uuid(witnessed_event_id))
    step = next((e for e in stream if str(e.get("event_id")) == wanted), None)
    if step is None or not witnessable(step):
        raise pending_not_found(wanted)
    done = next((e for e in stream if e.get("type") == StepWitnessed.__name__
                 and str(e["data"].get("witnessed_event_id")) == wanted), None)
    if done is not None:
        raise refusal("ALREADY_WITNESSED", f"the step {wanted} was witnessed by {done.get('actor')}")
    if actor in step_people(step) or (esign is not None and esign.signer in step_people(step)):
        raise refusal("SELF_WITNESS", "a step is witnessed by another person than the one who did or signed it")
    due = parse_utc(step["data"]["witness_due"])
    if now > due:
        raise refusal("WITNESS_LATE", f"the witness of this step was due by {format_utc(due)}")
    require_esign(StepWitnessed.__name__, esign, signer, actor=actor)
    return [new_event(as_uuid(step["stream"]), StepWitnessed, witnessed_event_id=wanted,
                      step=STEP_OF[step["type"]], comment=comment)]
