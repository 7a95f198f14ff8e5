"""Realistic needle-to-needle journeys, driven through the application services.

Used by ``ledger demo``, by the tests and by the benchmarks' data generator. Every value is
synthetic: the MRNs below are made up and only ever enter the ledger as pseudonyms.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from ..errors import RuleViolation
from . import Services
from .executor import Context, Outcome
from .release import release_summary

HOSPITAL, FACTORY, COURIER_HUB = "hospital-1", "factory-1", "courier-hub-1"
DEMO_PASSWORD = "demo-password-123"  # noqa: S105 - a documented demo credential

DEMO_USERS = {
    "admin": ("Ada Admin", ["admin"], []),
    "nurse": ("Nina Nurse", ["operator"], [HOSPITAL]),
    "courier": ("Carl Courier", ["courier"], [COURIER_HUB]),
    "tech": ("Tara Technician", ["operator"], [FACTORY]),
    "qa-lead": ("Dr. Lena Lead", ["qa"], [FACTORY]),  # writes specifications; `qa` approves them
    "qa": ("Dr. Quentin Assurance", ["qa"], [FACTORY]),
    "clinician": ("Dr. Clara Clinician", ["clinician"], [HOSPITAL]),
    "auditor": ("Aud Itor", ["auditor"], []),
    "integrator": ("MES Integration", ["integrator"], [FACTORY, HOSPITAL]),
    "planner": ("Pat Planner", ["program_manager"], []),  # the network's master data and every order
}


DEMO_PRODUCT = "CAR-T (example)"
DEMO_SPEC: dict[str, Any] = {
    "qc_tests": [{"test": "sterility", "expected": "negative"},
                 {"test": "viability", "min": 70, "max": 100, "uom": "%"}],
    "parameters": [{"name": "moi", "kind": "cpp", "min": 1, "max": 5},
                   {"name": "vcn", "kind": "cqa", "max": 5, "uom": "copies/cell"}],
    "shelf_lives": {"final_product_bag": 4320, "cryobag": 4320},
    "process_durations": {"activation": 24, "transduction": 24, "expansion": 168, "harvest": 48},
}
"""The demo product's specification: written by ``qa-lead``, approved by ``qa`` (four eyes)."""

# Process steps of the demo lot, each after the previous one: 9 days from start to fill.
MANUFACTURING_STAGES = (("activation", timedelta(hours=20)), ("transduction", timedelta(days=1)),
                        ("expansion", timedelta(days=5)), ("harvest", timedelta(days=2)))


@dataclass
class JourneyResult:
    coi: str
    units: dict[str, UUID] = field(default_factory=dict)
    refused: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


def seed_identities(services: Services, *, password: str = DEMO_PASSWORD) -> None:
    """Sites and one user per role, each person fit to e-sign (identity verified, trained, the
    signature policy acknowledged); idempotent: existing ones are left alone."""
    admin = Context(actor="system")
    sites = [(HOSPITAL, "St. Example Hospital", "hospital"), (FACTORY, "Example Cell Therapy Plant",
             "manufacturing"), (COURIER_HUB, "Example Courier Hub", "courier_hub")]
    for site_id, name, kind in sites:
        if services.reads().site(site_id).version == 0:
            services.identity.register_site(admin, site_id=site_id, name=name, kind=kind)
    for user_id, (name, roles, user_sites) in DEMO_USERS.items():
        if services.identity.user(user_id).version == 0:
            services.identity.create_user(admin, user_id=user_id, printed_name=name, roles=roles,
                                          sites=user_sites, password=password)
        if "integrator" not in roles:  # a service account never signs
            services.qualification.qualify(admin, user_id=user_id)


