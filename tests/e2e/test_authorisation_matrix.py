"""Every route x every role, plus no token and an expired token (21 CFR 11.10(d), (g)).

The expectations below are written out by hand, as the specification of who may do what;
they are deliberately not read from api/policy.py, so a wrong policy fails this test.
"""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest

from ledger.services.executor import Context
from ledger.services.journeys import DEMO_PASSWORD

ROLES = ("admin", "courier", "operator", "qa", "clinician", "auditor", "integrator", "device", "program_manager")
EVERYONE = set(ROLES)
READERS = EVERYONE - {"device"}
FIELD = {"courier", "operator", "clinician", "integrator", "device"}
NOBODY: set[str] = set()
PUBLIC = "public"

NO_UNIT, NO_COI = str(uuid4()), "COI-0000-0000-0"

# Minimal valid commands aimed at things that do not exist: an allowed role gets a domain
# answer (404/409/422), a forbidden one 403, before anything is decided.
NO_EXCEPTION = "qc_failed:00000000-0000-0000-0000-000000000000"

EVENT_BODIES = {
    "CaseEnrolled": ({"kind": "autologous", "product": "p", "treating_site": "s", "mrn": "m"}, {}),
    "DonorRegistered": ({"product": "p", "collection_site": "s", "donor_id": "d"}, {}),
    "CaseOnHold": ({"reason": "r"}, {"coi": NO_COI}),
    "CaseResumed": ({"reason": "r"}, {"coi": NO_COI}),
    "CaseCancelled": ({"reason": "r"}, {"coi": NO_COI}),
    "ProductAllocated": ({"donor_coi": NO_COI, "unit_id": NO_UNIT}, {"coi": NO_COI}),
    "UnitLabelled": ({"kind": "sample"}, {"coi": NO_COI}),
    "MaterialCollected": ({"wristband": "w", "material": "m", "collection_site": "s"}, {"unit_id": NO_UNIT}),
    "CustodyTransferred": ({"to_party": "x"}, {"unit_id": NO_UNIT}),
    "CustodyAcknowledged": ({}, {"unit_id": NO_UNIT}),
    "CustodyDeclined": ({"reason": "r"}, {"unit_id": NO_UNIT}),
    "PackedInto": ({"container_id": NO_UNIT}, {"unit_id": NO_UNIT}),
    "UnpackedFrom": ({"container_id": NO_UNIT}, {"unit_id": NO_UNIT}),
    "ShipmentDispatched": ({"carrier": "c", "tracking": "t", "from_site": "a", "to_site": "b"}, {"unit_id": NO_UNIT}),
    "ShipmentDelivered": ({}, {"unit_id": NO_UNIT}),
    "TemperatureRecorded": ({"logger": "L", "readings": [{"t": "2026-01-01T00:00:00Z", "celsius": 4}]},
                            {"unit_id": NO_UNIT}),
    "ExcursionAssessed": ({"excursion_id": NO_UNIT, "decision": "use", "rationale": "r"}, {"unit_id": NO_UNIT}),
    "UnitsDerived": ({"inputs": [NO_UNIT], "outputs": [{"kind": "cryobag"}], "process": "p"}, {"coi": NO_COI}),
    "ManufacturingStarted": ({"lot": "L1", "inputs": [NO_UNIT], "process": "p"}, {"coi": NO_COI}),
    "ManufacturingStepRecorded": ({"lot": "L1", "stage": "expansion"}, {"coi": NO_COI}),
    "ProductFilled": ({"lot": "L1", "outputs": [{"kind": "cryobag"}]}, {"coi": NO_COI}),
    "QCResultRecorded": ({"test": "t", "result": "pass"}, {"unit_id": NO_UNIT}),
    "ProductReleased": ({}, {"unit_id": NO_UNIT}),
    "ProductInfused": ({"coi": NO_COI, "wristband": "w", "bag_coi": NO_COI}, {"unit_id": NO_UNIT}),
    "UnitQuarantined": ({"reason": "r"}, {"unit_id": NO_UNIT}),
    "UnitReleasedFromQuarantine": ({"reason": "r"}, {"unit_id": NO_UNIT}),
    "UnitDisposed": ({"reason": "r"}, {"unit_id": NO_UNIT}),
    "EventCorrected": ({"event_id": NO_UNIT, "reason": "r", "changes": {"x": 1}}, {"stream": NO_UNIT}),
    "AuditLogReviewed": ({"from_position": 1, "through_position": 1}, {}),
    "StepWitnessed": ({"witnessed_event_id": NO_UNIT}, {"unit_id": NO_UNIT}),
    "ReviewSignedOff": ({"exceptions": []}, {"coi": NO_COI}),
    "ExceptionDispositioned": ({"exception_id": NO_EXCEPTION, "event_hash": "0" * 64, "classification": "no_impact",
                                "comment": "c"}, {}),
    "InformationalAcknowledged": ({"exception_ids": [NO_EXCEPTION]}, {}),
    "DeviationOpened": ({"deviation_id": "DEV-M", "title": "t"}, {}),
    "DeviationClosed": ({"deviation_id": "DEV-NONE", "capa": "C", "outcome": "o"}, {}),
    "ProductSpecDefined": ({"product": "no-product", "version": 2}, {}),
    "ProductSpecApproved": ({"product": "no-product", "version": 1}, {}),
    "ProcessParameterRecorded": ({"lot": "L1", "parameter": "moi", "value": 1}, {"coi": NO_COI}),
}

