"""Product specifications: versions, QA approval, and judging results against them. Pure.

A product's stream (``streams.product_stream``) holds its specification versions
(``ProductSpecDefined``, numbered 1, 2, ... in order) and their approvals
(``ProductSpecApproved``, e-signed ``approved`` by a QA person other than the version's author:
``SELF_APPROVAL``). The latest approved version is in force; it is pinned to a lot when
manufacturing starts (``ManufacturingStarted.spec_version``) and every QC result and process
parameter of that lot's family is judged against the pinned version, whatever is approved later.

Judgement (the same function for the decision that records a value and for the release
summary, so both agree):

* numeric limits are inclusive at both ends: ``min <= value <= max`` is within; a missing
  bound is no bound. A text value against numeric limits is out of limits.
* an expected text result (``expected``) is met by the same text, ignoring case and the
  surrounding blanks.
* a criterion with neither judges nothing (``within_limits`` null): the result's pass/fail
  speaks. A test or parameter the spec does not name is not judged either.
* recording a QC result without a value for a test with limits or an expected text is refused
  (``SPEC_VALUE_REQUIRED``); a unit of measure other than the spec's is refused
  (``SPEC_UOM_MISMATCH``); none given means the spec's.

For release (:func:`spec_results`), the latest result of each QC test across the product's
lineage and the latest value of each parameter on its lot count (a retest or a re-measurement
supersedes; the out-of-limits record still raised its exception, which stays open until QA
dispositions it). A required test without a result is missing (``QC_MISSING``); a parameter
without a value is shown as missing but does not block release.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

from ..datatypes import EventData
from ..errors import StreamNotFound
from .base import Envelope, NewEvent, new_event, refusal, require_aware, when
from .esign import Manifestation, require_esign
from .events_spec import Limits, ParameterLimit, ProductSpecApproved, ProductSpecDefined, QCCriterion
from .folding import fold
from .spec import num
from .unit import UnitState
from .users import UserState


@dataclass(frozen=True)
class SpecVersion:
    """One version of a product's specification, as defined, and its approval."""

    version: int
    spec: ProductSpecDefined
    authors: frozenset[str]
    """Who wrote it: the actor, whom they acted for, and the signer if it was signed."""
    defined_by: str
    defined_at: datetime
    approved_by: str | None = None
    approved_at: datetime | None = None

    @property
    def approved(self) -> bool:
        return self.approved_by is not None

    def criterion(self, test: str) -> QCCriterion | None:
        return next((c for c in self.spec.qc_tests if c.test == test), None)

    def parameter(self, name: str) -> ParameterLimit | None:
        return next((p for p in self.spec.parameters if p.name == name), None)

    @property
    def required_tests(self) -> frozenset[str]:
        return frozenset(c.test for c in self.spec.qc_tests if c.required)

    def shelf_life_hours(self, kind: str | None) -> float | None:
        return self.spec.shelf_lives.get(kind) if kind else None


@dataclass(frozen=True)
class ProductSpecState:
    stream: Any = None
    version: int = 0
    product: str | None = None
    versions: tuple[SpecVersion, ...] = ()

    def get(self, version: int | None) -> SpecVersion | None:
        return next((v for v in self.versions if v.version == version), None)

    @property
    def latest(self) -> int:
        return max((v.version for v in self.versions), default=0)

    @property
    def in_force(self) -> SpecVersion | None:
        """The latest approved version, if any."""
        return max((v for v in self.versions if v.approved), key=lambda v: v.version, default=None)


def _signer(env: Envelope) -> str | None:
    return (env.get("esign") or {}).get("signer")


def _evolve(s: ProductSpecState, event: EventData, env: Envelope) -> ProductSpecState:
    match event:
        case ProductSpecDefined(product=product, version=version):
            if s.get(version) is not None:
                return s
            authors = frozenset(x for x in (env.get("actor"), env.get("on_behalf"), _signer(env)) if x)
            return replace(s, product=product, versions=(*s.versions, SpecVersion(
                version, event, authors, env["actor"], when(env))))
        case ProductSpecApproved(version=version):
            return replace(s, versions=tuple(
                replace(v, approved_by=_signer(env) or env["actor"], approved_at=when(env))
                if v.version == version and not v.approved else v for v in s.versions))
    return s


