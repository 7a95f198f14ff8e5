"""Every event type has a complete EventSpec; the tables of roles, audit text and EPCIS export
are built from them, so a missing or incomplete spec fails here, not in production."""

from __future__ import annotations

from typing import Any

import pytest

from api.commands import COMMANDS
from api.epcis.export import SHAPES
from api.policy import EVENT_ROLES
from ledger.datatypes import EventData
from ledger.domain.catalogue import DOMAIN_EVENTS, SPECS, spec_of, typed
from ledger.domain.esign import REQUIRED_MEANING, require_signature_accepted
from ledger.domain.events_registry import ROLES
from ledger.domain.spec import MEANINGS, UNSIGNED, Epcis, EventSpec, NotExported, Signature
from ledger.errors import InvalidEvent

COI, OTHER_COI, LABEL = "COI-ZSKP-JBH7-H", "COI-1FQS-GYLR-J", "UNT-838C-9DM7-9"
REF = "ab" * 32
U1, U2 = "0b0d7d3e-6a8c-4c2e-9d53-1f0c8c0b7a11", "5f3c9e2a-1b7d-4e8f-a0c6-2d9b8e7f6a51"
T1, T2 = "2026-03-02T08:00:00Z", "2026-03-02T08:10:00Z"
KEY = {"key_id": "00112233aabbccdd", "public_key": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="}

# A valid stored ``data`` of every type, and the audit trail's text for it.
SUB = "sub_" + "0" * 32
EXAMPLES: dict[str, tuple[dict[str, Any], str]] = {
    "DeviceKeyRegistered": ({"device": "scanner-1", **KEY}, "key 00112233aabbccdd registered for device scanner-1"),
    "DeviceKeyRevoked": ({"device": "scanner-1", "key_id": KEY["key_id"], "reason": "lost"},
                         "key 00112233aabbccdd of device scanner-1 revoked"),
    "UserSigningKeyIssued": ({"user": "qa", **KEY}, "signing key 00112233aabbccdd issued to qa"),
    "UserSigningKeyRevoked": ({"user": "qa", "key_id": KEY["key_id"], "reason": "left"},
                              "signing key 00112233aabbccdd of qa revoked"),
    "CaseEnrolled": ({"coi": COI, "kind": "autologous", "product": "CAR-T", "treating_site": "H1",
                      "patient_ref": REF}, f"case {COI} enrolled (autologous, CAR-T, treating site H1)"),
    "DonorRegistered": ({"coi": COI, "donor_ref": REF, "product": "CAR-T", "collection_site": "H1"},
                        f"donor case {COI} registered (CAR-T)"),
    "CaseOnHold": ({"reason": "slot"}, "case put on hold"),
    "CaseResumed": ({"reason": "slot"}, "case resumed"),
    "CaseCancelled": ({"reason": "withdrawn"}, "case cancelled"),
    "ProductAllocated": ({"unit": U1, "label": LABEL, "donor_coi": COI, "patient_case": U2,
                          "patient_coi": OTHER_COI}, f"unit {LABEL} of donor {COI} allocated to {OTHER_COI}"),
    "OperationRefused": ({"code": "COI_MISMATCH", "step": "infusion", "detail": "d", "attempted": {"coi": COI}},
                         "infusion refused: COI_MISMATCH"),
    "EventCorrected": ({"corrected_event_id": U1, "corrected_type": "UnitScanned", "reason": "typo",
                        "changes": [{"field": "reason", "old": None, "new": "x"},
                                    {"field": "n", "old": 4, "new": 4.5}]},
                       f"UnitScanned {U1} corrected: reason: None -> 'x'; n: 4 -> 4.5"),
    "CorrectionApproved": ({"correction_event_id": U2, "corrected_event_id": U1, "corrected_type": "QCResultRecorded",
                            "changes": [{"field": "result", "old": "fail", "new": "pass"}]},
                           f"correction {U2} of QCResultRecorded {U1} approved: result: 'fail' -> 'pass'"),
    "CorrectionRejected": ({"correction_event_id": U2, "corrected_event_id": U1, "corrected_type": "QCResultRecorded",
                            "reason": "no evidence"},
                           f"correction {U2} of QCResultRecorded {U1} rejected: no evidence"),
    "Backfilled": ({"reason": "paper record entered", "occurred_at": "2026-01-02T03:04:05+01:00",
                    "events": [{"type": "CaseOnHold", "stream": U1}]},
                   ("the 1 event(s) before were recorded late (backfill), having occurred at "
                    "2026-01-02T02:04:05.000000Z: paper record entered")),
    "SettingsRecorded": ({"digest": REF, "values": {"env": "production", "token_minutes": 60, "https": True,
                                                    "password_days": None}},
                         f"settings recorded (digest {REF[:16]})"),
    "SealingKeyRotated": ({"retired_key_id": "00112233aabbccdd", "retired_valid_from": T1,
                           "retired_valid_until": T2, "new_key_id": "ffeeddccbbaa9988", "new_valid_from": T2},
                          "sealing key 00112233aabbccdd retired; new key ffeeddccbbaa9988"),
    "UnknownSignInFailures": ({"window_start": T1, "window_end": T2, "count": 100, "distinct_ids": 40,
                               "by_client": {"198.51.100.0/24": 100}},
                              "100 failed sign-in(s) for 40 unknown id(s)"),
    "AuditTrailReviewed": ({"coi": COI, "case": U1, "through_position": 42},
                           "audit trail reviewed through position 42"),
    "AuditLogReviewed": ({"from_position": 1, "through_position": 42, "comment": "no findings"},
                         "whole audit trail reviewed, positions 1 to 42: no findings"),
    "UnitLabelled": ({"kind": "cryobag", "coi": COI, "case": U1, "label": LABEL, "custodian": "op",
                      "parents": [U2]}, f"cryobag {LABEL} labelled for {COI} from 1 parent(s)"),
    "MaterialCollected": ({"material": "apheresis", "collection_site": "H1", "patient_ref": REF, "volume_ml": 200},
                          "apheresis collected at H1, 200 mL"),
    "UnitScanned": ({"raw": LABEL, "purpose": "receipt", "verdict": "match"}, "scan for receipt: match"),
    "CustodyTransferred": ({"from_party": "a", "to_party": "b", "via_container": U2},
                           f"handover offered a -> b (moved with container {U2})"),
    "CustodyAcknowledged": ({"from_party": "a", "to_party": "b"}, "custody taken by b from a"),
    "CustodyDeclined": ({"from_party": "a", "to_party": "b", "reason": "warm"}, "handover declined by b"),
    "PackedInto": ({"unit": U1, "container": U2}, f"unit {U1} packed into {U2}"),
    "UnpackedFrom": ({"unit": U1, "container": U2}, f"unit {U1} unpacked from {U2}"),
    "ShipmentDispatched": ({"carrier": "c", "tracking": "T1", "from_site": "H1", "to_site": "M1"},
                           "dispatched H1 -> M1 with c (T1)"),
    "ShipmentDelivered": ({"carrier": "c", "tracking": "T1", "to_site": "M1"}, "delivered to M1 by c (T1)"),
    "TemperatureRecorded": ({"logger": "L1", "readings": [{"t": T1, "celsius": 4}, {"t": T2, "celsius": 4.5}]},
                            "2 readings from logger L1"),
    "ExcursionDetected": ({"excursion_id": U1, "source": U2, "logger": "L1", "start": T1, "end": T2,
                           "duration_s": 600, "min_celsius": 8, "max_celsius": 9.6, "limit_max": 8,
                           "readings": 2}, "excursion 8..9.6 °C for 600 s (limits -..8)"),
    "ExcursionAssessed": ({"excursion_id": U1, "decision": "use", "rationale": "short"},
                          f"excursion {U1} assessed: use"),
    "UnitsDerived": ({"inputs": [U1], "outputs": [U1, U2], "process": "split"}, "split: 1 input(s) -> 2 output(s)"),
    "ManufacturingStarted": ({"lot": "L-1", "coi": COI, "case": U1, "inputs": [U2], "process": "cart",
                              "site": "M1"}, "lot L-1 started at M1 (cart): 1 input(s) consumed"),
    "ManufacturingStepRecorded": ({"lot": "L-1", "stage": "harvest"}, "lot L-1: harvest"),
    "ProductFilled": ({"lot": "L-1", "outputs": [U1, U2]}, "lot L-1 filled into 2 unit(s)"),
    "QCResultRecorded": ({"test": "sterility", "result": "pass", "value": 12}, "QC sterility: pass (12 )"),
    "ProductReleased": ({"coi": COI, "label": LABEL}, f"{LABEL} released"),
    "ProductInfused": ({"case": U1, "coi": COI, "patient_ref": REF, "label": LABEL, "bag_coi": COI},
                       f"{LABEL} infused into {COI}"),
    "UnitQuarantined": ({"reason": "excursion"}, "unit quarantined"),
    "UnitReleasedFromQuarantine": ({"reason": "assessed"}, "unit released from quarantine"),
    "UnitDisposed": ({"reason": "expired", "method": "incineration"}, "unit disposed of (incineration)"),
    "UserCreated": ({"user": "qa", "printed_name": "Q A", "roles": ["qa"], "sites": ["M1"]},
                    "user qa (Q A) created with roles qa"),
    "UserRolesChanged": ({"user": "qa", "roles": ["qa", "auditor"], "previous_roles": ["qa"]},
                         "user qa roles qa -> qa, auditor"),
    "UserDeactivated": ({"user": "qa", "reason": "left"}, "user qa deactivated"),
    "PasswordSet": ({"user": "qa", "expires_at": T1}, "password set for qa"),
    "PasswordChanged": ({"user": "qa", "expires_at": T1}, "password changed by qa"),
    "PasswordReset": ({"user": "qa", "reason": "forgotten"}, "temporary password set for qa: change required"),
    "AccessDenied": ({"user": "qa", "reason": "bad_password", "attempt": 2},
                     "access denied to qa (bad_password, attempt 2)"),
    "UserAuthenticated": ({"user": "qa", "after_failures": 2}, "qa signed in after 2 failure(s)"),
    "UserLocked": ({"user": "qa", "attempts": 5, "reason": "too many"}, "user qa locked after 5 attempts"),
    "UserUnlocked": ({"user": "qa", "reason": "verified"}, "user qa unlocked"),
    "SiteRegistered": ({"site": "M1", "name": "Plant", "kind": "manufacturing", "gln": "4001234567891"},
                       "site M1 (Plant) registered"),
    "DeviceRegistered": ({"device": "scanner-1", "kind": "scanner", "site": "H1"},
                         "scanner device scanner-1 registered at H1"),
    "DeviceDeactivated": ({"device": "scanner-1", "reason": "broken"}, "device scanner-1 deactivated"),
    "TrainingRecorded": ({"user": "qa", "curriculum": "part11-esign", "version": "2", "completed_on": "2026-03-01",
                          "trainer": "T Rainer", "expires_on": "2027-03-01"},
                         "training part11-esign v2 completed by qa on 2026-03-01 (trainer T Rainer), "
                         "valid until 2027-03-01"),
    "IdentityVerified": ({"user": "qa", "document_type": "employee_badge", "verified_by": "admin"},
                         "identity of qa verified by admin (employee badge)"),
    "SignaturePolicyAcknowledged": ({"user": "qa", "policy_version": "1", "text_sha256": "a" * 64},
                                    "qa acknowledged the e-signature policy v1 as binding as a handwritten signature"),
    "TokenIssued": ({"token_id": "tok-00112233aabbccdd", "principal": "logger-1", "kind": "device",
                     "expires_at": T2, "label": "cold room"}, "device token tok-00112233aabbccdd issued to logger-1"),
    "TokenRevoked": ({"token_id": "tok-00112233aabbccdd", "principal": "mes", "kind": "integrator",
                      "expires_at": None, "label": None, "reason": "rotated"},
                     "integrator token tok-00112233aabbccdd of mes revoked"),
    "ExceptionDispositioned": ({"exception_id": "qc_failed:00000000-0000-0000-0000-000000000001",
                                "event_hash": "a" * 64, "classification": "deviation", "comment": "retested",
                                "deviation_id": "DEV-1"},
                               "exception qc_failed:00000000-0000-0000-0000-000000000001 dispositioned deviation "
                               "(deviation DEV-1): retested"),
    "InformationalAcknowledged": ({"exception_ids": ["scan_unknown:00000000-0000-0000-0000-000000000002"],
                                   "comment": None}, "1 informational exception(s) acknowledged"),
    "DeviationOpened": ({"deviation_id": "DEV-1", "title": "sterility retest", "coi": COI,
                         "exception_ids": ["qc_failed:00000000-0000-0000-0000-000000000001"]},
                        "deviation DEV-1 opened: sterility retest (1 exception(s))"),
    "ProductSpecDefined": ({"product": "CAR-T", "version": 1, "qc_tests": [{"test": "viability", "min": 70}],
                            "parameters": [{"name": "moi", "kind": "cpp", "max": 5}]},
                           "specification CAR-T v1 defined: 1 QC test(s), 1 parameter(s)"),
    "ProductSpecApproved": ({"product": "CAR-T", "version": 1}, "specification CAR-T v1 approved"),
    "ProcessParameterRecorded": ({"lot": "LOT-1", "parameter": "moi", "value": 7.5, "uom": "x", "spec_version": 1,
                                  "limits": {"min": 1, "max": 5}, "within_limits": False},
                                 "lot LOT-1: moi = 7.5 x (OUT OF LIMITS)"),
    "DeviationClosed": ({"deviation_id": "DEV-1", "capa": "CAPA-7", "outcome": "root cause fixed"},
                        "deviation DEV-1 closed, CAPA CAPA-7: root cause fixed"),
    "StepWitnessed": ({"witnessed_event_id": "00000000-0000-0000-0000-000000000001", "step": "infusion",
                       "comment": "read aloud"},
                      "infusion witnessed (event 00000000-0000-0000-0000-000000000001): read aloud"),
    "ReviewSignedOff": ({"coi": COI, "exceptions": [
                            {"exception_id": "scan_wrong_step:00000000-0000-0000-0000-000000000002",
                             "event_hash": "a" * 64, "state": "open", "classification": None},
                            {"exception_id": "qc_failed:00000000-0000-0000-0000-000000000001",
                             "event_hash": "b" * 64, "state": "dispositioned", "classification": "no_impact"}],
                         "spec_results": [{"name": "viability", "kind": "qc", "value": 92.5, "uom": "percent",
                                           "verdict": "within"}], "lot": "LOT-1", "comment": "all reviewed"},
                        f"review of {COI} signed off for lot LOT-1: 2 exception(s) (1 informational open), "
                        "1 spec result(s): all reviewed"),
    "AlertRaised": ({"alert_id": f"near_expiry:{LABEL}", "kind": "near_expiry", "subject": LABEL, "coi": COI,
                     "sites": ["H1"], "severity": "warning", "message": f"{LABEL} expires at {T2}",
                     "due_at": T1, "cause": U1},
                    f"alert near_expiry raised (warning) for {LABEL}: {LABEL} expires at {T2}"),
    "AlertCleared": ({"alert_id": f"near_expiry:{LABEL}", "kind": "near_expiry", "subject": LABEL,
                      "reason": "unit infused", "cause": U2},
                     f"alert near_expiry cleared for {LABEL}: unit infused"),
    "UserContactSet": ({"user": "nurse", "email": "nurse@hospital.example"}, "alert e-mail of nurse set"),
    # webhook subscriptions
    "SubscriptionCreated": ({"subscription_id": SUB, "url": "https://mes.example/hook",
                             "event_types": ["ExcursionDetected"], "owner": "integrator",
                             "owner_sites": ["H1"], "secret_sealed": "A" * 60},
                            f"webhook subscription {SUB} created for 1 event type(s)"),
    "SubscriptionPaused": ({"subscription_id": SUB}, f"webhook subscription {SUB} paused"),
    "SubscriptionResumed": ({"subscription_id": SUB}, f"webhook subscription {SUB} resumed"),
    "SubscriptionDeleted": ({"subscription_id": SUB, "reason": "retired"}, f"webhook subscription {SUB} deleted"),
    "SubscriptionReplayRequested": ({"subscription_id": SUB, "from_position": 7},
                                    f"webhook subscription {SUB}: replay from position 7"),
}


PLAN = {"apheresis": {"site": "H1", "day": "2026-03-02"},
        "pickup": {"lane": "L1", "depart_at": "2026-03-02T17:00:00Z", "arrive_at": "2026-03-03T01:00:00Z"},
        "manufacturing": {"site": "M1", "start_day": "2026-03-03", "end_day": "2026-03-03"},
        "qc_release": {"site": "M1", "ready_at": "2026-03-06T23:00:00Z"},
        "return_shipment": {"lane": "L2", "depart_at": "2026-03-09T09:00:00Z", "arrive_at": "2026-03-09T17:00:00Z"},
        "infusion_window": {"site": "H1", "from_day": "2026-03-09", "to_day": "2026-03-11"}}
SLOT = {"site": "M1", "resource": "manufacturing", "day": "2026-03-03"}
EXAMPLES.update({  # orchestration (ledger.domain.events_orders)
    "SiteProfileSet": ({"site": "M1", "capabilities": ["manufacturing", "qc"], "tz": "Europe/Amsterdam",
                        "closed_weekdays": [6], "holidays": ["2026-12-25"]},
                       "site M1 planning profile set (manufacturing, qc; Europe/Amsterdam)"),
    "CapacityDeclared": ({"site": "M1", "resource": "manufacturing", "day": "2026-03-03", "slots": 4},
                         "M1 manufacturing capacity on 2026-03-03: 4 slot(s)"),
    "LaneDefined": ({"lane": "L1", "origin": "H1", "destination": "M1", "transit_hours": 8, "cutoff": "18:00",
                     "days": [0, 1, 2, 3, 4]}, "lane L1 H1 -> M1 defined (cut-off 18:00)"),
    "TherapyOrdered": ({"order": "ORD-1", "coi": COI, "product": "CAR-T", "treating_site": "H1",
                        "earliest": "2026-03-02", "latest": "2026-03-13", "priority": 1},
                       f"order ORD-1 for {COI} (CAR-T) at H1, apheresis 2026-03-02..2026-03-13"),
    "OrderPlanBooked": ({"order": "ORD-1", "treating_site": "H1", "plan": PLAN,
                         "slots": [{**SLOT, "resource": "apheresis", "site": "H1", "day": "2026-03-02"}, SLOT],
                         "kept_legs": ["apheresis"], "reason": "late delivery"},
                        "order ORD-1 plan booked (2 slot(s)): late delivery"),
    "OrderPlanReleased": ({"order": "ORD-1", "reason": "patient unwell"}, "order ORD-1 plan released: patient unwell"),
    "OrderCancelled": ({"order": "ORD-1", "reason": "withdrawn"}, "order ORD-1 cancelled: withdrawn"),
    "SlotBooked": ({**SLOT, "order": "ORD-1"}, "M1 manufacturing slot on 2026-03-03 booked by ORD-1"),
    "SlotReleased": ({**SLOT, "order": "ORD-1"}, "M1 manufacturing slot on 2026-03-03 released by ORD-1"),
})

def spec_problems(spec: EventSpec[Any], example: EventData) -> list[str]:
    """What is missing or wrong in ``spec``, tried on a valid ``example`` of its data."""
    problems = []
    if not (isinstance(spec.data, type) and issubclass(spec.data, EventData)):
        problems.append("data is not an EventData model")
    if not isinstance(spec.roles, tuple) or not set(spec.roles) <= set(ROLES):
        problems.append(f"roles {spec.roles!r} are not a tuple of {ROLES}")
    if not isinstance(spec.signature, Signature):
        problems.append("signature is not declared (Signature.required/optional or UNSIGNED)")
    if isinstance(spec.epcis, Epcis):
        if spec.epcis.shape not in SHAPES:
            problems.append(f"EPCIS shape {spec.epcis.shape!r} has no exporter")
    elif not isinstance(spec.epcis, NotExported) or not spec.epcis.why:
        problems.append("epcis is neither Epcis(...) nor NotExported(why)")
    if spec.critical != "all" and not set(spec.critical) <= set(spec.data.model_fields):
        problems.append(f"critical names fields {spec.data.__name__} has not")
    try:
        text = spec.describe(example)
        if not isinstance(text, str) or not text:
            problems.append("describe gives no text")
        if not all(isinstance(site, str) and site for site in spec.sites(example)):
            problems.append("sites gives something that is not a site id")
    except Exception as exc:  # noqa: BLE001 - any failure is the spec's problem
        problems.append(f"describe or sites fails on a valid example: {exc!r}")
    return problems


def test_every_event_type_has_a_spec_and_an_example() -> None:
    assert set(SPECS) == set(DOMAIN_EVENTS), "a type without a spec, or a spec of no registered type"
    assert all(SPECS[name].data is model for name, model in DOMAIN_EVENTS.items())
    assert set(EXAMPLES) == set(DOMAIN_EVENTS), "add a valid example of the new type to EXAMPLES"


@pytest.mark.parametrize("type_name", sorted(DOMAIN_EVENTS))
def test_every_spec_is_complete(type_name: str) -> None:
    data, _ = EXAMPLES[type_name]
    example = typed(type_name, data)
    assert example is not None
    assert spec_problems(spec_of(type_name), example) == []


@pytest.mark.parametrize("type_name", sorted(DOMAIN_EVENTS))
def test_audit_text_is_the_spec_describe(type_name: str) -> None:
    from projections.audit_text import what

    data, text = EXAMPLES[type_name]
    assert what(type_name, data) == text
    assert what(type_name, typed(type_name, data)) == text  # typed data reads the same


def test_incomplete_specs_are_caught() -> None:
    model = DOMAIN_EVENTS["CaseOnHold"]
    example = typed("CaseOnHold", EXAMPLES["CaseOnHold"][0])
    assert example is not None
    declared = {"signature": UNSIGNED}
    bad = [
        EventSpec(model, ("nurse",), lambda d: "x", NotExported("no"), **declared),
        EventSpec(model, ("qa",), lambda d: d.no_such_field, NotExported("no"), **declared),
        EventSpec(model, ("qa",), lambda d: "", NotExported("no"), **declared),
        EventSpec(model, ("qa",), lambda d: "x", None, **declared),  # type: ignore[arg-type]
        EventSpec(model, ("qa",), lambda d: "x", Epcis("teleport"), **declared),  # type: ignore[arg-type]
        EventSpec(model, ("qa",), lambda d: "x", NotExported("no")),  # no signature rule declared
        EventSpec(model, ("qa",), lambda d: "x", NotExported("no"), sites=lambda d: [None], **declared),
        EventSpec(model, ("qa",), lambda d: "x", NotExported("no"), critical=("result",), **declared),
    ]
    for spec in bad:
        assert spec_problems(spec, example), spec
    assert spec_problems(spec_of("CaseOnHold"), example) == []


def test_every_command_type_has_roles() -> None:
    for type_name in COMMANDS:
        assert spec_of(type_name).roles, type_name
        assert EVENT_ROLES[type_name] == spec_of(type_name).roles


def test_signed_types_need_their_meaning_from_the_spec() -> None:
    assert REQUIRED_MEANING == {"ProductReleased": "released", "ExcursionAssessed": "assessed",
                                "ProductInfused": "administered", "AuditTrailReviewed": "reviewed",
                                "CorrectionApproved": "approved", "CorrectionRejected": "reviewed",
                                "AuditLogReviewed": "reviewed", "ExceptionDispositioned": "reviewed",
                                "DeviationClosed": "approved", "StepWitnessed": "reviewed",
                                "ReviewSignedOff": "reviewed", "ProductSpecApproved": "approved"}


def test_every_spec_declares_its_signature_rule() -> None:
    """21 CFR 11.70: each type says whether it takes an e-signature, and which meanings; the
    types that require one are exactly those that did before (``REQUIRED_MEANING``)."""
    undeclared = [name for name, spec in SPECS.items() if not isinstance(spec.signature, Signature)]
    assert not undeclared, f"declare signature= on {undeclared}"
    required = {name: spec.signature.meanings for name, spec in SPECS.items() if spec.signature.rule == "required"}
    assert required == {name: (meaning,) for name, meaning in REQUIRED_MEANING.items()}
    for name, spec in SPECS.items():
        assert set(spec.signature.meanings) <= set(MEANINGS), name
        if spec.signature.rule == "required":
            assert spec.meaning == spec.signature.meanings[0], name
        else:
            assert spec.meaning is None, name
    # what a person records through the event API may be signed (and so acted for, `on_behalf`);
    # identity, security, key and the ledger's own records never are
    assert all(SPECS[name].signature.rule != "none" for name in COMMANDS)
    for name, spec in SPECS.items():
        if not spec.roles:
            assert spec.signature.rule == "none" or name in REQUIRED_MEANING, name


def test_a_signature_rule_is_consistent_with_its_meanings() -> None:
    assert Signature.required("released").required_meaning == "released"
    assert Signature.optional("authored", "received").accepts("received")
    assert not UNSIGNED.accepts("authored") and UNSIGNED.describe() == "none"
    for rule, meanings in (("required", ()), ("required", ("released", "approved")), ("optional", ()),
                           ("none", ("authored",)), ("optional", ("signed",))):
        with pytest.raises(ValueError):
            Signature(rule, meanings)  # type: ignore[arg-type]


@pytest.mark.parametrize(("event_type", "meaning", "code"), [
    ("UserCreated", "authored", "SIGNATURE_NOT_ACCEPTED"),  # identity: takes none
    ("OperationRefused", "reviewed", "SIGNATURE_NOT_ACCEPTED"),  # the ledger's own record
    ("UnitScanned", "authored", "SIGNATURE_NOT_ACCEPTED"),
    ("QCResultRecorded", "administered", "WRONG_SIGNATURE_MEANING"),  # optional, not that meaning
    ("ProductReleased", "approved", "WRONG_SIGNATURE_MEANING"),  # required, another meaning
    ("QCResultRecorded", "reviewed", None),
    ("CustodyAcknowledged", "received", None),
    ("ProductReleased", "released", None),
])
def test_an_offered_signature_is_accepted_only_with_a_meaning_the_type_takes(event_type, meaning, code) -> None:
    if code is None:
        require_signature_accepted(event_type, meaning)
        return
    with pytest.raises(InvalidEvent) as refused:
        require_signature_accepted(event_type, meaning)
    assert refused.value.code == code


def test_the_design_document_describes_every_event_type():
    from pathlib import Path

    design = (Path(__file__).resolve().parents[3] / "docs" / "DESIGN.md").read_text()
    catalogue = design[design.index("## Event catalogue"):]
    missing = [name for name in DOMAIN_EVENTS if f"`{name}`" not in catalogue]
    assert not missing, f"docs/DESIGN.md's event catalogue lacks {missing}"