EVENT_ALLOWED = {
    "CaseEnrolled": {"operator", "clinician", "integrator"},
    "DonorRegistered": {"operator", "integrator"},
    "CaseOnHold": {"qa", "clinician", "operator"},
    "CaseResumed": {"qa", "clinician", "operator"},
    "CaseCancelled": {"qa", "clinician"},
    "ProductAllocated": {"operator", "qa", "integrator"},
    "UnitLabelled": {"operator", "integrator"},
    "MaterialCollected": {"operator", "clinician"},
    "CustodyTransferred": FIELD,
    "CustodyAcknowledged": FIELD,
    "CustodyDeclined": FIELD,
    "PackedInto": FIELD,
    "UnpackedFrom": FIELD,
    "ShipmentDispatched": {"courier", "operator", "integrator", "device"},
    "ShipmentDelivered": {"courier", "operator", "integrator", "device"},
    "TemperatureRecorded": {"courier", "operator", "integrator", "device"},
    "ExcursionAssessed": {"qa"},
    "UnitsDerived": {"operator", "integrator"},
    "ManufacturingStarted": {"operator", "integrator"},
    "ManufacturingStepRecorded": {"operator", "integrator"},
    "ProductFilled": {"operator", "integrator"},
    "QCResultRecorded": {"operator", "qa", "integrator"},
    "ProductReleased": {"qa"},
    "ProductInfused": {"clinician"},
    "UnitQuarantined": {"qa", "operator"},
    "UnitReleasedFromQuarantine": {"qa"},
    "UnitDisposed": {"qa", "operator"},
    "EventCorrected": {"qa", "operator", "clinician", "courier", "integrator"},
    "AuditLogReviewed": {"qa"},
    "StepWitnessed": {"operator", "clinician"},
    "ReviewSignedOff": {"qa"},
    "ExceptionDispositioned": {"qa"},
    "InformationalAcknowledged": {"qa"},
    "DeviationOpened": {"qa"},
    "ProductSpecDefined": {"qa"},
    "ProductSpecApproved": {"qa"},
    "ProcessParameterRecorded": {"operator", "integrator"},
    "DeviationClosed": {"qa"},
}

