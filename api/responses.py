"""Response models of the read routes, so ``/openapi.json`` types every answer.

The models name every field the read models return today; ``extra="allow"`` keeps a field a
read model adds later in the answer (documented here when it is added).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .schemas import AppendResponse


class Open(BaseModel):
    model_config = ConfigDict(extra="allow")


CASE_STATUS = ("the case status, one definition for every view: enrolled, collected, in_manufacturing, "
               "released, allocated, infused (furthest milestone reached), or on_hold / cancelled")


class CaseSummary(Open):
    """``GET /v1/cases/{coi}``: the case as its stream says, with the read model's status."""

    case_id: str
    coi: str | None = None
    version: int = Field(description="events in the case stream (for If-Match style checks)")
    role: str | None = Field(None, description="patient or donor")
    kind: str | None = Field(None, description="autologous or allogeneic")
    product: str | None = None
    site: str | None = Field(None, description="treating site (collection site for a donor case)")
    status: str = Field(description=CASE_STATUS)
    milestone: str = Field(description="furthest milestone reached, whatever the hold/cancel state")
    units: int = Field(description="units labelled for the case; for an allogeneic recipient, units allocated")
    hold_reason: str | None = None
    allocated_units: list[str] = Field(default_factory=list, description="donor units allocated to this patient")
    refusals: int = Field(0, description="refused COI-critical attempts recorded on the case")


class CaseRow(Open):
    case_id: str
    coi: str
    kind: str = Field(description="autologous, allogeneic or donor")
    product: str | None = None
    treating_site: str | None = None
    collection_site: str | None = None
    protocol: str | None = None
    status: str = Field(description=CASE_STATUS)
    milestone: str
    hold_reason: str | None = None
    enrolled_at: str | None = None
    event_id: str | None = Field(None, description="the enrolment event")
    units: int = Field(description="units labelled for the case; for an allogeneic recipient, units allocated")
    last_event_at: str | None = None
    last_position: int | None = None


class CaseList(Open):
    items: list[CaseRow]
    next_cursor: str | None = Field(None, description="pass as cursor= for the next page; null on the last")


class GenealogyNode(Open):
    id: str
    type: str = Field(description="case, unit or infusion")
    coi: str | None = None
    kind: str | None = Field(None, description="case: autologous/allogeneic/donor; unit: apheresis_bag, sample, ...")
    label: str | None = None
    status: str | None = Field(None, description="case nodes: the case status; unit nodes: the unit's state "
                                                 "(labelled, collected, released, allocated, packed, in_transit, "
                                                 "delivered, qc_failed, quarantined, consumed, infused, disposed)")
    case_id: str | None = None
    created_at: str | None = None
    event_id: str | None = None


class GenealogyEdge(Open):
    from_: str = Field(alias="from")
    to: str
    relation: str = Field(description="labelled, derived, allocated_to, packed_in, infused, received")
    at: str | None = None
    event_ids: list[str] = Field(default_factory=list)


class Genealogy(Open):
    model_config = ConfigDict(extra="allow", populate_by_name=True)
    nodes: list[GenealogyNode]
    edges: list[GenealogyEdge]


class UnitState(Open):
    """``GET /v1/units/{unit_id}``: the unit as its stream says."""

    unit_id: str
    version: int
    kind: str | None = None
    coi: str | None = None
    case: str | None = None
    label: str | None = None
    identifiers: dict[str, str] = Field(default_factory=dict)
    parents: list[str] = Field(default_factory=list)
    spec: dict[str, Any] | None = None
    custodian: str | None = None
    location: str | None = None
    pending: dict[str, Any] | None = Field(None, description="a handover offered and not yet acknowledged")
    container: str | None = Field(None, description="the container it is packed in")
    contents: list[str] = Field(default_factory=list, description="units packed in it (a container)")
    collected: bool = False
    shipment: dict[str, Any] | None = None
    excursions: list[dict[str, Any]] = Field(default_factory=list)
    qc: list[dict[str, Any]] = Field(default_factory=list)
    released: bool = False
    quarantined: bool = False
    disposed: bool = False
    consumed: bool = False
    infused: bool = False
    allocated_to: str | None = None
    derived_into: list[str] = Field(default_factory=list)


class Custody(Open):
    unit_id: str
    coi: str | None = None
    label: str | None = None
    kind: str | None = None
    custodian: str | None = None
    location: str | None = None
    container: str | None = None
    ended_at: str | None = None
    ended_by: str | None = None
    intervals: list[dict[str, Any]] = Field(description="holder, location, from, to, via_container, event ids")
    transfers: list[dict[str, Any]] = Field(default_factory=list)
    shipments: list[dict[str, Any]] = Field(default_factory=list)
    pending_transfer: dict[str, Any] | None = None
    gaps: list[dict[str, Any]] = Field(default_factory=list)


class Conditions(Open):
    unit_id: str
    coi: str | None = None
    label: str | None = None
    kind: str | None = None
    spec: dict[str, Any] | None = None
    summary: dict[str, Any] | None = None
    excursions: list[dict[str, Any]] = Field(default_factory=list)
    readings: list[dict[str, Any]] = Field(default_factory=list, description="{t, celsius, source, logger}")
    next_cursor: str | None = None
    downsampled: bool = False


