"""Product specifications: QA defines versions and another QA person approves them
(``ledger.domain.product_spec``); process parameters of an open lot are recorded and judged
against the version pinned to the lot."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Annotated, Any, TypeVar

from pydantic import Field

from ..datatypes import Decimal2, Identifier
from ..domain import lots
from ..domain.events_case import Name as ProductName
from ..domain.events_spec import (
    Hours,
    ParameterLimit,
    ProcessParameterRecorded,
    ProductSpecApproved,
    ProductSpecDefined,
    QCCriterion,
    SpecVersion,
)
from ..domain.product_spec import ProductSpecState, decide_approve, decide_define, fold_product_spec
from ..streams import case_stream, lot_stream, product_stream
from .commands import Data, Name, command
from .executor import Context, Executor, Reads, SignOff, Step
from .quality import LotNumber, lot_spec, product_spec
from .steps import Commands

R = TypeVar("R")


class SpecContent(Data):
    """A specification version's content (the route names the product in its path)."""

    version: SpecVersion = Field(description="the version number: the latest defined plus one (1 for the first)")
    qc_tests: Annotated[list[QCCriterion], Field(max_length=100)] = Field(default_factory=list, description=(
        "QC tests and their acceptance criteria: {test, min?, max? (inclusive), uom?, expected? (text), "
        "required (default true: release needs a result)}"))
    parameters: Annotated[list[ParameterLimit], Field(max_length=200)] = Field(default_factory=list, description=(
        "critical process parameters and quality attributes: {name, kind: cpp|cqa, min?, max? (inclusive), uom?}"))
    shelf_lives: Annotated[dict[Identifier, Hours], Field(max_length=20)] = Field(default_factory=dict, description=(
        "unit kind -> shelf life in hours: a filled unit given no expiry expires that long after its fill"))
    process_durations: Annotated[dict[Identifier, Hours], Field(max_length=50)] = Field(
        default_factory=dict, description="process stage -> its planned duration in hours (informative)")


class DefineSpec(SpecContent):
    product: ProductName = Field(description="the product, named exactly as cases name it (`CaseEnrolled.product`)")

    def arguments(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class ApproveSpec(Data):
    product: ProductName = Field(description="the product")
    version: SpecVersion = Field(description="the version approved (defined by another QA person)")


class RecordParameter(Data):
    lot: LotNumber = Field(description="the open lot (started, not yet filled)")
    parameter: Name = Field(description="the parameter's name, as the specification names it")
    value: Decimal2 = Field(description="the measured value (at most two decimals)")
    uom: Name | None = Field(None, description="its unit of measure (default: the specification's)")


class ProductService(Commands[R]):
    def __init__(self, executor: Executor, run: Callable[[Step], R] | None = None) -> None:
        super().__init__(executor, run or executor.run)  # type: ignore[arg-type]

    def state(self, product: str) -> ProductSpecState:
        return product_spec(Reads(self.executor.ledger), product)

    @command(ProductSpecDefined, target="none", request=DefineSpec)
    def define_spec(self, ctx: Context, *, product: str, version: int, qc_tests: Sequence[Mapping[str, Any]] = (),
                    parameters: Sequence[Mapping[str, Any]] = (), shelf_lives: Mapping[str, float] | None = None,
                    process_durations: Mapping[str, float] | None = None) -> R:
        """A new version of the product's specification (in force once another QA person approves it)."""
        stream = product_stream(product)
        spec = {"qc_tests": list(qc_tests), "parameters": list(parameters), "shelf_lives": dict(shelf_lives or {}),
                "process_durations": dict(process_durations or {})}
        return self.command(ctx, lambda r, now, actor: decide_define(
            fold_product_spec(r.envelopes(stream)), stream=stream, product=product, version=version, spec=spec,
            actor=actor, now=now), answer=lambda _: {"product": product, "version": version})

    @command(ProductSpecApproved, target="none", request=ApproveSpec)
    def approve_spec(self, ctx: Context, *, product: str, version: int, signoff: SignOff | None) -> R:
        """Four eyes: QA other than the author approves, e-signed ``approved``; then it is in force."""
        return self.command(ctx, lambda r, now, actor: decide_approve(
            product_spec(r, product), product=product, version=version,
            esign=signoff.manifestation if signoff else None, signer=signoff.signer if signoff else None,
            actor=actor, now=now), signoff=signoff, answer=lambda _: {"product": product, "version": version})

    @command(ProcessParameterRecorded, target="coi", request=RecordParameter)
    def record_parameter(self, ctx: Context, *, coi: str, lot: str, parameter: str, value: float,
                         uom: str | None = None) -> R:
        """A CPP or CQA measured on an open lot, judged against the lot's pinned specification."""

        def decide(reads: Reads, now: datetime, actor: str):
            state = reads.unit(lot_stream(coi, lot))
            return lots.decide_parameter(reads.case(case_stream(coi)), state, lot_number=lot, parameter=parameter,
                                         value=value, uom=uom, spec=lot_spec(reads, state), site=ctx.site,
                                         actor=actor, now=now)

        return self.command(ctx, decide, at_event_time=True)