ROUTES = {
    ("GET", "/healthz"): (PUBLIC, None),
    ("GET", "/readyz"): (PUBLIC, None),
    ("GET", "/metrics"): (PUBLIC, None),
    ("GET", "/v1/ledger/keys"): (PUBLIC, None),
    ("GET", "/v1/ledger/checkpoint"): (PUBLIC, None),
    ("GET", "/v1/ledger/checkpoints.txt"): (PUBLIC, None),
    ("GET", "/v1/ledger/proofs/inclusion"): (PUBLIC, None),
    ("GET", "/v1/ledger/proofs/consistency"): (PUBLIC, None),
    ("GET", "/v1/cases"): (READERS, None),
    ("GET", "/v1/cases/{coi}/genealogy"): (READERS, None),
    ("GET", "/v1/units/{unit_id}/genealogy"): (READERS, None),
    ("GET", "/v1/units/{unit_id}/custody"): (READERS, None),
    ("GET", "/v1/units/{unit_id}/conditions"): (READERS, None),
    ("GET", "/v1/audit-trail"): ({"admin", "qa", "auditor", "clinician"}, None),
    ("GET", "/v1/exceptions"): ({"admin", "qa", "auditor", "clinician"}, None),
    ("POST", "/v1/signatures"): ({"qa", "operator", "clinician"}, {"pending_id": NO_UNIT, "user_id": "x",
                                                                 "password": "p", "meaning": "reviewed"}),
    ("GET", "/v1/signatures/pending"): (READERS, None),
    ("GET", "/v1/review-queue"): ({"admin", "qa", "auditor", "clinician"}, None),
    ("POST", "/v1/exceptions/{exception_id}/disposition"): ({"qa"}, {"event_hash": "0" * 64,
                                                                     "classification": "no_impact", "comment": "c"}),
    ("POST", "/v1/exceptions/acknowledge"): ({"qa"}, {"exception_ids": [NO_EXCEPTION]}),
    ("POST", "/v1/deviations"): ({"qa"}, {"deviation_id": "DEV-R", "title": "t"}),
    ("POST", "/v1/deviations/{deviation_id}/close"): ({"qa"}, {"capa": "C", "outcome": "o"}),
    ("GET", "/v1/deviations/{deviation_id}"): ({"admin", "qa", "auditor", "clinician"}, None),
    ("POST", "/v1/products/{product}/specs"): ({"qa"}, {"version": 2}),
    ("POST", "/v1/products/{product}/specs/{version}/approve"): ({"qa"}, {}),
    ("GET", "/v1/products/{product}/specs"): (READERS, None),
    ("GET", "/v1/products/{product}/specs/{version}"): (READERS, None),
    ("GET", "/v1/cases/{coi}/dossier"): ({"admin", "qa", "auditor", "clinician"}, None),
    ("GET", "/v1/cases/{coi}/release-summary"): ({"admin", "qa", "auditor", "clinician"}, None),
    ("POST", "/v1/cases/{coi}/review-signoff"): ({"qa"}, {"exceptions": []}),
    ("POST", "/v1/epcis/capture"): ({"integrator", "operator", "courier", "device"},
                                    {"type": "EPCISDocument", "schemaVersion": "2.0"}),
    ("GET", "/v1/epcis/events"): (READERS, None),
    ("POST", "/v1/auth/token"): (PUBLIC, None),
    ("POST", "/v1/cases"): ({"operator", "clinician", "integrator"},
                            {"kind": "autologous", "product": "p", "treating_site": "s", "mrn": "m"}),
    ("GET", "/v1/cases/{coi}"): (READERS, None),
    ("POST", "/v1/units"): ({"operator", "integrator"}, {"coi": NO_COI, "kind": "sample"}),
    ("GET", "/v1/units/{unit_id}"): (READERS, None),
    ("GET", "/v1/units/{unit_id}/label.{fmt}"): (READERS, None),
    ("POST", "/v1/units/{unit_id}/temperatures"): ({"courier", "operator", "integrator", "device"},
                                                   {"logger_id": "L", "readings": [{"t": "2026-01-01T00:00:00Z",
                                                                                    "celsius": 4}]}),
    ("POST", "/v1/scans"): (FIELD | {"qa"}, {"raw": f"unit:{'UNT-0000-0000-O'}", "purpose": "verify",
                                              "expect": {"coi": NO_COI}}),
    ("POST", "/v1/events"): ("per type", None),
    ("POST", "/v1/events/batch"): ("per type", None),
    ("POST", "/v1/users"): ({"admin"}, {"user_id": "x", "printed_name": "X", "roles": ["qa"], "password": "p" * 12}),
    ("POST", "/v1/users/{user_id}/unlock"): ({"admin"}, {"reason": "r"}),
    ("POST", "/v1/users/{user_id}/password"): ({"admin"}, {"password": "lilac tugboat 27 temp", "reason": "r"}),
    ("POST", "/v1/auth/password"): (READERS, {"current_password": DEMO_PASSWORD,
                                              "new_password": "violet kettle on the 9th floor"}),
    ("GET", "/v1/auth/signature-policy"): (READERS, None),
    ("POST", "/v1/auth/acknowledge-signature-policy"): (READERS, {"password": DEMO_PASSWORD, "policy_version": "0",
                                                                 "text_sha256": "0" * 64}),
    ("POST", "/v1/users/{user_id}/identity-verification"): ({"admin"}, {"document_type": "passport"}),
    ("POST", "/v1/users/{user_id}/training"): ({"admin", "qa"}, {"curriculum": "part11-esign", "version": "1",
                                                                 "completed_on": "2026-01-01", "trainer": "T"}),
    ("POST", "/v1/users/{user_id}/deactivate"): ({"admin"}, {"reason": "r"}),
    ("POST", "/v1/users/{user_id}/roles"): ({"admin"}, {"roles": ["qa"]}),
    ("POST", "/v1/devices/{device_id}/keys/{key_id}/revoke"): ({"admin"}, {"reason": "r"}),
    ("POST", "/v1/devices/{device_id}/keys"): ({"admin"}, {"public_key": "A" * 43 + "="}),
    ("POST", "/v1/users/{user_id}/signing-key/revoke"): ({"admin"}, {"reason": "r"}),  # and everyone their own
    ("POST", "/v1/auth/signing-key"): (READERS, {"password": DEMO_PASSWORD}),
    ("POST", "/v1/sites"): ({"admin"}, {"site_id": "s", "name": "S", "kind": "hospital"}),
    ("POST", "/v1/devices"): ({"admin"}, {"device_id": "d", "kind": "scanner", "site": "nowhere"}),
    ("POST", "/v1/tokens"): ({"admin"}, {"device": "no-such-device"}),
    ("GET", "/v1/tokens"): (EVERYONE, None),  # an admin anyone's, everyone else their own
    ("POST", "/v1/tokens/{token_id}/revoke"): (EVERYONE, {"reason": "r"}),  # idem
    ("POST", "/v1/auth/refresh"): (READERS, None),  # a person's sign-in token; a device's is long-lived
}
ROUTES.update({  # alerts (docs/ALERTS.md): read-scoped, written only by the ledger itself
    ("GET", "/v1/alerts"): (READERS, None),
    ("GET", "/v1/alerts/{alert_id}"): (READERS, None),
    ("POST", "/v1/users/{user_id}/contact"): ({"admin"}, {"email": "someone@example.org"}),
})