class AuditRow(Open):
    position: int = Field(description="the event's position in the global log")
    event_id: str
    stream: str
    seq: int
    type: str
    recorded_at: str
    occurred_at: str | None = None
    actor: str
    on_behalf: str | None = None
    site: str | None = None
    coi: str | None = None
    unit_id: str | None = None
    what: str | None = None
    why: str | None = None
    changes: list[dict[str, Any]] | None = None
    corrected_event_id: str | None = None
    corrected_by: list[str] = Field(default_factory=list)
    signature: dict[str, Any] | None = Field(None, description="signer, printed_name, meaning, signed_at, key_id")
    detail: dict[str, Any] | None = None
    event_hash: str | None = Field(None, description="the sealed event's hash (hex SHA-256 of its envelope's JCS)")
    verified: bool = Field(description=(
        "whether this row was checked against the sealed event at its position: the event re-hashes to "
        "its stored hash and to event_hash, its seal verifies, and the row equals what the event projects to"))
    problem: str | None = Field(None, description="why the row is not verified")


class AuditPage(Open):
    items: list[AuditRow]
    next_cursor: str | None = None


class ReviewException(Open):
    exception_id: str
    kind: str
    severity: Literal["coi_critical", "gmp", "informational"]
    state: Literal["open", "dispositioned"] = Field(description="open until QA dispositions it")
    cleared: bool = Field(description="a later event cleared the condition (it stays open until dispositioned)")
    classification: Literal["no_impact", "deviation", "product_impact"] | None = None
    deviation_id: str | None = None
    dispositioned_event_id: str | None = None
    opened_hash: str | None = Field(None, description="hash of the opening event, which a disposition signs")
    coi: str | None = None
    unit_id: str | None = None
    subject: str | None = None
    opened_at: str | None = None
    event_ids: list[str] = Field(default_factory=list)
    detail: str | None = None
    resolved_at: str | None = None
    resolved_event_id: str | None = None
    duration_s: float | None = None
    due_at: str | None = Field(None, description="a missing witness's deadline (`witness_missing`): shown once past")
    age_s: float | None = None


class OpenCounts(BaseModel):
    coi_critical: int = Field(description="open COI-critical exceptions (wrong patient, wrong bag, missing witness)")
    gmp: int = Field(description="open GMP exceptions (excursions, QC, quarantine, corrections, overdue handovers)")
    informational: int = Field(description="open informational items (unknown scans, scans with the wrong purpose)")
    total: int


class CaseFigures(BaseModel):
    needle_to_needle_days: float | None = Field(
        None, description="first collection -> infusion (-> now while not infused), days")
    manufacturing_end_to_signoff_h: float | None = Field(
        None, description="first final product labelled -> latest review sign-off, hours")
    manufacturing_end_to_release_h: float | None = Field(
        None, description="first final product labelled -> first release, hours")


class QueueRow(Open):
    case_id: str
    coi: str
    kind: str = Field(description="autologous, allogeneic or donor")
    product: str | None = None
    treating_site: str | None = None
    collection_site: str | None = None
    status: str = Field(description=CASE_STATUS)
    stage: Literal["awaiting_review", "awaiting_release", "released", "infused", "in_progress"] = Field(
        description="in_progress: no final product yet; awaiting_review: final product, no current review "
                    "sign-off; awaiting_release: current sign-off, no open COI-critical or GMP exception; "
                    "released; infused")
    open: OpenCounts
    oldest_open_at: str | None = Field(None, description="when the oldest open exception was raised")
    oldest_open_age_s: int | None = None
    due: str | None = Field(None, description="earliest expiry of the case's final products not yet released")
    collected_at: str | None = None
    manufactured_at: str | None = None
    signed_off_at: str | None = None
    released_at: str | None = None
    infused_at: str | None = None
    figures: CaseFigures


class Distribution(BaseModel):
    n: int = Field(description="cases with this figure")
    min: float | None = None
    median: float | None = None
    p90: float | None = Field(None, description="90th percentile (nearest rank)")
    max: float | None = None


class QueueFigures(BaseModel):
    needle_to_needle_days: Distribution
    manufacturing_end_to_signoff_h: Distribution
    manufacturing_end_to_release_h: Distribution


class ReviewQueue(Open):
    items: list[QueueRow]
    next_cursor: str | None = Field(None, description="pass as cursor= (same sort) for the next page; null on the last")
    total: int = Field(description="rows the filters select, all pages")
    stages: dict[str, int] = Field(description="rows by stage under the other filters (stage filter not applied)")
    figures: QueueFigures = Field(description="distribution of each figure over the rows selected, all pages")


# POST /v1/units/{unit_id}/temperatures: what a logger upload did.

class AppliedLimits(BaseModel):
    min_celsius: float | None
    max_celsius: float | None
    source: Literal["own", "container", "contents"] = Field(description=(
        "own: the unit's spec; container: a unit without a range is kept to the container's "
        "(its own, else the narrowest of the other units inside); contents: a container without "
        "a range inherits the narrowest range of what it carried, checked on the units inside"))


