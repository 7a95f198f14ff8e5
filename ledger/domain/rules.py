"""Every refusal code the domain gives, with a one-line description (for the API docs).

Codes are part of the public contract: never rename one. Each is raised as
``RuleViolation(detail, code=CODE)`` (or ``InvalidEvent`` for malformed identifiers).
"""

from __future__ import annotations

CASES = {
    "CASE_NOT_FOUND": "no case (or donor case) has been enrolled in this stream",
    "CASE_EXISTS": "this stream already holds an enrolled case",
    "CASE_CANCELLED": "the case is cancelled: no further step is permitted",
    "CASE_ON_HOLD": "the case is on hold: resume it before continuing",
    "REASON_REQUIRED": "this step must give its reason",
    "CASE_NOT_ON_HOLD": "only a case on hold can be resumed",
    "COI_MISMATCH": "identifiers scanned or named do not belong to this case (recorded)",
    "NOT_ALLOGENEIC": "allocation of donor product is only for allogeneic patient cases",
    "NOT_A_DONOR_CASE": "the product must come from a donor case",
    "ALREADY_ALLOCATED": "this product unit is already allocated to a patient case",
    "NOT_ALLOCATABLE": "only final product units can be allocated to a patient",
}

UNITS = {
    "UNIT_NOT_FOUND": "no unit has been labelled in this stream",
    "NOT_COLLECTABLE": "material is collected only into apheresis bags or samples",
    "ALREADY_COLLECTED": "material was already collected into this unit",
    "NOT_COLLECTED": "the unit holds no collected material yet",
    "NOT_CUSTODIAN": "only the current custodian can do this",
    "NOT_RECEIVER": "only the party named in the pending handover can acknowledge or decline it",
    "TRANSFER_PENDING": "a handover is waiting for the receiver's acknowledgement",
    "NO_PENDING_TRANSFER": "there is no handover waiting for acknowledgement",
    "HANDOVER_TO_SELF": "custody cannot be handed over to its current holder",
    "PACKED_IN_CONTAINER": "the unit is packed in a container: move or unpack the container",
    "NOT_A_CONTAINER": "units are packed only into shippers or containers",
    "CONTAINER_IN_CONTAINER": "containers are not nested",
    "ALREADY_PACKED": "the unit is already packed in a container",
    "NO_TEMPERATURE_SPEC": "what a container carries must be kept to a temperature range: "
                           "the unit's own, else the container's (its own or its contents')",
    "SPEC_CONFLICT": "the temperature ranges of what would travel together have nothing in common",
    "NOT_IN_CONTAINER": "the unit is not packed in that container",
    "CONTAINER_NOT_EMPTY": "unpack the container first",
    "IN_TRANSIT": "the unit or container is in transit: deliver it first",
    "NOT_IN_TRANSIT": "there is no shipment in transit to deliver",
    "TRACKING_MISMATCH": "the tracking number is not the dispatched shipment's",
    "UNIT_DISPOSED": "the unit has been disposed of",
    "UNIT_CONSUMED": "the unit was consumed by manufacturing",
    "UNIT_QUARANTINED": "the unit is quarantined",
    "ALREADY_QUARANTINED": "the unit is already quarantined",
    "NOT_QUARANTINED": "the unit is not quarantined",
    "UNIT_EXPIRED": "the unit is past its expiry",
    "UNKNOWN_IDENTIFIER": "the scan resolved to no known unit or case",
}

CONDITIONS = {
    "READING_IN_FUTURE": "a temperature reading is later than the server time",
    "UNKNOWN_EXCURSION": "no such excursion was detected on this unit",
    "ALREADY_ASSESSED": "the excursion has already been assessed",
    "EXCURSION_UNASSESSED": "an excursion on the unit or its ancestors awaits QA assessment",
    "EXCURSION_REJECTED": "an excursion on the unit or its ancestors was assessed 'discard'",
}

QUALITY = {
    "QC_FAILED": "a QC result of the unit (or its lot) is 'fail'",
    "QC_MISSING": "a required QC result is missing",
    "NOT_RELEASABLE": "only final product bags and cryobags are released",
    "ALREADY_RELEASED": "the product is already released",
    "INFUSION_BEFORE_RELEASE": "the product has not been released by QA",
    "ALREADY_INFUSED": "the product has already been infused",
}

MANUFACTURING = {
    "NOT_A_MANUFACTURING_SITE": "manufacturing is recorded at a registered manufacturing site",
    "LOT_EXISTS": "a lot with this number was already started for the case",
    "LOT_NOT_STARTED": "no manufacturing was started for this lot",
    "LOT_AT_OTHER_SITE": "the lot is manufactured at another site",
}