# Orchestration: master data by admins and program managers, orders by clinicians and program managers.
MASTER_DATA, ORDERING = {"admin", "program_manager"}, {"clinician", "program_manager"}
A_PLAN = {"apheresis": {"site": "s", "day": "2026-03-02"},
          "pickup": {"lane": "l", "depart_at": "2026-03-02T17:00:00Z", "arrive_at": "2026-03-03T01:00:00Z"},
          "manufacturing": {"site": "m", "start_day": "2026-03-03", "end_day": "2026-03-12"},
          "qc_release": {"site": "m", "ready_at": "2026-03-16T00:00:00Z"},
          "return_shipment": {"lane": "k", "depart_at": "2026-03-16T09:00:00Z", "arrive_at": "2026-03-16T17:00:00Z"},
          "infusion_window": {"site": "s", "from_day": "2026-03-16", "to_day": "2026-03-18"}}
ROUTES.update({
    ("POST", "/v1/sites/{site_id}/profile"): (MASTER_DATA, {"capabilities": ["apheresis"], "tz": "Europe/Amsterdam"}),
    ("GET", "/v1/sites/{site_id}/profile"): (READERS, None),
    ("POST", "/v1/capacity"): (MASTER_DATA, {"site": "no-site", "resource": "apheresis", "from": "2026-03-02",
                                             "to": "2026-03-03", "slots": 1}),
    ("GET", "/v1/capacity"): (READERS, None),
    ("POST", "/v1/lanes"): (MASTER_DATA, {"lane": "L", "origin": "a", "destination": "b", "transit_hours": 8,
                                          "cutoff": "18:00"}),
    ("GET", "/v1/lanes"): (READERS, None),
    ("POST", "/v1/orders"): (ORDERING, {"order_id": "ORD-M", "coi": NO_COI, "product": "p", "treating_site": "s",
                                        "earliest": "2026-03-02", "latest": "2026-03-09"}),
    ("GET", "/v1/orders"): (READERS, None),
    ("GET", "/v1/orders/{order_id}"): (READERS, None),
    ("POST", "/v1/orders/{order_id}/plan"): (ORDERING, None),
    ("POST", "/v1/orders/{order_id}/book"): (ORDERING, {"plan": A_PLAN}),
    ("POST", "/v1/orders/{order_id}/release"): (ORDERING, {"reason": "r"}),
    ("POST", "/v1/orders/{order_id}/cancel"): (ORDERING, {"reason": "r"}),
})
ROUTES[("GET", "/v1/program/figures")] = (READERS, None)  # the program's figures (planner)

def concrete(path: str) -> str:
    return (path.replace("{coi}", NO_COI).replace("{unit_id}", NO_UNIT).replace("{fmt}", "png")
            .replace("{user_id}", "nobody").replace("{device_id}", "no-device").replace("{key_id}", "0" * 16)
            .replace("{token_id}", "tok-" + "0" * 16).replace("{exception_id}", NO_EXCEPTION)
            .replace("{deviation_id}", "DEV-NONE").replace("{product}", "no-product").replace("{version}", "1")
            .replace("{site_id}", "no-site").replace("{order_id}", "ORD-NONE"))