class Timeline:
    """Simulated times for a demo journey: each step happens a little after the previous one.

    The ledger's ``recorded_at`` stays the real server time; ``occurred_at`` carries these. The
    demo's contexts are system-level: steps older than ``LEDGER_BACKFILL_HOURS`` are recorded as
    backfills (reason "demo journey", a ``Backfilled`` event each)."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def at(self, actor: str, site: str | None = None, *, after: timedelta = timedelta(minutes=7)) -> Context:
        self.now += after
        return Context(actor=actor, site=site, occurred_at=_iso(self.now), may_backfill=True,
                       backfill_reason="demo journey")

    def readings(self, count: int, celsius: Callable[[int], float]) -> list[dict[str, Any]]:
        """One reading a minute from now on; the timeline moves past the last one."""
        start = self.now
        self.now += timedelta(minutes=count)
        return [{"t": _iso(start + timedelta(minutes=i)), "celsius": celsius(i)} for i in range(count)]


def run_autologous_journey(
    services: Services, *, mrn: str = "MRN-0042-7781", wrong_mrn: str = "MRN-9999-0001",
    password: str = DEMO_PASSWORD, readings: int = 60,
) -> JourneyResult:
    """Enrol, label, collect, pack, ship with logger readings (one excursion), receive,
    manufacture in stages (lot started hours after receipt, steps over 9 days, two final
    product bags labelled at fill), QC, assess, QA's review sign-off, release with e-signature, ship back, a refused
    wrong-patient infusion, then the right one. Simulated times span about three weeks, ending
    in the past (the ledger refuses an ``occurred_at`` in the future)."""
    s, ident = services, services.identity
    now = services.quality.clock()
    time = Timeline(now - timedelta(days=21))
    approve_demo_spec(services, time.now, password=password)
    coi = s.cases.enrol(time.at("nurse", HOSPITAL), kind="autologous", product=DEMO_PRODUCT,
                        treating_site=HOSPITAL, mrn=mrn, collection_site=HOSPITAL).result.answer["coi"]
    out = JourneyResult(coi)
    # fresh apheresis material keeps 72 h from collection (3 h after labelling, below)
    fresh = {"min_celsius": 2, "max_celsius": 8, "expiry": _iso(time.now + timedelta(hours=75))}
    bag = _unit(s.units.label(time.at("nurse", HOSPITAL), coi=coi, kind="apheresis_bag", spec=fresh,
                              volume_ml=250))
    shipper = _unit(s.units.label(time.at("nurse", HOSPITAL), coi=coi, kind="shipper"))
    out.units.update(apheresis_bag=bag, shipper=shipper)
    s.units.collect(time.at("nurse", HOSPITAL, after=timedelta(hours=3)), unit_id=bag, wristband_mrn=mrn,
                    material="leukapheresis", collection_site=HOSPITAL)
    _ship(s, time, bag, shipper, ("nurse", HOSPITAL), ("tech", FACTORY), tracking="TRK-OUT-1",
          celsius=lambda i: 9.5 if 20 <= i < 25 else 4.0, minutes=readings)
    tech = ("tech", FACTORY)
    started = s.quality.start_manufacturing(time.at(*tech, after=timedelta(hours=4)), coi=coi, lot="LOT-1",
                                            inputs=[bag], process="transduction-expansion")
    out.units["lot"] = UUID(started.result.answer["lot_id"])
    began = time.now
    for stage, after in MANUFACTURING_STAGES:
        s.quality.record_step(time.at(*tech, after=after), coi=coi, lot="LOT-1", stage=stage)
        if stage == "transduction":  # a CPP and a CQA, judged against the specification pinned to the lot
            s.products.record_parameter(time.at(*tech), coi=coi, lot="LOT-1", parameter="moi", value=3)
    s.products.record_parameter(time.at(*tech), coi=coi, lot="LOT-1", parameter="vcn", value=2.4)
    filled = s.quality.fill(time.at(*tech, after=timedelta(hours=4)), coi=coi, lot="LOT-1",
                            outputs=[{"kind": "final_product_bag", "spec": {
                                "min_celsius": -196, "max_celsius": -150, "qc_required": ["sterility"],
                                "expiry": _iso(now + timedelta(days=180))}, "product": "CAR-T dose"}
                                for _ in range(2)])
    product, spare = (UUID(o["unit_id"]) for o in filled.result.answer["outputs"])
    out.extra.update(lot="LOT-1", manufacturing_days=round((time.now - began) / timedelta(days=1), 1))
    out.units.update(final_product=product, spare_product=spare)
    s.quality.record_qc(time.at(*tech, after=timedelta(days=5)), unit_id=product, test="sterility",
                        result="pass", value="negative")
    s.quality.record_qc(time.at(*tech), unit_id=product, test="viability", result="pass", value=92, uom="%")
    excursion = s.units.state(bag).excursions[0].id
    s.quality.assess_excursion(time.at("qa", FACTORY), unit_id=bag, excursion_id=excursion, decision="use",
                               rationale="5 minutes at 9.5 °C before processing: within validated limits",
                               signoff=ident.signoff(user_id="qa", password=password, meaning="assessed"))
    sign_off_review(s, time.at("qa", FACTORY), coi, password=password, lot="LOT-1",
                    comment="excursion assessed, QC within specification")
    s.quality.release(time.at("qa", FACTORY), unit_id=product, notes="meets specification",
                      signoff=ident.signoff(user_id="qa", password=password, meaning="released"))
    shipper_back = _unit(s.units.label(time.at(*tech), coi=coi, kind="shipper"))
    out.units["return_shipper"] = shipper_back
    _ship(s, time, product, shipper_back, tech, ("clinician", HOSPITAL), tracking="TRK-BACK-1",
          celsius=lambda i: -180.0, minutes=30)
    infuse = {"unit_id": product, "coi": coi, "bag_coi": coi}
    try:
        s.quality.infuse(time.at("clinician", HOSPITAL, after=timedelta(hours=2)), wristband_mrn=wrong_mrn,
                         signoff=ident.signoff(user_id="clinician", password=password, meaning="administered"),
                         **infuse)
    except RuleViolation as refused:
        out.refused.append(refused.code)
    s.quality.infuse(time.at("clinician", HOSPITAL), wristband_mrn=mrn,
                     signoff=ident.signoff(user_id="clinician", password=password, meaning="administered"),
                     **infuse)
    out.extra["excursion_id"] = str(excursion)
    out.extra["ended_at"] = _iso(time.now)
    return out


def sign_off_review(services: Services, ctx: Context, coi: str, *, user: str = "qa",
                    password: str = DEMO_PASSWORD, lot: str | None = None,
                    comment: str | None = None) -> Outcome:
    """QA's review sign-off of ``coi``, e-signed ``reviewed``: the case family's exceptions exactly
    as the release summary lists them to QA (``review.sign_off_list``). Refused like any sign-off
    (``REVIEW_INCOMPLETE`` while a COI-critical or GMP exception is open)."""
    summary = release_summary(services.reads(), coi, now=services.quality.clock(),
                              case_units=services.executor.case_units, lot=lot)
    listed = summary["review"]["sign_off_list"] if summary else []
    return services.quality.sign_off_review(
        ctx, coi=coi, exceptions=listed, lot=lot, comment=comment,
        signoff=services.identity.signoff(user_id=user, password=password, meaning="reviewed"))

def approve_demo_spec(services: Services, at: datetime, *, password: str = DEMO_PASSWORD) -> None:
    """The demo product's specification in force: defined by ``qa-lead`` and approved by ``qa``
    an hour before ``at``, unless a version is in force already (``ledger demo`` run again)."""
    if services.products.state(DEMO_PRODUCT).in_force is not None:
        return
    version = services.products.state(DEMO_PRODUCT).latest + 1
    when = [_iso(at - timedelta(minutes=m)) for m in (90, 60)]
    services.products.define_spec(Context(actor="qa-lead", site=FACTORY, occurred_at=when[0], may_backfill=True,
                                          backfill_reason="demo journey"),
                                  product=DEMO_PRODUCT, version=version, **DEMO_SPEC)
    services.products.approve_spec(Context(actor="qa", site=FACTORY, occurred_at=when[1], may_backfill=True,
                                           backfill_reason="demo journey"), product=DEMO_PRODUCT, version=version,
                                   signoff=services.identity.signoff(user_id="qa", password=password,
                                                                     meaning="approved"))


def _ship(s: Services, time: Timeline, unit: UUID, shipper: UUID, sender: tuple[str, str],
          receiver: tuple[str, str], *, tracking: str, celsius: Callable[[int], float], minutes: int) -> None:
    (_, from_site), (receiver_id, to_site) = sender, receiver
    s.units.pack(time.at(*sender), unit_id=unit, container_id=shipper)
    s.units.handover(time.at(*sender), unit_id=shipper, to_party="courier", location=from_site)
    s.units.acknowledge(time.at("courier"), unit_id=shipper, location=from_site, condition="sealed, intact")
    s.units.dispatch(time.at("courier"), unit_id=shipper, carrier="Example Express", tracking=tracking,
                     from_site=from_site, to_site=to_site)
    upload = time.at("logger-1", after=timedelta(minutes=1))
    s.quality.record_temperatures(upload, unit_id=shipper, logger="LOG-1",
                                  readings=time.readings(minutes, celsius))
    s.units.deliver(time.at("courier"), unit_id=shipper, tracking=tracking, to_site=to_site, condition="intact")
    s.units.handover(time.at("courier"), unit_id=shipper, to_party=receiver_id, location=to_site)
    s.units.acknowledge(time.at(*receiver), unit_id=shipper, location=to_site, condition="seal intact")
    s.units.unpack(time.at(*receiver), unit_id=unit, container_id=shipper)


def run_allogeneic_journey(services: Services, *, password: str = DEMO_PASSWORD,
                           patients: tuple[str, ...] = ("MRN-A-1001", "MRN-A-1002")) -> JourneyResult:
    """One donor, collection split into doses, each allocated to and infused into a patient."""
    s, ident = services, services.identity
    now = s.quality.clock()
    time = Timeline(now - timedelta(days=30))
    nurse, tech = ("nurse", HOSPITAL), ("tech", FACTORY)
    donor_coi = s.cases.register_donor(time.at(*nurse), product="allogeneic CAR-T (example)",
                                       collection_site=HOSPITAL, donor_id="DONOR-77").result.answer["coi"]
    out = JourneyResult(donor_coi)
    bag = _unit(s.units.label(time.at(*nurse), coi=donor_coi, kind="apheresis_bag",
                              spec={"min_celsius": 2, "max_celsius": 8}))
    s.units.collect(time.at(*nurse), unit_id=bag, wristband_mrn="DONOR-77", material="leukapheresis",
                    collection_site=HOSPITAL)
    s.units.handover(time.at(*nurse), unit_id=bag, to_party="tech", location=HOSPITAL)
    s.units.acknowledge(time.at(*tech), unit_id=bag, location=FACTORY)
    doses = s.quality.derive(time.at(*tech, after=timedelta(days=7)), coi=donor_coi, inputs=[bag],
                             process="allogeneic expansion", batch="ALLO-1",
                             outputs=[{"kind": "final_product_bag", "spec": {
                                 "qc_required": ["sterility"], "expiry": _iso(now + timedelta(days=365))}}
                                 for _ in patients])
    units = [UUID(dose["unit_id"]) for dose in doses.result.answer["outputs"]]
    for unit in units:  # the lot is reviewed and released before any dose is given
        s.quality.record_qc(time.at(*tech), unit_id=unit, test="sterility", result="pass")
    sign_off_review(s, time.at("qa", FACTORY), donor_coi, password=password)
    for unit in units:
        s.quality.release(time.at("qa", FACTORY), unit_id=unit, notes="lot release",
                          signoff=ident.signoff(user_id="qa", password=password, meaning="released"))
    for index, (unit, mrn) in enumerate(zip(units, patients, strict=True)):
        out.units[f"dose_{index + 1}"] = unit
        patient = s.cases.enrol(time.at(*nurse), kind="allogeneic", product="allogeneic CAR-T (example)",
                                treating_site=HOSPITAL, mrn=mrn).result.answer["coi"]
        out.extra.setdefault("patients", []).append(patient)
        s.cases.allocate(time.at(*tech), patient_coi=patient, donor_coi=donor_coi, unit_id=unit)
        s.units.handover(time.at(*tech), unit_id=unit, to_party="clinician", location=FACTORY)
        s.units.acknowledge(time.at("clinician", HOSPITAL), unit_id=unit, location=HOSPITAL)
        s.quality.infuse(time.at("clinician", HOSPITAL), unit_id=unit, coi=patient, wristband_mrn=mrn,
                         bag_coi=donor_coi,
                         signoff=ident.signoff(user_id="clinician", password=password, meaning="administered"))
    return out


def run_review_journey(services: Services, *, mrn: str = "MRN-0042-7790", wrong_mrn: str = "MRN-9999-0002",
                       password: str = DEMO_PASSWORD) -> JourneyResult:
    """An autologous case left for QA's review by exception, with three exceptions to work through
    in the portal (``/portal/review``): a refused collection (the wristband scanned was another
    patient's: COI-critical), a temperature excursion of the final product in storage (GMP), and
    a scan of the product with the wrong purpose (informational). Manufactured and QC-tested; not
    signed off, not released. Simulated times span about two weeks, ending in the past."""
    s = services
    now = s.quality.clock()
    time = Timeline(now - timedelta(days=14))
    nurse, tech = ("nurse", HOSPITAL), ("tech", FACTORY)
    approve_demo_spec(services, time.now, password=password)
    coi = s.cases.enrol(time.at(*nurse), kind="autologous", product=DEMO_PRODUCT, treating_site=HOSPITAL,
                        mrn=mrn, collection_site=HOSPITAL).result.answer["coi"]
    out = JourneyResult(coi)
    fresh = {"min_celsius": 2, "max_celsius": 8, "expiry": _iso(time.now + timedelta(hours=75))}
    bag = _unit(s.units.label(time.at(*nurse), coi=coi, kind="apheresis_bag", spec=fresh, volume_ml=250))
    shipper = _unit(s.units.label(time.at(*nurse), coi=coi, kind="shipper"))
    out.units.update(apheresis_bag=bag, shipper=shipper)
    try:  # the wristband of the patient in the next chair: refused, recorded (COI-critical)
        s.units.collect(time.at(*nurse, after=timedelta(hours=3)), unit_id=bag, wristband_mrn=wrong_mrn,
                        material="leukapheresis", collection_site=HOSPITAL)
    except RuleViolation as refused:
        out.refused.append(refused.code)
    s.units.collect(time.at(*nurse), unit_id=bag, wristband_mrn=mrn, material="leukapheresis",
                    collection_site=HOSPITAL)
    _ship(s, time, bag, shipper, nurse, tech, tracking="TRK-REVIEW-1", celsius=lambda i: 4.0, minutes=30)
    s.quality.start_manufacturing(time.at(*tech, after=timedelta(hours=4)), coi=coi, lot="LOT-R1", inputs=[bag],
                                  process="transduction-expansion")
    for stage, after in MANUFACTURING_STAGES:
        s.quality.record_step(time.at(*tech, after=after), coi=coi, lot="LOT-R1", stage=stage)
        if stage == "transduction":
            s.products.record_parameter(time.at(*tech), coi=coi, lot="LOT-R1", parameter="moi", value=2.5)
    s.products.record_parameter(time.at(*tech), coi=coi, lot="LOT-R1", parameter="vcn", value=1.9)
    filled = s.quality.fill(time.at(*tech, after=timedelta(hours=4)), coi=coi, lot="LOT-R1", outputs=[{
        "kind": "final_product_bag", "product": "CAR-T dose", "spec": {
            "min_celsius": -196, "max_celsius": -150, "qc_required": ["sterility"],
            "expiry": _iso(now + timedelta(days=180))}}])
    product = UUID(filled.result.answer["outputs"][0]["unit_id"])
    label = filled.result.answer["outputs"][0]["label"]
    out.units.update(final_product=product)
    # storage: the dewar's logger shows 12 minutes above -150 °C (GMP: to assess)
    s.quality.record_temperatures(time.at("logger-1", FACTORY, after=timedelta(hours=2)), unit_id=product,
                                  logger="LOG-DEWAR-2",
                                  readings=time.readings(60, lambda i: -141.0 if 20 <= i < 32 else -185.0))
    s.quality.record_qc(time.at(*tech, after=timedelta(days=2)), unit_id=product, test="sterility", result="pass",
                        value="negative")
    s.quality.record_qc(time.at(*tech), unit_id=product, test="viability", result="pass", value=88, uom="%")
    # the product scanned at the factory with the infusion purpose (informational)
    s.units.scan(time.at(*tech), unit_id=product, raw=f"unit:{label}", purpose="infusion", kind="ledger")
    out.extra.update(lot="LOT-R1", label=label)
    return out


def _unit(outcome) -> UUID:
    return UUID(outcome.result.answer["unit_id"])


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
