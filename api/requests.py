"""The ``data`` of every command a client may submit, built from the domain's constrained types.

A field the domain bounds (a temperature, a volume, a name, a reason, a kind) uses the
domain's type here, so the API refuses at the door what the domain would refuse later and
``/openapi.json`` shows the same bounds. Every field carries a description. Patient
identifiers (``mrn``, ``wristband``, ``donor_id``) have no domain type: they are only
pseudonymised, never stored.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from ledger.datatypes import Celsius, Decimal2, Identifier, Text
from ledger.domain.events_case import Name as ProductName
from ledger.domain.events_case import Reason, TherapyKind
from ledger.domain.events_quality import MAX_READINGS
from ledger.domain.events_unit import Identifiers, UnitKind
from ledger.domain.spec import Meaning

__all__ = ["MAX_READINGS", "Ident", "Meaning", "Name", "Reason", "Secret"]

Name = Identifier
"""A printable name or identifier (the domain's ``Identifier``)."""
Ident = Annotated[Identifier, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@/+-]*$",
                                    description="an identifier: user, device, site, party, GLN ...")]
Secret = Annotated[str, Field(min_length=1, max_length=256)]
Volume = Annotated[Decimal2, Field(ge=0)]


class Data(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Enrol(Data):
    kind: TherapyKind = Field(description="autologous (the patient's own cells) or allogeneic (a donor's)")
    product: ProductName = Field(description="the therapy's product name")
    treating_site: Ident = Field(description="the site that treats the patient (a registered site id)")
    mrn: Secret = Field(description="patient record number: pseudonymised on arrival, never stored")
    collection_site: Ident | None = Field(None,
        description="where the material is collected, when not the treating site")
    protocol: Name | None = Field(None, description="the clinical protocol or study, if any")


class Donor(Data):
    product: ProductName = Field(description="the allogeneic product made from this donor's material")
    collection_site: Ident = Field(description="where the donor's material is collected (a registered site id)")
    donor_id: Secret = Field(description="donor identifier: pseudonymised on arrival, never stored")
    din: Name | None = Field(None,
        description="the ISBT 128 donation identification number (13 characters), if the donation has one")


class WithReason(Data):
    reason: Reason = Field(description="why (shown in the audit trail)")


class Allocate(Data):
    donor_coi: Name = Field(description="the donor case's COI id that the unit comes from")
    unit_id: UUID = Field(
        description="the donor-derived dose (a released unit of the donor case) given to this patient")


class Spec(Data):
    min_celsius: Celsius | None = Field(None,
        description="lowest allowed temperature (°C); readings below it are an excursion")
    max_celsius: Celsius | None = Field(None,
        description="highest allowed temperature (°C); readings above it are an excursion")
    expiry: AwareDatetime | None = Field(None,
        description="when the unit expires (RFC 3339 with zone); steps dated after it are refused")
    qc_required: list[Name] = Field(default_factory=list, max_length=50,
        description="QC tests that must pass before release")


class Label(Data):
    kind: UnitKind = Field(description="what the label goes on: a bag, a sample or a container (shipper)")
    spec: Spec | None = Field(None, description="storage limits, expiry and required QC of the unit")
    identifiers: Identifiers = Field(default_factory=dict,
        description="other identifiers printed on it, by kind (din: ISBT 128 DIN, gs1: GS1 element string ...)")
    parents: list[UUID] = Field(default_factory=list, max_length=100, description="units it is made from (unit ids)")
    custodian: Name | None = Field(None, description="who holds it first (default: the caller)")
    product: Text | None = Field(None, description="product name, if it is a product")
    volume_ml: Volume | None = Field(default=None, description="volume in millilitres")


class Collect(Data):
    wristband: Secret = Field(description="the wristband's record number: compared as a pseudonym, never stored")
    material: Name = Field(description="what was collected, e.g. leukapheresis")
    collection_site: Ident = Field(description="where (a registered site id)")
    volume_ml: Volume | None = Field(default=None, description="volume collected in millilitres")
    started_at: AwareDatetime | None = Field(None, description="when the collection started (RFC 3339)")
    ended_at: AwareDatetime | None = Field(None, description="when the collection ended (RFC 3339)")


class Handover(Data):
    to_party: Ident = Field(description="the user (or party) offered custody; custody moves when they acknowledge")
    location: Ident | None = Field(None, description="where the handover happens (site id)")
    condition: Reason | None = Field(None, description="the condition seen at handover")


class Acknowledge(Data):
    location: Ident | None = Field(None, description="where custody is taken (site id)")
    condition: Reason | None = Field(None, description="the condition seen on receipt")


class Pack(Data):
    container_id: UUID = Field(description="the container (shipper) unit id")


class Dispatch(Data):
    carrier: Name = Field(description="the carrier's name")
    tracking: Name = Field(description="the carrier's tracking number")
    from_site: Ident = Field(description="site shipped from")
    to_site: Ident = Field(description="site shipped to")


class Deliver(Data):
    tracking: Name | None = Field(None, description="the tracking number (must match the dispatch's, if given)")
    to_site: Ident | None = Field(None, description="site delivered to (must match the dispatch's, if given)")
    condition: Reason | None = Field(None, description="the condition seen on delivery")


class Reading(Data):
    t: AwareDatetime = Field(description="when the reading was taken (RFC 3339 with zone)")
    celsius: Celsius = Field(description="the temperature in °C (at most two decimals)")


Readings = Annotated[list[Reading], Field(min_length=1, max_length=MAX_READINGS)]


class Temperatures(Data):
    logger: Ident = Field(description="the data logger's id")
    readings: Readings = Field(description="the logger's readings, in time order")


class Assess(Data):
    excursion_id: UUID = Field(description="the excursion (from the unit's state or conditions)")
    decision: Literal["use", "discard"] = Field(description="use the unit despite the excursion, or discard it")
    rationale: Reason = Field(description="why (Part 11: shown with the signature)")


class Output(Data):
    kind: Literal["cryobag", "final_product_bag", "sample"] = Field(
        description="what is made: cryobag, final_product_bag or sample (a QC sample)")
    spec: Spec | None = Field(None, description="storage limits, expiry and required QC of the output")
    identifiers: Identifiers = Field(default_factory=dict, description="other identifiers printed on it, by kind")
    product: Text | None = Field(None, description="product name")
    volume_ml: Volume | None = Field(default=None, description="volume in millilitres")


class Derive(Data):
    inputs: list[UUID] = Field(min_length=1, max_length=100, description="the units processed (unit ids)")
    outputs: list[Output] = Field(min_length=1, max_length=100, description="the units made: each gets a new label")
    process: Name = Field(description="the manufacturing process")
    batch: Name | None = Field(None, description="the lot or batch number")
    consumed: bool = Field(True,
        description="whether the inputs are used up (false: a sample is taken and the input goes on)")


LotNumber = Annotated[Identifier, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/+-]*$",
                                        description="the manufacturer's lot (batch) number, unique within the case")]