# Webhook subscriptions (docs/WEBHOOKS.md): admins and integrators only (an integrator its own).
NO_SUBSCRIPTION = "sub_" + "0" * 32
MANAGERS = {"admin", "integrator"}
ROUTES.update({
    ("POST", "/v1/subscriptions"): (MANAGERS, {"url": "http://127.0.0.1/hook", "event_types": ["ExcursionDetected"]}),
    ("GET", "/v1/subscriptions"): (MANAGERS, None),
    ("GET", "/v1/subscriptions/{subscription_id}"): (MANAGERS, None),
    ("DELETE", "/v1/subscriptions/{subscription_id}"): (MANAGERS, None),
    ("POST", "/v1/subscriptions/{subscription_id}/pause"): (MANAGERS, None),
    ("POST", "/v1/subscriptions/{subscription_id}/resume"): (MANAGERS, None),
    ("POST", "/v1/subscriptions/{subscription_id}/replay"): (MANAGERS, None),
    ("GET", "/v1/subscriptions/{subscription_id}/deliveries"): (MANAGERS, None),
})
_concrete_before_subscriptions = concrete


def concrete(path: str) -> str:  # noqa: F811 - extends the one above with the subscription id
    return _concrete_before_subscriptions(path).replace("{subscription_id}", NO_SUBSCRIPTION)


@pytest.fixture
def tokens(client):
    """A token per role: users without site restrictions, and a registered device."""
    container = client.app.state.container
    identity, system = container.services.identity, Context(actor="system")
    out = {}
    for role in ROLES:
        if role == "device":
            identity.register_device(system, device_id="matrix-device", kind="scanner", site="hospital-1")
            out[role] = container.tokens.issue("matrix-device", "device", ttl=timedelta(days=1))
            continue
        identity.create_user(system, user_id=f"m-{role}", printed_name=role, roles=[role], password=DEMO_PASSWORD)
        container.services.qualification.qualify(system, user_id=f"m-{role}")
        out[role] = container.tokens.issue(f"m-{role}", "user", ttl=timedelta(minutes=5))
    out["expired"] = container.tokens.issue("m-qa", "user", ttl=timedelta(seconds=-1))
    return out


def call(client, method, path, body, token):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.request(method, concrete(path), headers=headers, json=body)


def test_every_route_is_in_the_matrix(client):
    paths = client.get("/openapi.json").json()["paths"]
    served = {(method.upper(), path) for path, operations in paths.items() for method in operations}
    assert served == set(ROUTES), served ^ set(ROUTES)


@pytest.mark.parametrize("route", [r for r, (who, _) in ROUTES.items() if who not in (PUBLIC, "per type")],
                         ids=lambda r: f"{r[0]} {r[1]}")
@pytest.mark.req("URS-P11-10d")
def test_route_by_role(client, tokens, route):
    allowed, body = ROUTES[route]
    method, path = route
    assert call(client, method, path, body, None).status_code == 401
    assert call(client, method, path, body, tokens["expired"]).status_code == 401
    for role in ROLES:
        status = call(client, method, path, body, tokens[role]).status_code
        if role in allowed:
            assert status not in (401, 403), (role, status)
        else:
            assert status == 403, (role, status)


@pytest.mark.parametrize("event_type", sorted(EVENT_BODIES))
@pytest.mark.req("URS-P11-10g")
def test_events_by_type_and_role(client, tokens, event_type):
    data, target = EVENT_BODIES[event_type]
    body = {"type": event_type, "data": data, **target}
    assert call(client, "POST", "/v1/events", body, None).status_code == 401
    assert call(client, "POST", "/v1/events", body, tokens["expired"]).status_code == 401
    for role in ROLES:
        single = call(client, "POST", "/v1/events", body, tokens[role])
        batch = call(client, "POST", "/v1/events/batch", {"events": [body]}, tokens[role])
        for response in (single, batch):
            if role in EVENT_ALLOWED[event_type]:
                assert response.status_code not in (401, 403), (role, response.text)
                assert response.status_code < 500, response.text
            else:
                assert response.status_code == 403, (role, response.text)


def test_public_routes_need_no_token(client):
    for (method, path), (who, _) in ROUTES.items():
        if who == PUBLIC and path != "/v1/auth/token":
            status = client.request(method, path).status_code
            assert status < 500 and status not in (401, 403), (path, status)
