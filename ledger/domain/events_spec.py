"""Event data of product specifications (one stream per product, ``streams.product_stream``) and
of the process parameters recorded on a lot's stream.

A specification version lists the QC tests a lot's product must pass (with their acceptance
criteria), the critical process parameters (CPP) and critical quality attributes (CQA) with
their limits, the shelf life of each kind of unit made and, optionally, how long each process
stage may take. It is written by QA (``ProductSpecDefined``) and takes effect once another QA
person approves it (``ProductSpecApproved``, e-signed ``approved``): the latest approved
version is in force and is pinned to a lot when manufacturing starts
(``ManufacturingStarted.spec_version``). See ``ledger.domain.product_spec``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from ..datatypes import Decimal2, EventData, Identifier, Text
from .events_case import Name
from .spec import OBSERVE, EventSpec, NotExported, Signature, num

SpecVersion = Annotated[int, Field(ge=1, le=1_000_000)]
Hours = Annotated[Decimal2, Field(gt=0, le=1_000_000)]


class Limits(EventData):
    """Numeric limits, both inclusive: a value equal to ``min`` or ``max`` is within them."""

    min: Decimal2 | None = Field(None, description="the lowest value within limits (inclusive); none: no bound")
    max: Decimal2 | None = Field(None, description="the highest value within limits (inclusive); none: no bound")

    @model_validator(mode="after")
    def _ordered(self) -> Limits:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("min is above max")
        return self


class QCCriterion(Limits):
    """A QC test's acceptance criterion: numeric limits (``min``/``max``, inclusive) or an
    expected text result (e.g. ``negative``), or neither (the test's pass/fail speaks);
    ``required``: release needs a result of it."""

    test: Identifier = Field(description="the QC test's name, as results name it")
    uom: Identifier | None = Field(None, description="the unit of measure the limits are in")
    expected: Text | None = Field(None, description="the expected text result (e.g. negative), instead of limits")
    required: bool = Field(True, description="whether release needs a result of this test")

    @model_validator(mode="after")
    def _one_kind(self) -> QCCriterion:
        if self.expected is not None and (self.min is not None or self.max is not None):
            raise ValueError(f"{self.test}: give numeric limits or an expected text, not both")
        return self


class ParameterLimit(Limits):
    """A critical process parameter (``cpp``) or critical quality attribute (``cqa``) and its
    limits (inclusive)."""

    name: Identifier = Field(description="the parameter's name, as ProcessParameterRecorded names it")
    kind: Literal["cpp", "cqa"] = Field(description="cpp: critical process parameter; cqa: critical quality attribute")
    uom: Identifier | None = Field(None, description="the unit of measure the limits are in")


class ProductSpecDefined(EventData):
    """A version of a product's specification, written by QA; in force once approved by another."""

    product: Name
    version: SpecVersion
    qc_tests: Annotated[list[QCCriterion], Field(max_length=100)] = []
    parameters: Annotated[list[ParameterLimit], Field(max_length=200)] = []
    shelf_lives: Annotated[dict[Identifier, Hours], Field(max_length=20)] = {}
    process_durations: Annotated[dict[Identifier, Hours], Field(max_length=50)] = {}

    @model_validator(mode="after")
    def _unique(self) -> ProductSpecDefined:
        for what, names in (("QC test", [c.test for c in self.qc_tests]),
                            ("parameter", [p.name for p in self.parameters])):
            twice = sorted({n for n in names if names.count(n) > 1})
            if twice:
                raise ValueError(f"{what} named twice: {', '.join(twice)}")
        return self


class ProductSpecApproved(EventData):
    """QA approves a defined version (e-signed ``approved``, not by its author): it is in force
    from now until a later version is approved."""

    product: Name
    version: SpecVersion


class ProcessParameterRecorded(EventData):
    """A process parameter (CPP) or quality attribute (CQA) measured on an open lot, judged by
    the ledger against the lot's pinned specification: ``limits`` and ``within_limits`` are the
    ledger's (null when the spec does not name the parameter, or no spec is pinned)."""

    lot: Identifier
    parameter: Identifier
    value: Decimal2
    uom: Identifier | None = None
    spec_version: SpecVersion | None = None
    limits: Limits | None = None
    within_limits: bool | None = None


SPEC_EVENTS: dict[str, type[EventData]] = {
    m.__name__: m for m in (ProductSpecDefined, ProductSpecApproved, ProcessParameterRecorded)
}


def _parameter(d: ProcessParameterRecorded) -> str:
    shown = f"{num(d.value)} {d.uom or ''}".rstrip()
    verdict = {True: "within limits", False: "OUT OF LIMITS", None: "not in the spec"}[d.within_limits]
    return f"lot {d.lot}: {d.parameter} = {shown} ({verdict})"


SPEC_SPECS: tuple[EventSpec[Any], ...] = (
    EventSpec(ProductSpecDefined, ("qa",),
              lambda d: f"specification {d.product} v{d.version} defined: {len(d.qc_tests)} QC test(s), "
                        f"{len(d.parameters)} parameter(s)",
              NotExported("master data of a product, not a supply-chain event"), correctable=False,
              signature=Signature.optional("authored")),
    EventSpec(ProductSpecApproved, ("qa",), lambda d: f"specification {d.product} v{d.version} approved",
              NotExported("master data of a product, not a supply-chain event"), correctable=False,
              signature=Signature.required("approved")),
    EventSpec(ProcessParameterRecorded, ("operator", "integrator"), _parameter, OBSERVE, correctable=False,
              signature=Signature.optional("authored", "reviewed")),
)
