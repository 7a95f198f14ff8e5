"""Product specifications: QA defines a version, another QA person approves it (e-signed
``approved``), and the latest approved version is in force (``ledger.domain.product_spec``).

Specifications are a product's master data, not a patient's: every reader may read them,
whatever sites it is bound to. Writing follows the site scope of the product's stream (the sites
its events were recorded at), as for any other stream.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from ledger.datatypes import validated
from ledger.domain.events_spec import (
    ProductSpecApproved,
    ProductSpecDefined,
)
from ledger.domain.product_spec import SpecVersion as Version
from ledger.domain.product_spec import limits_text
from ledger.errors import StreamNotFound
from ledger.services.products import ApproveSpec, DefineSpec, SpecContent
from ledger.timefmt import format_utc

from ..deps import ContainerDep, IdempotencyKey, PrincipalDep, Reader
from ..schemas import PROBLEMS, AppendResponse
from .exceptions import Signed, signed_command

router = APIRouter(prefix="/v1/products", tags=["products"], responses=PROBLEMS)

ProductPath = Annotated[str, Path(min_length=1, max_length=200, description=(
    "the product, exactly as cases name it (`CaseEnrolled.product`; URL-encoded)"))]
VersionPath = Annotated[int, Path(ge=1, le=1_000_000, description="the specification version")]


class Definition(Signed, SpecContent):
    """A specification version's content with its optional signature (``authored``)."""


class Criterion(BaseModel):
    test: str
    min: float | None = None
    max: float | None = None
    uom: str | None = None
    expected: str | None = None
    required: bool
    limits: str = Field(description="the criterion as text, e.g. `5..10 %`, `>= 70 %`, `= negative`")


class Parameter(BaseModel):
    name: str
    kind: Literal["cpp", "cqa"]
    min: float | None = None
    max: float | None = None
    uom: str | None = None
    limits: str


class SpecView(BaseModel):
    product: str
    version: int
    status: Literal["draft", "approved", "superseded"] = Field(
        description="draft: awaiting approval; approved: in force; superseded: a later version is approved")
    defined_by: str
    defined_at: str
    approved_by: str | None = None
    approved_at: str | None = None
    qc_tests: list[Criterion]
    parameters: list[Parameter]
    shelf_lives: dict[str, float]
    process_durations: dict[str, float]


class SpecList(BaseModel):
    product: str
    in_force: int | None = Field(description="the version in force (the latest approved), or null")
    versions: list[SpecView]


@router.post("/{product}/specs", status_code=201, response_model=AppendResponse,
             summary="QA defines the next version of a product's specification (e-signature optional, `authored`)")
def define(product: ProductPath, body: Definition, principal: PrincipalDep, container: ContainerDep,
           idempotency_key: IdempotencyKey = None) -> AppendResponse:
    def data() -> dict[str, Any]:
        return validated(DefineSpec, {"product": product, **body.model_dump(
            mode="json", include=set(SpecContent.model_fields))}).model_dump(mode="json")

    return signed_command(container, principal, ProductSpecDefined.__name__, body, data, idempotency_key,
                          f"/v1/products/{product}/specs")


@router.post("/{product}/specs/{version}/approve", status_code=201, response_model=AppendResponse,
             summary="Another QA person approves a version (e-signed `approved`): it is then in force")
def approve(product: ProductPath, version: VersionPath, body: Signed, principal: PrincipalDep,
            container: ContainerDep, idempotency_key: IdempotencyKey = None) -> AppendResponse:
    def data() -> dict[str, Any]:
        return validated(ApproveSpec, {"product": product, "version": version}).model_dump()

    return signed_command(container, principal, ProductSpecApproved.__name__, body, data, idempotency_key,
                          f"/v1/products/{product}/specs/{version}/approve")


def _view(product: str, v: Version, in_force: int | None) -> dict[str, Any]:
    spec = v.spec
    status = "draft" if not v.approved else ("approved" if v.version == in_force else "superseded")
    return {
        "product": product, "version": v.version, "status": status, "defined_by": v.defined_by,
        "defined_at": format_utc(v.defined_at), "approved_by": v.approved_by,
        "approved_at": format_utc(v.approved_at) if v.approved_at else None,
        "qc_tests": [{**c.model_dump(), "limits": limits_text(c.min, c.max, c.uom, c.expected)} for c in spec.qc_tests],
        "parameters": [{**p.model_dump(), "limits": limits_text(p.min, p.max, p.uom)} for p in spec.parameters],
        "shelf_lives": dict(spec.shelf_lives), "process_durations": dict(spec.process_durations),
    }


@router.get("/{product}/specs", summary="A product's specification versions and the one in force",
            response_model=SpecList)
def specs(product: ProductPath, principal: Reader, container: ContainerDep) -> dict[str, Any]:
    state = container.services.products.state(product)
    if not state.versions:
        raise StreamNotFound(f"{product} has no specification", code="SPEC_NOT_FOUND")
    in_force = state.in_force.version if state.in_force else None
    return {"product": product, "in_force": in_force,
            "versions": [_view(product, v, in_force) for v in state.versions]}


@router.get("/{product}/specs/{version}", summary="One version of a product's specification",
            response_model=SpecView)
def spec(product: ProductPath, version: VersionPath, principal: Reader, container: ContainerDep) -> dict[str, Any]:
    state = container.services.products.state(product)
    found = state.get(version)
    if found is None:
        raise StreamNotFound(f"{product} has no specification version {version}", code="SPEC_NOT_FOUND")
    return _view(product, found, state.in_force.version if state.in_force else None)
