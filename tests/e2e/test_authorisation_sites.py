"""Every event type the API records x site: a site-bound user of a role that may record it,
acting on a target at its own site (allowed: not 403) and a user of the same role at another
site acting on that same target (403 ``SITE_FORBIDDEN``, nothing appended).

test_authorisation_matrix.py covers route x role with unrestricted users; this covers site. The
expectations are written out by hand, as the specification: the own site's user, the other
site's user and the request for each type. Manufacturing happens at a factory, so its steps are
tried by an operator of factory-1 (where the bag was taken) and one of factory-2.

A review of the whole audit trail (``AuditLogReviewed``) concerns every site, so it has no own
site: it is allowed to a QA bound to no site and refused to a site-bound QA (``GLOBAL_ONLY``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from api.policy import EVENT_ROLES
from ledger.domain.events_ledger import LEDGER_EVENTS
from ledger.services.executor import Context
from ledger.services.journeys import DEMO_PASSWORD
from scanners.own import ldg1_payload

MRN = "MRN-SITE-1"
H1, H2, F1, F2 = "hospital-1", "hospital-2", "factory-1", "factory-2"
PRODUCT = "p-site"
USERS = {  # user: (role, site)
    "operator-h1": ("operator", H1), "operator-h2": ("operator", H2),
    "clinician-h1": ("clinician", H1), "clinician-h2": ("clinician", H2),
    "qa-h1": ("qa", H1), "qa-h2": ("qa", H2),
    "operator-f1": ("operator", F1), "operator-f2": ("operator", F2),
    "qa-global": ("qa", None),
    "pm-h1": ("program_manager", H1), "pm-h2": ("program_manager", H2),
    "pm-h1-f1": ("program_manager", (H1, F1)), "pm-h2-f2": ("program_manager", (H2, F2)),  # a lane's two ends
}
HOSPITAL_OPERATORS = ("operator-h1", "operator-h2")
HOSPITAL_QA = ("qa-h1", "qa-h2")
CLINICIANS = ("clinician-h1", "clinician-h2")
FACTORY_OPERATORS = ("operator-f1", "operator-f2")
GLOBAL_ONLY = ("qa-global", "qa-h1")  # (bound to no site, bound to a site)
PROGRAM_MANAGERS = ("pm-h1", "pm-h2")
LANE_MANAGERS = ("pm-h1-f1", "pm-h2-f2")
ORDER = "ORD-SITE-1"

# event type: (own site's user, other site's user)
WHO = {
    "CaseEnrolled": HOSPITAL_OPERATORS,
    "DonorRegistered": HOSPITAL_OPERATORS,
    "CaseOnHold": HOSPITAL_OPERATORS,
    "CaseResumed": HOSPITAL_OPERATORS,
    "ProductAllocated": HOSPITAL_OPERATORS,
    "EventCorrected": HOSPITAL_OPERATORS,
    "CorrectionRejected": HOSPITAL_QA,  # first: it ends the pending correction for good (then 409)
    "CorrectionApproved": HOSPITAL_QA,
    "AuditTrailReviewed": HOSPITAL_QA,
    "ReviewSignedOff": HOSPITAL_QA,
    "AuditLogReviewed": GLOBAL_ONLY,
    "UnitLabelled": HOSPITAL_OPERATORS,
    "MaterialCollected": HOSPITAL_OPERATORS,
    "UnitScanned": HOSPITAL_OPERATORS,
    "CustodyTransferred": HOSPITAL_OPERATORS,
    "CustodyAcknowledged": HOSPITAL_OPERATORS,
    "CustodyDeclined": HOSPITAL_OPERATORS,
    "PackedInto": HOSPITAL_OPERATORS,
    "UnpackedFrom": HOSPITAL_OPERATORS,
    "ShipmentDispatched": HOSPITAL_OPERATORS,
    "ShipmentDelivered": HOSPITAL_OPERATORS,
    "TemperatureRecorded": HOSPITAL_OPERATORS,
    "ExcursionAssessed": HOSPITAL_QA,
    "ManufacturingStarted": FACTORY_OPERATORS,
    "ManufacturingStepRecorded": FACTORY_OPERATORS,
    "ProductFilled": FACTORY_OPERATORS,
    "UnitsDerived": FACTORY_OPERATORS,
    "QCResultRecorded": HOSPITAL_OPERATORS,
    "ProductReleased": HOSPITAL_QA,
    "ProductInfused": CLINICIANS,
    "StepWitnessed": HOSPITAL_OPERATORS,  # names a step due no witness: 404 at its own site, 403 elsewhere
    "UnitQuarantined": HOSPITAL_QA,
    "UnitReleasedFromQuarantine": HOSPITAL_QA,
    "UnitDisposed": HOSPITAL_QA,
    "ExceptionDispositioned": HOSPITAL_QA,
    "InformationalAcknowledged": HOSPITAL_QA,  # names a GMP exception: 409 at its own site, 403 elsewhere
    "DeviationOpened": HOSPITAL_QA,  # the deviation's scope is its case's
    "DeviationClosed": HOSPITAL_QA,
    "ProductSpecDefined": HOSPITAL_QA,  # a product's specification stream involves its authors' sites
    "ProductSpecApproved": HOSPITAL_QA,  # the author approving: 409 SELF_APPROVAL at its own site
    "ProcessParameterRecorded": FACTORY_OPERATORS,
    # orchestration: hospital-1's planning profile first (an order needs it), then the order and its plan
    "SiteProfileSet": PROGRAM_MANAGERS,
    "CapacityDeclared": PROGRAM_MANAGERS,
    "LaneDefined": LANE_MANAGERS,  # hospital-1 to factory-1: both ends its own (factory-1's profile: the fixture)
    "TherapyOrdered": CLINICIANS,
    "OrderPlanBooked": CLINICIANS,  # a plan that does not fit: 422 at its own site, 403 elsewhere
    "SlotBooked": CLINICIANS,  # taken by booking a plan only
    "OrderPlanReleased": CLINICIANS,
    "SlotReleased": CLINICIANS,  # given back by releasing a plan only
    "OrderCancelled": CLINICIANS,
    "CaseCancelled": CLINICIANS,  # last: a cancelled case refuses the rest
}


def requests(w: dict) -> dict[str, tuple[str, dict]]:
    """Each type's request, aimed at hospital-1's case ``w["coi"]`` and its units: (path, body);
    a body's ``esign`` user is filled in per caller."""
    coi, bag, fresh, shipper, taken = w["coi"], w["bag"], w["fresh"], w["shipper"], w["factory_bag"]
    past = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    event = "/v1/events"
    return {
        "CaseEnrolled": (event, {"data": {"kind": "autologous", "product": "p", "treating_site": H1, "mrn": "MRN-N"}}),
        "DonorRegistered": (event, {"data": {"product": "p", "collection_site": H1, "donor_id": "D-9"}}),
        "CaseOnHold": (event, {"coi": coi, "data": {"reason": "r"}}),
        "CaseResumed": (event, {"coi": coi, "data": {"reason": "r"}}),
        "CaseCancelled": (event, {"coi": coi, "data": {"reason": "r"}}),
        "ProductAllocated": (event, {"coi": coi, "data": {"donor_coi": coi, "unit_id": bag}}),
        "EventCorrected": (event, {"stream": bag, "data": {"event_id": w["qc_event"], "reason": "typo",
                                                           "changes": {"value": 1.25}}}),
        "CorrectionRejected": (event, {"stream": bag, "data": {"correction_event_id": w["pending"],
                                                               "reason": "no evidence"}, "esign": "reviewed"}),
        "CorrectionApproved": (event, {"stream": bag, "data": {"correction_event_id": w["pending"]},
                                       "esign": "approved"}),
        "AuditTrailReviewed": (event, {"coi": coi, "data": {"through_position": w["position"]},
                                       "esign": "reviewed"}),
        "ReviewSignedOff": (event, {"coi": coi, "data": {"exceptions": []}, "esign": "reviewed"}),
        "AuditLogReviewed": (event, {"data": {"from_position": 1, "through_position": w["position"]},
                                     "esign": "reviewed"}),
        "UnitLabelled": (event, {"coi": coi, "data": {"kind": "sample"}}),
        "MaterialCollected": (event, {"unit_id": fresh, "data": {"wristband": MRN, "material": "leukapheresis",
                                                                 "collection_site": H1}}),
        "UnitScanned": ("/v1/scans", {"raw": ldg1_payload(w["bag_label"], coi), "purpose": "verify",
                                      "expect": {"coi": coi}}),
        "CustodyTransferred": (event, {"unit_id": bag, "data": {"to_party": "operator-f1"}}),
        "CustodyAcknowledged": (event, {"unit_id": bag, "data": {}}),
        "CustodyDeclined": (event, {"unit_id": bag, "data": {"reason": "r"}}),
        "PackedInto": (event, {"unit_id": bag, "data": {"container_id": shipper}}),
        "UnpackedFrom": (event, {"unit_id": bag, "data": {"container_id": shipper}}),
        "ShipmentDispatched": (event, {"unit_id": shipper, "data": {"carrier": "c", "tracking": "t",
                                                                    "from_site": H1, "to_site": F1}}),
        "ShipmentDelivered": (event, {"unit_id": shipper, "data": {"tracking": "t", "to_site": F1}}),
        "TemperatureRecorded": (event, {"unit_id": bag, "data": {"logger": "L",
                                                                 "readings": [{"t": past, "celsius": 4}]}}),
        "ExcursionAssessed": (event, {"unit_id": bag, "data": {"excursion_id": w["excursion"], "decision": "use",
                                                               "rationale": "r"}, "esign": "assessed"}),
        "UnitsDerived": (event, {"coi": coi, "data": {"inputs": [taken], "outputs": [{"kind": "cryobag"}],
                                                      "process": "p"}}),
        "ManufacturingStarted": (event, {"coi": coi, "data": {"lot": "L1", "inputs": [taken], "process": "p"}}),
        "ManufacturingStepRecorded": (event, {"coi": coi, "data": {"lot": "L1", "stage": "expansion"}}),
        "ProductFilled": (event, {"coi": coi, "data": {"lot": "L1", "outputs": [{"kind": "cryobag"}]}}),
        "QCResultRecorded": (event, {"unit_id": bag, "data": {"test": "t", "result": "pass"}}),
        "ProductReleased": (event, {"unit_id": bag, "data": {}, "esign": "released"}),
        "ProductInfused": (event, {"unit_id": bag, "data": {"coi": coi, "wristband": MRN, "bag_coi": coi},
                                   "esign": "administered"}),
        "StepWitnessed": (event, {"unit_id": bag, "data": {"witnessed_event_id": w["qc_event"]},
                                  "esign": "reviewed"}),
        "ExceptionDispositioned": (event, {"data": {"exception_id": f"qc_failed:{w['qc_event']}",
                                                    "event_hash": w["qc_hash"], "classification": "no_impact",
                                                    "comment": "c"}, "esign": "reviewed"}),
        "InformationalAcknowledged": (event, {"data": {"exception_ids": [f"qc_failed:{w['qc_event']}"]}}),
        "DeviationOpened": (event, {"data": {"deviation_id": "DEV-S1", "title": "t", "coi": coi,
                                             "exception_ids": [f"qc_failed:{w['qc_event']}"]}}),
        "DeviationClosed": (event, {"data": {"deviation_id": "DEV-S1", "capa": "CAPA-1", "outcome": "o"},
                                    "esign": "approved"}),
        "ProductSpecDefined": (event, {"data": {"product": PRODUCT, "version": 2}}),
        "ProductSpecApproved": (event, {"data": {"product": PRODUCT, "version": 1}, "esign": "approved"}),
        "ProcessParameterRecorded": (event, {"coi": coi, "data": {"lot": "L1", "parameter": "moi", "value": 1}}),
        **orchestration(coi),
        "UnitQuarantined": (event, {"unit_id": bag, "data": {"reason": "r"}}),
        "UnitReleasedFromQuarantine": (event, {"unit_id": bag, "data": {"reason": "r"}}),
        "UnitDisposed": (event, {"unit_id": bag, "data": {"reason": "r"}}),
    }


