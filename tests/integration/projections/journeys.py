"""Needle-to-needle journeys appended through the real Ledger (hashing, sealing, e-signatures).

Decisions come from the pure domain (``decide_*``); their events are appended with the
versions of the states decided on, as the application service does.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from ledger.domain.base import NewEvent, RecordedRefusal
from ledger.domain.case import (
    CaseState,
    decide_allocate,
    decide_enrol,
    decide_register_donor,
    fold_case,
)
from ledger.domain.conditions import decide_assess_excursion, decide_record_temperatures
from ledger.domain.corrections import decide_correct
from ledger.domain.credentials import FAST_TEST_PARAMS, new_signing_key, unwrap_signing_key
from ledger.domain.custody import (
    decide_acknowledge,
    decide_deliver,
    decide_dispatch,
    decide_handover,
    decide_pack,
    decide_unpack,
)
from ledger.domain.esign import REQUIRED_MEANING, Manifestation, sign_record
from ledger.domain.exceptions import fold_exceptions
from ledger.domain.identifiers import issue_unit_label, patient_pseudonym
from ledger.domain.infusion import decide_infuse
from ledger.domain.labelling import decide_collect, decide_label_unit, decide_scan
from ledger.domain.manufacturing import (
    DerivedOutput,
    decide_derive,
    decide_record_qc,
    decide_release,
)
from ledger.domain.release import ReleaseReview, decide_sign_off, in_log_order, latest_signoff, listing
from ledger.domain.review import decide_disposition
from ledger.domain.unit import UnitState, fold_unit
from ledger.domain.users import (
    UserState,
    authenticate,
    decide_create_user,
    decide_issue_signing_key,
    decide_set_password,
    fold_user,
)
from ledger.errors import RuleViolation
from ledger.store.application import Draft, EsignIntent, Ledger
from ledger.streams import user_stream

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
SECRET = b"treating-site-secret-0001"
PASSWORD = "correct horse battery staple"
FRESH = {"min_celsius": 2, "max_celsius": 8}
FROZEN = {"min_celsius": -196, "max_celsius": -150, "qc_required": ["sterility", "viability"]}


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Journey:
    """Decide with folded states, append through the Ledger, remember signers' keys."""

    ledger: Ledger
    clock: Clock
    rng: random.Random = field(default_factory=lambda: random.Random(7))
    keys: dict[str, Any] = field(default_factory=dict)

    def new_id(self) -> UUID:
        """Ids from the seeded generator: the same journey gives the same ids on every run."""
        return UUID(int=self.rng.getrandbits(128), version=4)

    @property
    def now(self) -> datetime:
        return self.clock.now

    def tick(self, **delta: float) -> datetime:
        self.clock.now += timedelta(**delta)
        return self.clock.now

    def envelopes(self, stream: UUID) -> list[dict[str, Any]]:
        return [e.envelope for e in self.ledger.read_stream(stream)]

    def case(self, stream: UUID) -> CaseState:
        return fold_case(self.envelopes(stream))

    def unit(self, stream: UUID) -> UnitState:
        return fold_unit(self.envelopes(stream))

    def user(self, user_id: str) -> UserState:
        return fold_user(self.envelopes(user_stream(user_id)))

    def append(self, events: list[NewEvent], actor: str, esign: Manifestation | None = None
               ) -> list[int]:
        heads: dict[UUID, int] = {}
        drafts = []
        for e in events:
            if e.stream not in heads:
                heads[e.stream] = self.ledger.head(e.stream)[0]
            intent = None
            if esign is not None and e.type in REQUIRED_MEANING:
                key = self.keys[esign.signer]
                intent = EsignIntent(esign.signer, esign.printed_name, esign.meaning,
                                     esign.key_id, lambda digest, k=key: sign_record(k, digest))
            drafts.append(Draft(type=e.type, stream=e.stream, data=e.data, actor=actor,
                                expected_seq=heads[e.stream], esign=intent))
        return [r.position for r in self.ledger.append(drafts).receipts]

    def run(self, decide: Callable[..., list[NewEvent]], *args: Any, actor: str = "system",
            **kwargs: Any) -> list[int]:
        try:
            events = decide(*args, actor=actor, now=self.now, **kwargs)
        except RecordedRefusal as refusal:
            self.append(refusal.events, actor)
            raise
        return self.append(events, actor, kwargs.get("esign"))

    def refused(self, decide: Callable[..., list[NewEvent]], *args: Any, **kwargs: Any) -> str:
        try:
            self.run(decide, *args, **kwargs)
        except RuleViolation as err:
            return err.code
        raise AssertionError("the step was not refused")

    def add_user(self, user_id: str, name: str, roles: list[str]) -> None:
        self.run(decide_create_user, self.user(user_id), user_id=user_id, printed_name=name,
                 roles=roles, actor="admin")
        self.run(decide_set_password, self.user(user_id), expires_at=T0 + timedelta(days=90),
                 actor="admin")
        wrapped, public, key_id = new_signing_key(PASSWORD, params=FAST_TEST_PARAMS)
        self.keys[user_id] = unwrap_signing_key(wrapped, PASSWORD)
        self.run(decide_issue_signing_key, self.user(user_id), key_id=key_id, public_key=public,
                 actor=user_id)

    def sign(self, user_id: str, meaning: str) -> dict[str, Any]:
        user = self.user(user_id)
        key = [k for k in user.keys if k.active][-1]
        return {"esign": Manifestation(user_id, user.printed_name or "", meaning, self.now,
                                       key.key_id), "signer": user, "actor": user_id}

    def signed_review(self, unit_id: UUID, signer: str = "qa.quinn", dispositions: str = "") -> ReleaseReview:
        """QA signs off the review of ``unit_id``'s family (its sealed events, with their hashes), and
        the review the release gate then judges; first QA dispositions the open exceptions of the
        kinds in ``dispositions`` (comma-separated) as ``no_impact``."""
        unit = self.unit(unit_id)
        assert unit.case is not None
        streams, todo = [unit.case], [unit_id]
        while todo:
            stream = todo.pop()
            if stream not in streams:
                streams.append(stream)
                todo.extend(self.unit(stream).parents)

        def found() -> dict[str, Any]:
            return fold_exceptions(in_log_order([(r.envelope, r.hash) for r in self.ledger.read_stream(s)]
                                                for s in streams), self.now)

        for e in found().values():
            if e.state == "open" and e.kind in dispositions.split(","):
                self.run(decide_disposition, found(), unit.case, exception_id=e.exception_id,
                         event_hash=e.opened_hash, classification="no_impact", comment="reviewed: no impact",
                         deviation_id=None, deviation=None, **self.sign(signer, "reviewed"))
        exceptions = found()
        self.run(decide_sign_off, self.case(unit.case), exceptions, listing(exceptions),
                 **self.sign(signer, "reviewed"))
        return ReleaseReview(found(), latest_signoff(self.envelopes(unit.case)))

    def enrol(self, kind: str, mrn: str) -> UUID:
        case_id = self.new_id()
        self.run(decide_enrol, CaseState(), case_id=case_id, kind=kind, product="cel-T 1",
                 treating_site="HOSP-1", site_secret=SECRET, mrn=mrn, rng=self.rng,
                 actor="coordinator")
        return case_id

    def label(self, case_id: UUID, kind: str, *, actor: str = "nurse",
              parents: tuple[UUID, ...] = (), **kwargs: Any) -> UUID:
        unit_id = self.new_id()
        self.run(decide_label_unit, self.case(case_id), unit_id=unit_id, kind=kind,
                 label=issue_unit_label(self.rng), parents=[self.unit(p) for p in parents],
                 actor=actor, **kwargs)
        return unit_id

    def staff(self) -> None:
        self.add_user("qa.quinn", "Quinn Adams", ["qa"])
        self.add_user("dr.chen", "Dr. Li Chen", ["clinician"])

    def failed_logins(self, user_id: str, times: int) -> None:
        for _ in range(times):
            with contextlib.suppress(RuleViolation):
                self.run(lambda **kw: authenticate(self.user(user_id), False, kw["now"]),
                         actor=user_id)