CORRECTIONS = {
    "CORRECTION_REASON_REQUIRED": "a correction must give its reason",
    "EVENT_NOT_FOUND": "the stream has no event with that id",
    "CORRECTION_EMPTY": "a correction must change at least one field",
    "CORRECTION_FIELD_UNKNOWN": "the corrected event has no such field",
    "CORRECTION_NOT_ALLOWED": "identity fields (COI links, units, sites ...) and what a scan read cannot be corrected",
    "NOT_CORRECTABLE": ("identity, role, site, device, key and security events, the ledger's own records "
                        "and e-signed events cannot be corrected"),
    "CORRECTION_NO_CHANGE": "the new value equals the current value",
    "CORRECTION_NOT_PENDING": "the correction awaits no approval: it needs none, or was approved or rejected",
    "CORRECTION_SELF_APPROVAL": "a correction of GMP-critical facts is approved by someone other than its corrector",
}

RELEASE = {
    "REVIEW_INCOMPLETE": "a review is signed off only when no COI-critical or GMP exception of the family is open",
    "REVIEW_LIST_STALE": "the exceptions listed for a review sign-off are not the family's now (reload them)",
    "REVIEW_REQUIRED": "a product is released only after QA's review sign-off of its case",
    "REVIEW_OUTDATED": "an exception was raised or changed after the latest review sign-off: review and sign again",
    "EXCEPTION_OPEN": "an exception of the product's family that is COI-critical or GMP is open",
    "PRODUCT_IMPACT": "an exception of the product's family was dispositioned 'product_impact'",
}

SPECIFICATIONS = {
    "SPEC_NOT_FOUND": "the product has no such specification version (404)",
    "SPEC_VERSION_SEQUENCE": "specification versions are numbered 1, 2, ... in order: the next one is the "
                             "latest plus one",
    "SPEC_ALREADY_APPROVED": "this specification version is already approved",
    "SPEC_SUPERSEDED": "a later version of the specification is already approved",
    "SELF_APPROVAL": "a specification is approved by a QA person other than its author",
    "SPEC_VALUE_REQUIRED": "the pinned specification gives this test numeric limits or an expected result: "
                           "record the measured value",
    "SPEC_UOM_MISMATCH": "the value's unit of measure is not the one the specification judges it in",
    "SPEC_OUT_OF_LIMITS": "a QC result or process parameter of the product's lot is out of the pinned "
                          "specification's limits",
}

REVIEWS = {
    "REVIEW_GAP": "a review of the whole audit trail starts at most one position after the reviews so far reached",
    "UNKNOWN_EXCEPTION": "no exception (of the review by exception) has this id (answered 404)",
    "ALREADY_DISPOSITIONED": "the exception was already dispositioned by QA",
    "DEVIATION_REQUIRED": "a disposition classified deviation (or naming one) needs an open deviation's id",
    "HASH_MISMATCH": "the event hash given is not the hash of the event that opened the exception",
    "NOT_INFORMATIONAL": "only informational exceptions are acknowledged as a group; others are dispositioned "
                         "one by one",
    "DEVIATION_EXISTS": "a deviation with this id was opened before",
    "DEVIATION_NOT_FOUND": "no deviation has this id (answered 404)",
    "DEVIATION_CLOSED": "the deviation is closed",
}

SIGNATURES = {
    "PENDING_NOT_FOUND": "nothing awaits a signature under this id: no pending correction or step due a witness "
                         "(answered 404)",
    "SELF_WITNESS": "a step is witnessed by another person than its actor, the person it was done for and its signer",
    "WITNESS_LATE": "the witness signs within LEDGER_WITNESS_MINUTES of the step (its `witness_due`); "
                    "a missed witness stays an exception for QA",
    "ALREADY_WITNESSED": "the step has already been witnessed",
}

IDENTITY = {
    "USER_ID_TAKEN": "user ids are never reused, even after deactivation",
    "RESERVED_ID": "user ids the ledger itself acts as (`system`) are refused (422)",
    "USER_NOT_FOUND": "no such user",
    "USER_DEACTIVATED": "the user is deactivated",
    "NO_CHANGE": "the request changes nothing",
    "INVALID_CREDENTIALS": ("the one answer to every failed sign-in: unknown id, wrong password, locked or "
                            "deactivated account, no password set (for a known id the attempt is recorded)"),
    "WEAK_PASSWORD": "the password does not meet the policy (422; the detail gives the reason)",
    "NOT_YOUR_PASSWORD": "only the user may change their own password (an administrator resets it)",
    "KEY_ALREADY_REGISTERED": "this key id is already registered",
    "UNKNOWN_KEY": "no such key for this user or device",
    "KEY_REVOKED": "the key is revoked",
    "SITE_ID_TAKEN": "site ids are never reused",
    "SITE_NOT_FOUND": "no such site",
    "DEVICE_ID_TAKEN": "device ids are never reused",
    "DEVICE_NOT_FOUND": "no such device",
    "DEVICE_DEACTIVATED": "the device is deactivated",
}