def orchestration(coi: str) -> dict[str, tuple[str, dict]]:
    """hospital-1's planning master data and an order of its case, over the orchestration routes."""
    day = datetime.now(UTC).date()
    plan = {"apheresis": {"site": H1, "day": str(day + timedelta(days=2))},
            "pickup": {"lane": "L1", "depart_at": f"{day + timedelta(days=2)}T17:00:00Z",
                       "arrive_at": f"{day + timedelta(days=3)}T01:00:00Z"},
            "manufacturing": {"site": F1, "start_day": str(day + timedelta(days=3)),
                              "end_day": str(day + timedelta(days=5))},
            "qc_release": {"site": F1, "ready_at": f"{day + timedelta(days=8)}T23:00:00Z"},
            "return_shipment": {"lane": "L2", "depart_at": f"{day + timedelta(days=9)}T09:00:00Z",
                                "arrive_at": f"{day + timedelta(days=9)}T17:00:00Z"},
            "infusion_window": {"site": H1, "from_day": str(day + timedelta(days=9)),
                                "to_day": str(day + timedelta(days=11))}}
    orders = "/v1/orders"
    book, release = (f"{orders}/{ORDER}/book", {"plan": plan}), (f"{orders}/{ORDER}/release", {"reason": "r"})
    return {
        "SiteProfileSet": (f"/v1/sites/{H1}/profile", {"capabilities": ["apheresis", "infusion"],
                                                     "tz": "Europe/Amsterdam"}),
        "CapacityDeclared": ("/v1/capacity", {"site": H1, "resource": "apheresis", "from": str(day),
                                              "to": str(day + timedelta(days=3)), "slots": 1}),
        "LaneDefined": ("/v1/lanes", {"lane": "L-H1-F1", "origin": H1, "destination": F1, "transit_hours": 8,
                                      "cutoff": "18:00"}),
        "TherapyOrdered": (orders, {"order_id": ORDER, "coi": coi, "product": "p", "treating_site": H1,
                                    "earliest": str(day + timedelta(days=1)), "latest": str(day + timedelta(days=3))}),
        "OrderPlanBooked": book, "SlotBooked": book,
        "OrderPlanReleased": release, "SlotReleased": release,
        "OrderCancelled": (f"{orders}/{ORDER}/cancel", {"reason": "r"}),
    }