class NotApplied(BaseModel):
    before_packing: int = Field(description="readings taken before the unit was packed in the container")
    after_unpacking: int = Field(description="readings taken after the unit was unpacked")


class UnitApplied(BaseModel):
    unit_id: str
    label: str | None
    via_container: str | None = Field(description="the logged container, for a unit packed in it; null for itself")
    packed_at: str | None
    unpacked_at: str | None
    readings_applied: int = Field(description="readings that apply to this unit (taken while it was inside)")
    not_applied: NotApplied
    limits: AppliedLimits | None = Field(description="the range checked; null: no range, nothing checked")
    readings_checked: int
    excursions_detected: int = Field(description="excursions found in these readings")
    excursions_opened: int = Field(description="of which new (ExcursionDetected appended; the rest were known)")


class UploadReport(BaseModel):
    logger: str
    readings: int = Field(description="readings recorded on the logged unit")
    first: str
    last: str
    excursions_detected: int
    excursions_opened: int
    units: list[UnitApplied] = Field(description="the logged unit first, then one entry per packing interval "
                                                 "of a unit in it that did not end before the first reading")


class UploadResponse(AppendResponse):
    """The write receipt and what the upload did."""

    answer: UploadReport  # type: ignore[assignment]


# The ledger's public keys, checkpoints and proofs (GET /v1/ledger/*), and health.

class PublishedKey(BaseModel):
    key_id: str
    algorithm: str = Field(description="Ed25519")
    public_key: str = Field(description="raw public key, standard base64")
    valid_from: str
    valid_until: str | None = Field(description="null: the current sealing key")


class KeyRingAnswer(BaseModel):
    keys: list[PublishedKey] = Field(description="every sealing key, oldest first")


class CheckpointAnswer(BaseModel):
    origin: str = Field(description="the log's origin line (C2SP tlog-checkpoint)")
    tree_size: int
    root: str = Field(description="the Merkle tree root, base64")
    issued_at: str
    key_id: str
    signature: str = Field(description="base64(4-byte note key hash || Ed25519 signature)")
    note: str = Field(description="the signed note, verbatim")


class InclusionProof(BaseModel):
    event_id: str
    leaf_index: int
    tree_size: int
    leaf_hash: str = Field(description="base64")
    proof: list[str] = Field(description="the audit path, base64 hashes")
    root: str = Field(description="the root of the tree of tree_size, base64")


class ConsistencyProof(BaseModel):
    first: int
    second: int
    proof: list[str] = Field(description="RFC 9162 PROOF(first, D[0:second]), base64 hashes")
    first_root: str
    second_root: str


class Alive(BaseModel):
    status: Literal["ok"]


class Ready(BaseModel):
    status: Literal["ready"]
    log_position: int = Field(description="the newest position of the global log")


class ReleaseReviewState(Open):
    signed_off: bool
    current: bool = Field(description="the latest sign-off lists the family's exceptions as they are now")
    blocking: int = Field(description="open COI-critical and GMP exceptions of the family")
    latest: dict[str, Any] | None = Field(description="the latest sign-off: event_id, at, signer, printed_name, lot")
    sign_off_list: list[dict[str, Any]] = Field(
        description="what a sign-off lists now: exception_id, event_hash, state, classification")


class ReleaseSummary(Open):
    """``GET /v1/cases/{coi}/release-summary``: a case's review and release, read from the ledger
    (see docs/API.md, "Review sign-off and release")."""

    coi: str
    role: str | None
    kind: str | None
    product: str | None
    status: str
    generated_at: str
    donor_cois: list[str] = Field(description="for an allogeneic patient: the donor cases of its doses")
    lots: list[dict[str, Any]]
    products: list[dict[str, Any]] = Field(description="final products with QC (and its signatures) and release")
    spec_results: list[dict[str, Any]]
    exceptions: list[dict[str, Any]]
    deviations: list[str]
    review: ReleaseReviewState
    signatures: list[dict[str, Any]] = Field(description="every e-signature: printed name, time, meaning, event")
    figures: dict[str, float | None] = Field(description=(
        "needle_to_needle_days, manufacturing_end_to_signoff_h, manufacturing_end_to_release_h"))


class Alert(Open):
    """An alert (``AlertRaised``, until ``AlertCleared``): a condition that needs a person now."""

    alert_id: str = Field(description="`<kind>:<subject>`: one condition, one alert")
    kind: Literal["excursion", "handover_unacknowledged", "near_expiry", "shipment_late", "slot_at_risk"]
    subject: str = Field(description="a unit label, a shipment's tracking number or an order id")
    coi: str | None = None
    sites: list[str] = Field(description="the sites it concerns: who sees it, whom it is mailed to")
    severity: Literal["info", "warning", "critical"]
    message: str
    state: Literal["open", "cleared"]
    due_at: str | None = Field(None, description="when its timer was due (timed kinds)")
    raised_at: str
    raised_position: int
    cleared_at: str | None = None
    clear_reason: str | None = None