def fold_product_spec(envelopes: Iterable[Envelope]) -> ProductSpecState:
    return fold(ProductSpecState(), _evolve, envelopes)


# Decisions ---------------------------------------------------------------------------------


def decide_define(state: ProductSpecState, *, stream: Any, product: str, version: int,
                  spec: dict[str, Any], actor: str, now: datetime) -> list[NewEvent]:
    """A new version of ``product``'s specification: the next number after the latest."""
    require_aware(now)
    if version != state.latest + 1:
        raise refusal("SPEC_VERSION_SEQUENCE",
                      f"{product}: the next specification version is {state.latest + 1}, not {version}")
    return [new_event(stream, ProductSpecDefined, product=product, version=version, **spec)]


def decide_approve(state: ProductSpecState, *, product: str, version: int, esign: Manifestation | None,
                   signer: UserState | None, actor: str, now: datetime) -> list[NewEvent]:
    """QA approves ``version``: four eyes (not its author), e-signed ``approved``."""
    require_aware(now)
    found = state.get(version)
    if found is None:
        raise StreamNotFound(f"{product} has no specification version {version}", code="SPEC_NOT_FOUND")
    if found.approved:
        raise refusal("SPEC_ALREADY_APPROVED", f"{product} v{version} was approved by {found.approved_by}")
    current = state.in_force
    if current is not None and current.version > version:
        raise refusal("SPEC_SUPERSEDED", f"{product} v{current.version} is already approved")
    who = {actor, esign.signer if esign else actor}
    if who & found.authors:
        raise refusal("SELF_APPROVAL",
                      f"{product} v{version} was written by {found.defined_by}: another QA person approves it")
    require_esign(ProductSpecApproved.__name__, esign, signer, actor=actor)
    return [new_event(state.stream, ProductSpecApproved, product=product, version=version)]


# Judgement ----------------------------------------------------------------------------------


def within(lo: float | None, hi: float | None, value: Any) -> bool:
    """Inclusive numeric limits; a text (or missing) value is not within numeric limits."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return (lo is None or value >= lo) and (hi is None or value <= hi)


def meets(criterion: QCCriterion | None, value: Any) -> bool | None:
    """Whether ``value`` meets the criterion: None when the criterion judges nothing."""
    if criterion is None:
        return None
    if criterion.expected is not None:
        return value is not None and str(num(value)).strip().casefold() == criterion.expected.strip().casefold()
    if criterion.min is None and criterion.max is None:
        return None
    return within(criterion.min, criterion.max, value)


def limits_text(lo: float | None = None, hi: float | None = None, uom: str | None = None,
                expected: str | None = None) -> str:
    """How limits read: ``5..10 %``, ``>= 5 %``, ``<= 10``, ``= negative``, or ``-`` (none)."""
    if expected is not None:
        return f"= {expected}"
    if lo is None and hi is None:
        return "-"
    text = f"{num(lo)}..{num(hi)}" if lo is not None and hi is not None else (
        f">= {num(lo)}" if lo is not None else f"<= {num(hi)}")
    return f"{text} {uom}" if uom else text


def _require_uom(name: str, wanted: str | None, given: str | None) -> str | None:
    if wanted is not None and given is not None and given != wanted:
        raise refusal("SPEC_UOM_MISMATCH", f"{name} is judged in {wanted}, not {given}")
    return given or wanted


@dataclass(frozen=True)
class QCJudgement:
    spec_version: int | None = None
    within_limits: bool | None = None
    uom: str | None = None


def judge_qc(spec: SpecVersion | None, *, test: str, value: Any, uom: str | None) -> QCJudgement:
    """A QC result judged against the pinned version (see the module for the rules)."""
    criterion = spec.criterion(test) if spec else None
    if spec is None or criterion is None:
        return QCJudgement(spec.version if spec else None, None, uom)
    judged = criterion.expected is not None or criterion.min is not None or criterion.max is not None
    if judged and value is None:
        wanted = limits_text(criterion.min, criterion.max, criterion.uom, criterion.expected)
        raise refusal("SPEC_VALUE_REQUIRED",
                      f"{test}: the specification v{spec.version} requires {wanted}: record the measured value")
    unit = _require_uom(test, criterion.uom, uom) if criterion.expected is None else uom
    return QCJudgement(spec.version, meets(criterion, value), unit)


@dataclass(frozen=True)
class ParameterJudgement:
    spec_version: int | None = None
    limits: Limits | None = None
    within_limits: bool | None = None
    uom: str | None = None


def judge_parameter(spec: SpecVersion | None, *, parameter: str, value: float,
                    uom: str | None) -> ParameterJudgement:
    limit = spec.parameter(parameter) if spec else None
    if spec is None or limit is None:
        return ParameterJudgement(spec.version if spec else None, None, None, uom)
    unit = _require_uom(parameter, limit.uom, uom)
    return ParameterJudgement(spec.version, Limits(min=limit.min, max=limit.max),
                              within(limit.min, limit.max, value), unit)


# Results for release ------------------------------------------------------------------------

Verdict = Literal["within", "out_of_limits", "missing"]


@dataclass(frozen=True)
class SpecResult:
    name: str
    kind: Literal["qc", "cpp", "cqa"]
    value: Any
    uom: str | None
    limits: str
    verdict: Verdict


def pinned_lot(family: Iterable[UnitState]) -> UnitState | None:
    """The lot of a product's lineage (``family``: the unit and its ancestors), if it has one."""
    return next((u for u in family if u.kind == "lot"), None)