class StartManufacturing(Data):
    lot: LotNumber = Field(description="the manufacturing lot (batch) number, unique within the case")
    inputs: list[UUID] = Field(min_length=1, max_length=100, description=(
        "the units consumed (apheresis bags ...): each must be within its expiry now"))
    process: Name = Field(description="the manufacturing process, e.g. transduction-expansion")


class ManufacturingStep(Data):
    lot: LotNumber = Field(description="the lot, opened by ManufacturingStarted")
    stage: Name = Field(description="the process step, e.g. activation, transduction, expansion, harvest")
    notes: Reason | None = Field(None, description="free-text notes on the step (no patient data)")


class Fill(Data):
    lot: LotNumber = Field(description="the lot, opened by ManufacturingStarted")
    outputs: list[Output] = Field(min_length=1, max_length=100, description=(
        "the final product units, labelled now with the lot as their parent"))


class QC(Data):
    test: Name = Field(description="the QC test's name (e.g. sterility)")
    result: Literal["pass", "fail"] = Field(description="pass or fail")
    value: Decimal2 | Text | None = Field(None, description="the measured value, if any (at most two decimals)")
    uom: Name | None = Field(None, description="unit of measure of value")
    method: Text | None = Field(None, description="the test method")
    sample_id: UUID | None = Field(None, description="the sample unit tested, if any")


class Release(Data):
    notes: Reason | None = Field(None, description="release notes (shown with the QA signature)")


class Infuse(Data):
    coi: Name = Field(description="the patient case's COI id (the patient being infused)")
    wristband: Secret = Field(description="the wristband's record number: compared as a pseudonym, never stored")
    bag_coi: Name = Field(
        description=("the COI id printed on the bag: the patient's own for autologous, the donor case's for an "
                     "allocated allogeneic dose"))
    infused_at: AwareDatetime | None = Field(None,
        description="when the infusion started (RFC 3339); default: occurred_at")


class Dispose(Data):
    reason: Reason = Field(description="why it is disposed of")
    method: Name | None = Field(None, description="how, e.g. incineration")


class Correct(Data):
    event_id: UUID = Field(description="the event being corrected (it stays; the correction is a new event)")
    reason: Text = Field(description="why the correction is made")
    changes: dict[str, Any] = Field(min_length=1, max_length=50,
        description="field -> new value, for the corrected event's data")


class EsignInput(BaseModel):
    """Part 11 signature: both components (user id and password) on every signing."""

    model_config = ConfigDict(extra="forbid")
    user_id: Ident = Field(description="the signer: must be the signed-in user")
    password: Secret = Field(description="the signer's password (re-authentication, 11.200)")
    meaning: Meaning = Field(description="what the signature means; a signed step requires its own meaning")


class DeviceSig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    device: Ident = Field(description="the device id")
    key_id: Annotated[str, Field(pattern=r"^[0-9a-f]{16}$")] = Field(description="the device key's id (16 hex digits)")
    sig: Annotated[str, Field(max_length=200)] = Field(description="the device's signature over the event (base64)")


def spec_json(spec: Spec | None) -> dict[str, Any] | None:
    return spec.model_dump(mode="json", exclude_none=True) if spec else None


def outputs_json(outputs: list[Output]) -> list[dict[str, Any]]:
    return [{**o.model_dump(exclude={"spec"}), "spec": spec_json(o.spec)} for o in outputs]