def readings(start: datetime, temps: list[float], step: timedelta = timedelta(minutes=10)
             ) -> list[dict[str, Any]]:
    return [{"t": start + i * step, "celsius": c} for i, c in enumerate(temps)]


def autologous(j: Journey, mrn: str = "MRN-77001234") -> dict[str, Any]:
    """Enrol, collect, ship in a shipper with an excursion, manufacture two doses, QC, assess,
    release, a refused wrong-patient infusion, infuse; plus a correction and a mismatch scan."""
    case = j.enrol("autologous", mrn)
    coi = j.case(case).coi
    bag = j.label(case, "apheresis_bag", spec={**FRESH, "expiry": j.now + timedelta(days=3)},
                  identifiers={"isbt_din": "A999917123456"})
    shipper = j.label(case, "shipper", identifiers={"sscc": "106141411234567897"})
    (collected,) = j.run(decide_collect, j.case(case), j.unit(bag),
                         patient_ref=patient_pseudonym(SECRET, mrn), material="leukapheresis",
                         collection_site="HOSP-1", volume_ml=212.5, actor="nurse")
    collected_id = j.envelopes(bag)[-1]["event_id"]
    j.run(decide_scan, j.unit(bag), purpose="pack", case=j.case(case),
          actor="nurse")
    j.run(decide_scan, j.unit(bag), purpose="handover", expected_unit=shipper,
          actor="nurse")  # the wrong bag in hand: a mismatch for review
    j.tick(minutes=30)
    packed_at = j.now
    j.run(decide_pack, j.unit(bag), j.unit(shipper), actor="nurse")
    j.run(decide_handover, j.unit(shipper), "courier.kim", contents=[j.unit(bag)],
          location="HOSP-1", condition="sealed, logger running", actor="nurse")
    j.tick(minutes=5)
    j.run(decide_acknowledge, j.unit(shipper), contents=[j.unit(bag)], actor="courier.kim")
    j.run(decide_dispatch, j.unit(shipper), carrier="ColdChain", tracking="CC123",
          from_site="HOSP-1", to_site="MFG-1", contents=[j.unit(bag)], actor="courier.kim")
    j.tick(hours=2)
    temps = [5.0, 5.5, 6.0, 9.25, 9.5, 8.75, 6.0, 5.0]
    j.run(decide_record_temperatures, j.unit(shipper), logger="LOG-7",
          readings=readings(packed_at + timedelta(minutes=5), temps), contents=[j.unit(bag)],
          actor="courier.kim")
    (excursion,) = j.unit(bag).excursions
    j.run(decide_deliver, j.unit(shipper), tracking="CC123", contents=[j.unit(bag)],
          actor="courier.kim")
    j.run(decide_handover, j.unit(shipper), "mfg.op", contents=[j.unit(bag)], actor="courier.kim")
    j.tick(hours=3)  # a late acknowledgement: a handover gap
    j.run(decide_acknowledge, j.unit(shipper), contents=[j.unit(bag)], actor="mfg.op")
    j.run(decide_unpack, j.unit(bag), j.unit(shipper), actor="mfg.op")
    j.tick(minutes=10)
    j.run(decide_record_temperatures, j.unit(bag), logger="BAG-1",
          readings=readings(j.now - timedelta(minutes=5), [4.0, 4.5]), actor="mfg.op")
    doses = [j.new_id(), j.new_id()]
    j.run(decide_derive, j.case(case), [j.unit(bag)],
          [DerivedOutput(d, "final_product_bag", issue_unit_label(j.rng),
                         spec={**FROZEN, "expiry": j.now + timedelta(days=300)}) for d in doses],
          process="CAR-T manufacturing", batch="B-0042", actor="mfg.op")
    final = doses[0]
    j.run(decide_record_qc, j.unit(final), test="sterility", result="pass", actor="lab")
    j.run(decide_record_qc, j.unit(final), test="viability", result="pass", value=92.5,
          uom="percent", actor="lab")
    qa = j.sign("qa.quinn", "assessed")
    j.run(decide_assess_excursion, j.unit(bag), excursion.id, "use",
          "30 min at max 9.5 °C is within the stability data", **qa)
    j.run(decide_release, j.unit(final), case=j.case(case), ancestors=[j.unit(bag)],
          review=j.signed_review(final, dispositions="scan_mismatch"), **j.sign("qa.quinn", "released"))
    wrong = j.refused(decide_infuse, j.case(case), j.unit(final),
                      wristband_patient_ref=patient_pseudonym(SECRET, "MRN-99990000"),
                      bag_coi=coi, **j.sign("dr.chen", "administered"))
    j.run(decide_infuse, j.case(case), j.unit(final),
          wristband_patient_ref=patient_pseudonym(SECRET, mrn), bag_coi=coi,
          **j.sign("dr.chen", "administered"))
    j.run(decide_correct, j.envelopes(bag), collected_id, "volume misread from the scale",
          {"volume_ml": 215.0}, roles=("operator",), actor="nurse")
    return {"case": case, "coi": coi, "bag": bag, "shipper": shipper, "doses": doses,
            "final": final, "excursion": excursion.id, "collected_event": collected_id,
            "refused": wrong, "collected_position": collected}