@pytest.fixture
def world(client):
    """hospital-1's case with its units (by its own operator, who holds them), one bag taken to
    factory-1 by its operator, an excursion and a QC result; the sites and users above."""
    container = client.app.state.container
    services, system = container.services, Context(actor="system")
    services.identity.register_site(system, site_id=H2, name="Second Hospital", kind="hospital")
    services.identity.register_site(system, site_id=F2, name="Second Plant", kind="manufacturing")
    for user, (role, site) in USERS.items():
        services.identity.create_user(system, user_id=user, printed_name=user, roles=[role],
                                      sites=list(site) if isinstance(site, tuple) else [site] if site else [],
                                      password=DEMO_PASSWORD)
        services.qualification.qualify(system, user_id=user)
    nurse, tech = Context(actor="operator-h1", site=H1), Context(actor="operator-f1", site=F1)
    coi = services.cases.enrol(nurse, kind="autologous", product="p", treating_site=H1, mrn=MRN).result.answer["coi"]

    def label(kind: str, **spec) -> UUID:
        return UUID(services.units.label(nurse, coi=coi, kind=kind, spec=spec).result.answer["unit_id"])

    bag, fresh, shipper, taken = label("apheresis_bag", min_celsius=2, max_celsius=8), label("apheresis_bag"), \
        label("shipper"), label("apheresis_bag")
    for collected in (bag, taken):
        services.units.collect(nurse, unit_id=collected, wristband_mrn=MRN, material="leukapheresis",
                               collection_site=H1)
    start = datetime.now(UTC) - timedelta(hours=2)
    readings = [{"t": (start + timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M:%SZ"), "celsius": 20.0}
                for i in range(5)]
    services.quality.record_temperatures(nurse, unit_id=bag, logger="L0", readings=readings)
    qc = services.quality.record_qc(nurse, unit_id=bag, test="sterility", result="fail", value=12.5)
    qc_event = qc.result.receipts[0].event_id
    qc_hash = next(e.hash for e in container.ledger.read_stream(bag) if str(e.envelope["event_id"]) == str(qc_event))
    services.products.define_spec(Context(actor="qa-h1", site=H1), product=PRODUCT, version=1)
    services.orders.set_site_profile(system, site=F1, capabilities=["manufacturing", "qc"], tz="Europe/Amsterdam",
                                     closed_weekdays=[], holidays=[])
    pending = services.quality.correct(nurse, stream=bag, event_id=qc_event, reason="transcription error",
                                       changes={"result": "pass"})  # GMP-critical: awaits QA's approval
    services.units.handover(nurse, unit_id=taken, to_party="operator-f1", location=H1)
    last = services.units.acknowledge(tech, unit_id=taken, location=F1)
    assert container.wait_for(last.position, timeout=10)
    state = services.units.state(bag)
    return {"coi": coi, "bag": str(bag), "fresh": str(fresh), "shipper": str(shipper), "factory_bag": str(taken),
            "bag_label": state.label, "excursion": str(state.excursions[0].id),
            "qc_event": qc_event, "qc_hash": qc_hash, "pending": pending.result.receipts[0].event_id,
            "position": last.position}


def test_every_event_type_the_api_records_is_in_the_site_matrix():
    assert set(WHO) == set(EVENT_ROLES)
    for event_type, users in WHO.items():
        assert all(USERS[user][0] in EVENT_ROLES[event_type] for user in users), event_type
        # a user bound to no site is the allowed one only for the ledger's own, every-site records
        own, other = users
        assert (USERS[own][1] is None) == (event_type in LEDGER_EVENTS), event_type
        assert USERS[other][1] is not None, event_type


@pytest.mark.req("URS-P11-10g")
def test_events_by_type_and_site(client, login, world):
    bodies = requests(world)
    assert set(bodies) == set(EVENT_ROLES)
    wrong = []
    for event_type, (own, other) in WHO.items():
        path, body = bodies[event_type]
        for user, allowed in ((other, False), (own, True)):  # the other site first: it must change nothing
            sent = dict(body) if path != "/v1/events" else {"type": event_type, **body}
            if "esign" in sent:
                sent["esign"] = {"user_id": user, "password": DEMO_PASSWORD, "meaning": sent["esign"]}
            headers = login(user)  # signing in appends events: before counting
            before = client.app.state.container.ledger.last_position()
            response = client.post(path, headers=headers, json=sent)
            # the ledger's own followers may append meanwhile (alerts): only this user's records count
            appended = [e for _, e in client.app.state.container.ledger.read_log(after=before)
                        if e.envelope["actor"] == user]
            assert response.status_code < 500, (event_type, user, response.text)
            if allowed and response.status_code == 403:
                wrong.append((event_type, user, "refused", response.text))
            if not allowed:
                if response.status_code != 403 or response.json()["code"] != "SITE_FORBIDDEN":
                    wrong.append((event_type, user, "not refused", response.text))
                elif appended:
                    wrong.append((event_type, user, "appended", response.text))
    assert not wrong, "\n".join(map(str, wrong))