ACCESS = {
    "PERSON_TOKEN_REFUSED": "long-lived tokens are only for devices and integrator accounts: people sign in (403)",
    "TOKEN_NOT_FOUND": "no token with this id (404)",
    "TOKEN_REVOKED": "the token is already revoked",
}

ESIGN = {
    "ESIGNATURE_REQUIRED": "this step needs a Part 11 e-signature",
    "WRONG_SIGNATURE_MEANING": "the e-signature's meaning is not one this event type accepts (422 before "
                               "anything is written)",
    "SIGNATURE_NOT_ACCEPTED": "this event type takes no e-signature: one offered is refused, never dropped (422)",
    "SIGNER_NOT_AUTHORISED": "the signer is not the actor, is inactive, lacks the role or the key",
    "WRONG_PASSWORD": "the password does not open the signing key",
    "ON_BEHALF_UNSIGNED": "`on_behalf` needs that person's own e-signature in the same request (403)",
    "ON_BEHALF_UNKNOWN": "`on_behalf` names no active user: unknown, deactivated or locked (422)",
}

QUALIFICATION = {
    "IDENTITY_NOT_VERIFIED": "the signer's identity has not been verified by an administrator (403)",
    "SIGNATURE_POLICY_NOT_ACKNOWLEDGED": "the signer has not acknowledged the current e-signature policy (403)",
    "TRAINING_REQUIRED": "a role of the signer requires a current qualification they lack or let lapse (403)",
    "SIGNATURE_POLICY_MISMATCH": "the acknowledged policy version or text hash is not the current one",
    "NOT_YOUR_ACKNOWLEDGEMENT": "only the user acknowledges their own signature policy",
    "SELF_TRAINING": "a person's training is recorded by someone else (admin or QA)",
    "SELF_VERIFICATION": "a person's identity is verified by another administrator",
    "TRAINING_IN_FUTURE": "a training completion date lies in the future",
    "TRAINING_EXPIRY_BEFORE_COMPLETION": "a qualification must expire after it was completed",
}

MALFORMED = {
    "INVALID_COI": "not a valid COI id (COI-XXXX-XXXX-C, ISO 7064 mod 37-2 check)",
    "INVALID_LABEL": "not a valid unit label id (UNT-XXXX-XXXX-C)",
    "INVALID_IDENTIFIER": "a label identifier that could not be printed or scanned back (DIN, GTIN, SSCC, GLN, "
                          "EPC, GS1 element string): wrong form or check character, or a kind labels do not carry",
    "INVALID_DATA": "the event data does not match its schema",
}

ORCHESTRATION = {
    "PROFILE_REQUIRED": "a site is planned for, or given capacity, only once its planning profile is set",
    "CAPABILITY_MISSING": "the site's planning profile lacks the capability this needs",
    "CAPACITY_BELOW_BOOKED": "a day's capacity cannot be declared below the slots already booked on it",
    "CAPACITY_RANGE": "a capacity range runs forwards and spans at most 366 days",
    "LANE_SITES": "a lane runs between two different registered sites with planning profiles",
    "ORDER_EXISTS": "an order with this id was placed before (order ids are never reused)",
    "ORDER_NOT_FOUND": "no order has this id, or none the caller may read (answered 404)",
    "ORDER_CLOSED": "the order is cancelled or its therapy is complete",
    "ORDER_CASE": "an order names an enrolled case of its product and treating site",
    "ORDER_WINDOW": "the apheresis window runs forwards (earliest <= latest) and spans at most 90 days",
    "NO_PLAN": "no plan fits the network's calendars, lanes and free capacity in the order's window",
    "PLAN_MISMATCH": "the plan is not one for this order (its treating site and apheresis window) or its "
                     "legs do not follow each other within a year of its apheresis",
    "PLAN_INFEASIBLE": "the network cannot run the plan: a lane, its cut-off or transit time, a calendar, a shelf "
                       "life or the product's timing is broken (each broken rule is named)",
    "SLOT_UNAVAILABLE": "a slot of the plan is no longer free: another booking took it (propose again)",
    "NO_PLAN_HELD": "the order holds no plan to release",
}

CODES: dict[str, str] = {
    **CASES, **UNITS, **CONDITIONS, **QUALITY, **MANUFACTURING, **CORRECTIONS, **REVIEWS, **IDENTITY, **ACCESS, **ESIGN,
    **QUALIFICATION, **MALFORMED, **SIGNATURES, **SPECIFICATIONS, **RELEASE,
    **ORCHESTRATION,
}