def spec_results(spec: SpecVersion | None, family_units: Sequence[UnitState],
                 lot_state: UnitState | None) -> list[SpecResult]:
    """Each QC test and parameter of ``spec`` with the product's result and verdict: the latest
    QC result of each test across ``family_units``, the latest value of each parameter on
    ``lot_state``. QC tests that are not required and have no result are left out."""
    if spec is None:
        return []
    latest: dict[str, Any] = {}
    for result in sorted((r for u in family_units for r in u.qc), key=lambda r: r.at):
        latest[result.test] = result
    out: list[SpecResult] = []
    for c in spec.spec.qc_tests:
        text = limits_text(c.min, c.max, c.uom, c.expected)
        result = latest.get(c.test)
        if result is None:
            if c.required:
                out.append(SpecResult(c.test, "qc", None, c.uom, text, "missing"))
            continue
        bad = meets(c, result.value) is False or result.result != "pass"
        out.append(SpecResult(c.test, "qc", result.value, result.uom or c.uom, text,
                              "out_of_limits" if bad else "within"))
    values = {p.name: p for p in (lot_state.parameters if lot_state else ())}
    for p in spec.spec.parameters:
        text = limits_text(p.min, p.max, p.uom)
        value = values.get(p.name)
        if value is None:
            out.append(SpecResult(p.name, p.kind, None, p.uom, text, "missing"))
        else:
            verdict: Verdict = "within" if within(p.min, p.max, value.value) else "out_of_limits"
            out.append(SpecResult(p.name, p.kind, value.value, value.uom or p.uom, text, verdict))
    return out


def require_within_spec(spec: SpecVersion | None, family: Sequence[UnitState], label: str | None) -> None:
    """Release: refused ``SPEC_OUT_OF_LIMITS`` naming every result out of the pinned spec's limits."""
    bad = [r for r in spec_results(spec, family, pinned_lot(family)) if r.verdict == "out_of_limits"]
    if bad:
        shown = ", ".join(f"{r.name} = {num(r.value)} ({r.limits})" for r in bad)
        raise refusal("SPEC_OUT_OF_LIMITS", f"{label}: out of specification v{spec.version}: {shown}")  # type: ignore[union-attr]
