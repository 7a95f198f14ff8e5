"""One description per event type: everything the rest of the house derives from it.

An :class:`EventSpec` is declared next to its data model (``ledger/domain/events_*.py``) and
says, once, what other layers used to keep in tables of their own keyed by the type's name:
who may record it, whether it takes a Part 11 e-signature and with which meanings, the sites it acts on,
how it reads in the audit trail, and how it maps to GS1 EPCIS 2.0 (or that it is not
exported). The catalogue (``ledger.domain.catalogue``) collects every spec; policy, audit
text, EPCIS export and the API's documentation are built from it, and a test fails when a
spec is incomplete.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Generic, Literal, TypeVar

from ..datatypes import EventData

D = TypeVar("D", bound=EventData)

Meaning = Literal["authored", "reviewed", "approved", "released", "received", "administered", "assessed"]
MEANINGS: tuple[str, ...] = Meaning.__args__  # type: ignore[attr-defined]

SignatureRule = Literal["required", "optional", "none"]


@dataclass(frozen=True)
class Signature:
    """Whether an event type takes a Part 11 e-signature, and with which meanings.

    ``required``: the step is refused without one, of its single meaning (``ESIGNATURE_REQUIRED``,
    ``WRONG_SIGNATURE_MEANING``). ``optional``: a signature offered with one of ``meanings`` is
    kept in the record's envelope (``esign``) exactly as a required one. ``none``: an offered
    signature is refused before anything is written (``SIGNATURE_NOT_ACCEPTED``). A signature is
    never accepted and then dropped (21 CFR 11.70).
    """

    rule: SignatureRule
    meanings: tuple[Meaning, ...] = ()

    def __post_init__(self) -> None:
        wanted = {"required": len(self.meanings) == 1, "optional": len(self.meanings) >= 1,
                  "none": not self.meanings}[self.rule]
        if not wanted or not set(self.meanings) <= set(MEANINGS):
            raise ValueError(f"a {self.rule} signature cannot have the meanings {self.meanings!r}")

    @classmethod
    def required(cls, meaning: Meaning) -> Signature:
        return cls("required", (meaning,))

    @classmethod
    def optional(cls, *meanings: Meaning) -> Signature:
        return cls("optional", meanings)

    def accepts(self, meaning: str) -> bool:
        return meaning in self.meanings

    @property
    def required_meaning(self) -> Meaning | None:
        return self.meanings[0] if self.rule == "required" else None

    def describe(self) -> str:
        """How the API documentation shows it, e.g. ``required: released``."""
        return f"{self.rule}: {', '.join(self.meanings)}" if self.meanings else self.rule


UNSIGNED = Signature("none")
"""Identity, security and key records and the ledger's own records: never e-signed."""

EpcisShape = Literal["commissioning", "aggregation", "custody", "shipment", "sensor", "transformation",
                     "lot_start", "lot_fill", "observe"]


@dataclass(frozen=True)
class Epcis:
    """How an event maps to EPCIS 2.0: the shape of event the exporter builds, and its CBV
    business step, disposition and action where the shape takes them."""

    shape: EpcisShape
    biz_step: str | None = None
    disposition: str | None = None
    action: Literal["ADD", "OBSERVE", "DELETE"] | None = None


OBSERVE = Epcis("observe", action="OBSERVE")
"""An ObjectEvent OBSERVE naming the unit (or the case), the event's data in ``coi:data``."""


class NotExported:
    """Explicitly not part of an EPCIS export (identity, security and key events), with why."""

    def __init__(self, why: str) -> None:
        self.why = why

    def __repr__(self) -> str:
        return f"NotExported({self.why!r})"


def no_sites(data: EventData) -> Iterable[str]:
    return ()


def num(value: object) -> object:
    """A number as its stored JSON reads back (``4`` not ``4.0``), for describe texts that must
    read the same from the typed model as from the stored data."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def given(*values: str | None) -> tuple[str, ...]:
    """The values that are set, e.g. ``sites=lambda d: given(d.from_site, d.location)``."""
    return tuple(v for v in values if v)


@dataclass(frozen=True)
class EventSpec(Generic[D]):
    """Everything about one event type; its name is its data model's class name."""

    data: type[D]
    roles: tuple[str, ...]
    """Roles that may record it through the event API (``POST /v1/events``, the case and unit
    routes, EPCIS capture); ``()``: only the ledger itself, or an administrator's route,
    records it."""
    describe: Callable[[D], str]
    """The audit trail's "what": one line a person can read."""
    epcis: Epcis | NotExported
    signature: Signature | None = None
    """Whether it takes an e-signature, and with which meanings (:class:`Signature`). Every spec
    declares it (a test checks); an undeclared one accepts no signature."""
    sites: Callable[[D], Iterable[str]] = field(default=no_sites)
    """The site ids its data names (each must be registered master data)."""
    correctable: bool = True
    """Whether an ``EventCorrected`` may amend it: ``False`` for identity, role, site, key,
    device and security records and for the ledger's own records (refusals, corrections):
    those change only by a new event of their own. An e-signed event is never corrected
    either, whatever its type (see ``ledger.domain.corrections``)."""
    critical: tuple[str, ...] | Literal["all"] = ()
    """Its GMP-critical fields (a QC result, a unit's spec and expiry, a release, an
    assessment, a COI or custody link), or ``"all"``: a correction that changes one of them is
    pending until a QA person other than the corrector approves it with an e-signature
    (``CorrectionApproved``); a correction of other fields (a typo in a free-text reason)
    takes effect at once."""

    def needs_approval(self, fields: Iterable[str]) -> bool:
        """Whether a correction of ``fields`` is pending until approved (see ``critical``)."""
        names = set(fields)
        return bool(names) if self.critical == "all" else bool(names & set(self.critical))

    @property
    def type(self) -> str:
        return self.data.__name__

    @property
    def signing(self) -> Signature:
        """Its signature rule (an undeclared one takes none)."""
        return self.signature or UNSIGNED

    @property
    def meaning(self) -> Meaning | None:
        """The meaning a signature on it must carry, if it requires one."""
        return self.signing.required_meaning