def allogeneic(j: Journey) -> dict[str, Any]:
    """One donor, two collections pooled, split into three doses for three patients."""
    donor = j.new_id()
    j.run(decide_register_donor, j.case(donor), case_id=donor, product="allo-T",
          collection_site="DONOR-CTR", site_secret=SECRET, donor_id="DONOR-0815",
          din="A999917123456", rng=j.rng, actor="coordinator")
    donor_ref = patient_pseudonym(SECRET, "DONOR-0815")
    bags = []
    for _ in range(2):
        bag = j.label(donor, "apheresis_bag", spec=FRESH, actor="mfg.op")
        j.run(decide_collect, j.case(donor), j.unit(bag), patient_ref=donor_ref,
              material="leukapheresis", collection_site="DONOR-CTR", actor="nurse")
        bags.append(bag)
    pool = j.new_id()
    j.run(decide_derive, j.case(donor), [j.unit(b) for b in bags],
          [DerivedOutput(pool, "cryobag", issue_unit_label(j.rng),
                         identifiers={"epc": "urn:epc:id:sgtin:0614141.812345.6789"})],
          process="pool", actor="mfg.op")
    doses = [j.new_id() for _ in range(3)]
    j.run(decide_derive, j.case(donor), [j.unit(pool)],
          [DerivedOutput(d, "final_product_bag", issue_unit_label(j.rng), spec=FROZEN)
           for d in doses], process="split", actor="mfg.op")
    for test in ("sterility", "viability"):
        j.run(decide_record_qc, j.unit(pool), test=test, result="pass", actor="lab")
    ancestors = [j.unit(u) for u in (pool, *bags)]
    for dose in doses:
        j.run(decide_release, j.unit(dose), case=j.case(donor), ancestors=ancestors,
              review=j.signed_review(dose), **j.sign("qa.quinn", "released"))
    mrns = ["MRN-A1", "MRN-B2", "MRN-C3"]
    patients = [j.enrol("allogeneic", m) for m in mrns]
    for patient, dose in zip(patients, doses, strict=True):
        j.run(decide_allocate, j.case(patient), j.case(donor), j.unit(dose), actor="pharmacist")
    donor_coi = j.case(donor).coi
    refused = j.refused(decide_infuse, j.case(patients[0]), j.unit(doses[1]),
                        wristband_patient_ref=patient_pseudonym(SECRET, mrns[0]),
                        bag_coi=donor_coi, **j.sign("dr.chen", "administered"))
    for patient, dose, mrn in zip(patients, doses, mrns, strict=True):
        j.run(decide_infuse, j.case(patient), j.unit(dose),
              wristband_patient_ref=patient_pseudonym(SECRET, mrn), bag_coi=donor_coi,
              **j.sign("dr.chen", "administered"))
    return {"donor": donor, "donor_coi": donor_coi, "bags": bags, "pool": pool, "doses": doses,
            "patients": patients, "patient_cois": [j.case(p).coi for p in patients],
            "refused": refused}
