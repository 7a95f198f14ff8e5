"""QA's work queue and release page through the TestClient, on SQLite and PostgreSQL.

Each form both ways: refused without its CSRF token, with a wrong password, for a non-QA user,
for another site's QA (404 as for an unknown case), refused by the ledger's own rules (each
refusal shown on the page with its code, never a server error), and allowed for QA. The case is
the demo's review case (a refused collection, a storage excursion, a wrong-purpose scan).
"""

from __future__ import annotations

import json
import re
from html import unescape

import pytest

from ledger.services.executor import Context
from ledger.services.journeys import DEMO_PASSWORD, run_review_journey, seed_identities
from ledger.services.release import release_summary
from ledger.timefmt import utc_now

from .conftest import csrf_of

QA_NAME = "Dr. Quentin Assurance"


@pytest.fixture
def review_case(client):
    container = client.app.state.container
    services = container.services
    seed_identities(services)
    admin = Context(actor="system")
    services.identity.register_site(admin, site_id="factory-2", name="Second Plant", kind="manufacturing")
    services.identity.create_user(admin, user_id="qa-2", printed_name="Dr. Other Site", roles=["qa"],
                                  sites=["factory-2"], password=DEMO_PASSWORD)
    services.qualification.qualify(admin, user_id="qa-2")
    journey = run_review_journey(services)
    assert container.wait_for(container.ledger.last_position(), timeout=20)
    return journey


def summary(client, coi: str) -> dict:
    services = client.app.state.container.services
    return release_summary(services.reads(), coi, now=utc_now(), case_units=services.executor.case_units)


def opened(client, coi: str, kind: str) -> dict:
    return next(e for e in summary(client, coi)["exceptions"] if e["kind"] == kind)


def release_page(client, coi: str) -> str:
    response = client.get(f"/portal/cases/{coi}/release")
    assert response.status_code == 200, response.text[:500]
    return response.text


def refusal(response) -> str:
    """The refusal code shown on the page."""
    found = re.search(r'<code class="refusal-code">([A-Z_]+)</code>', response.text)
    assert found, response.text[:2000]
    return found.group(1)


def post(client, coi: str, action: str, data: dict, csrf: str | None = None):
    csrf = csrf if csrf is not None else csrf_of(release_page(client, coi))
    return client.post(f"/portal/cases/{coi}/release/{action}", data={"csrf_token": csrf, **data},
                       follow_redirects=False)


def disposition(client, coi: str, exception: dict, **fields):
    data = {"exception_id": exception["exception_id"], "classification": "no_impact",
            "comment": "reviewed: no impact", "user_id": "qa", "password": DEMO_PASSWORD, **fields}
    return post(client, coi, "disposition", data)


def test_the_queue_lists_searches_filters_and_shows_the_figures(client, review_case, portal_login):
    portal_login("qa")
    coi = review_case.coi
    html = client.get("/portal/review").text
    row = re.search(rf'<tr class="queue-row stage-(\w+)" id="queue-{re.escape(coi)}">(.*?)</tr>', html, re.S)
    assert row and row.group(1) == "awaiting_review"
    assert re.findall(r'<td class="count[^"]*">(\d+)</td>', row.group(2)) == ["1", "1", "1"]
    assert f'href="/portal/cases/{coi}/release"' in html and "Figures across these cases" in html
    for query in (coi.lower(), review_case.extra["label"], "LOT-R1", "TRK-REVIEW-1"):
        found = client.get("/portal/review", params={"q": query}).text
        assert f'id="queue-{coi}"' in found, query
    assert "No cases match" in client.get("/portal/review", params={"q": "NOTHING-LIKE-THIS"}).text
    assert f'id="queue-{coi}"' in client.get("/portal/review", params={"stage": "awaiting_review",
                                                                       "severity": "coi_critical",
                                                                       "sort": "open"}).text
    assert f'id="queue-{coi}"' not in client.get("/portal/review", params={"stage": "released"}).text
    bad = client.get("/portal/review", params={"stage": "nonsense"})
    assert bad.status_code == 200 and "Unknown stage" in bad.text
    forged = client.get("/portal/review", params={"cursor": "not-a-cursor"})
    assert forged.status_code == 200 and 'role="alert"' in forged.text


@pytest.mark.req("URS-P11-10d")
def test_who_sees_the_queue_and_the_release_page(client, review_case, portal_login):
    coi = review_case.coi
    portal_login("courier")
    assert client.get("/portal/review").status_code == 403
    assert client.get(f"/portal/cases/{coi}/release").status_code == 403
    portal_login("auditor")
    html = release_page(client, coi)
    for shown in (html, client.get("/portal/review").text):
        assert "MRN-0042-7790" not in shown and "MRN-9999-0002" not in shown and "patient_ref" not in shown
        assert not re.search(r'(src|href|action)="(https?:)?//', shown)
    assert "Operation refused" in html and "form-signoff" not in html and "/release/disposition" not in html
    portal_login("qa-2")  # QA of another site: the case is unknown to it
    assert f'id="queue-{coi}"' not in client.get("/portal/review").text
    assert client.get(f"/portal/cases/{coi}/release").status_code == 404
    assert client.get(f"/portal/cases/{coi}/release.pdf").status_code == 404
    client.cookies.clear()
    assert client.get(f"/portal/cases/{coi}/release", follow_redirects=False).status_code == 303


@pytest.mark.req("URS-P11-200")
def test_a_disposition_is_refused_without_csrf_with_a_wrong_password_for_non_qa_and_another_site(
        client, review_case, portal_login):
    coi = review_case.coi
    exception = opened(client, coi, "operation_refused")
    body = {"exception_id": exception["exception_id"], "classification": "no_impact", "comment": "reviewed",
            "user_id": "qa", "password": DEMO_PASSWORD}
    portal_login("qa")
    forged = post(client, coi, "disposition", body, csrf="forged")
    assert forged.status_code == 400 and refusal(forged) == "CSRF_FAILED"
    wrong = post(client, coi, "disposition", {**body, "password": "not-the-password"})
    assert wrong.status_code in (401, 403) and refusal(wrong) in ("WRONG_PASSWORD", "INVALID_CREDENTIALS")
    other = post(client, coi, "disposition", {**body, "user_id": "auditor"})
    assert other.status_code == 403 and refusal(other) == "SIGNER_NOT_AUTHORISED"
    assert opened(client, coi, "operation_refused")["state"] == "open"

    bare = client.post(f"/portal/cases/{coi}/release/disposition", data={"exception_id": exception["exception_id"]},
                       follow_redirects=False)  # no token at all: the same page, not the API's 422
    assert bare.status_code == 400 and refusal(bare) == "CSRF_FAILED"
    portal_login("nurse")  # reads the case (her site), may neither review nor see the release page
    nurse = client.post(f"/portal/cases/{coi}/release/disposition",
                        data={"csrf_token": csrf_of(client.get("/portal/cases").text), **body, "user_id": "nurse"},
                        follow_redirects=False)
    assert nurse.status_code == 403 and "Operation refused" not in nurse.text
    portal_login("auditor")
    auditor = post(client, coi, "disposition", {**body, "user_id": "auditor"})
    assert auditor.status_code == 403 and refusal(auditor) == "FORBIDDEN"
    portal_login("qa-2")
    page = client.get("/portal/review")
    elsewhere = client.post(f"/portal/cases/{coi}/release/disposition",
                            data={"csrf_token": csrf_of(page.text), **body, "user_id": "qa-2"},
                            follow_redirects=False)
    assert elsewhere.status_code == 404 and "No case with COI" in elsewhere.text
    assert opened(client, coi, "operation_refused")["state"] == "open"

    portal_login("qa")
    assert 'name="user_id" type="text" autocomplete="username" maxlength="200" value=""' in release_page(client, coi)
    unsigned = disposition(client, coi, exception, password="")
    assert unsigned.status_code >= 400 and refusal(unsigned) != "VALIDATION_FAILED"  # the ledger wants the signature
    half = disposition(client, coi, exception, user_id="")
    assert half.status_code == 422 and "user id" in half.text
    done = disposition(client, coi, exception, classification="")
    assert done.status_code == 422 and refusal(done) == "VALIDATION_FAILED"
    done = disposition(client, coi, exception, classification="deviation", deviation_id="DEV-2026-701")
    assert done.status_code == 409 and refusal(done) == "DEVIATION_REQUIRED"
    forged = post(client, coi, "deviation", {"deviation_id": "DEV-2026-701", "title": "wrong wristband scanned",
                                             "exception_id": exception["exception_id"]}, csrf="forged")
    assert forged.status_code == 400 and refusal(forged) == "CSRF_FAILED"
    opened_deviation = post(client, coi, "deviation", {"deviation_id": "DEV-2026-701",
                                                       "title": "wrong wristband scanned at collection",
                                                       "exception_id": exception["exception_id"]})
    assert opened_deviation.status_code == 303, opened_deviation.text[:1000]
    twice = post(client, coi, "deviation", {"deviation_id": "DEV-2026-701", "title": "again"})
    assert twice.status_code == 409 and refusal(twice) == "DEVIATION_EXISTS"
    done = disposition(client, coi, exception, classification="deviation", deviation_id="DEV-2026-701")
    assert done.status_code == 303 and done.headers["location"].endswith("?done=disposition")
    after = opened(client, coi, "operation_refused")
    assert after["state"] == "dispositioned" and after["classification"] == "deviation"
    assert after["deviation_id"] == "DEV-2026-701" and "DEV-2026-701" in release_page(client, coi)
    html = release_page(client, coi)
    assert "Disposition recorded" not in html  # only after the redirect's ?done=
    assert 'autocomplete="username" maxlength="200" value="qa"' in html  # later signings: the password
    again = disposition(client, coi, exception)
    assert again.status_code == 409 and refusal(again) == "ALREADY_DISPOSITIONED"


def test_sign_off_and_release_are_refused_by_the_ledgers_rules_then_allowed(client, review_case, portal_login):
    coi = review_case.coi
    portal_login("qa")
    html = release_page(client, coi)
    listed = unescape(re.search(r'name="listed" value="([^"]*)"', html).group(1))
    sign = {"listed": listed, "lot": "LOT-R1", "user_id": "qa", "password": DEMO_PASSWORD}
    early = post(client, coi, "signoff", sign)
    assert early.status_code == 409 and refusal(early) == "REVIEW_INCOMPLETE"
    product = str(review_case.units["final_product"])
    release = {"unit_id": product, "user_id": "qa", "password": DEMO_PASSWORD}
    refused = post(client, coi, "release", release)
    assert refused.status_code == 409 and refusal(refused) == "EXCURSION_UNASSESSED"

    assert disposition(client, coi, opened(client, coi, "operation_refused")).status_code == 303
    excursion = opened(client, coi, "excursion_unassessed")
    assessed = post(client, coi, "assessment", {"exception_id": excursion["exception_id"], "decision": "use",
                                                "comment": "within validated limits", "user_id": "qa",
                                                "password": DEMO_PASSWORD})
    assert assessed.status_code == 303, assessed.text[:1000]
    assert opened(client, coi, "excursion_unassessed")["classification"] == "no_impact"
    not_excursion = post(client, coi, "assessment", {"exception_id": opened(client, coi, "scan_wrong_step")
                                                     ["exception_id"], "decision": "use", "comment": "x",
                                                     "user_id": "qa", "password": DEMO_PASSWORD})
    assert not_excursion.status_code == 422 and refusal(not_excursion) == "VALIDATION_FAILED"

    refused = post(client, coi, "release", release)
    assert refused.status_code == 409 and refusal(refused) == "REVIEW_REQUIRED"
    stale = post(client, coi, "signoff", sign)  # the list shown before the dispositions
    assert stale.status_code == 409 and refusal(stale) == "REVIEW_LIST_STALE"

    informational = opened(client, coi, "scan_wrong_step")
    acknowledged = post(client, coi, "acknowledge", {"exception_id": informational["exception_id"]})
    assert acknowledged.status_code == 303
    html = release_page(client, coi)
    assert "form-acknowledge" not in html
    listed = unescape(re.search(r'name="listed" value="([^"]*)"', html).group(1))
    assert {e["state"] for e in json.loads(listed)} == {"dispositioned"}
    assert post(client, coi, "signoff", {**sign, "listed": listed, "password": "wrong-password-9"}
                ).status_code in (401, 403)
    signed = post(client, coi, "signoff", {**sign, "listed": listed})
    assert signed.status_code == 303, signed.text[:1000]
    assert post(client, coi, "release", {**release, "unit_id": "00000000-0000-0000-0000-000000000000"}
                ).status_code == 404
    released = post(client, coi, "release", release)
    assert released.status_code == 303, released.text[:1000]
    page = client.get(released.headers["location"]).text
    assert "Product released" in page and "signed off, current" in page
    signatures = re.findall(r'<tr class="signature"><th scope="row">([^<]+)</th><td class="mono">(\w+)</td>\s*'
                            r'<td><time datetime="([^"]+)">[^<]+</time></td><td><strong>(\w+)</strong>', page)
    assert [(name, who, meaning) for name, who, _, meaning in signatures if who == "qa"][-4:] == [
        (QA_NAME, "qa", "reviewed"), (QA_NAME, "qa", "assessed"), (QA_NAME, "qa", "reviewed"),
        (QA_NAME, "qa", "released")]
    again = post(client, coi, "release", release)
    assert again.status_code == 404 or refusal(again) == "ALREADY_RELEASED"
    pdf = client.get(f"/portal/cases/{coi}/release.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")


def test_an_allogeneic_patients_release_page_shows_the_donor_lot_it_was_given(client, review_case, portal_login):
    from ledger.services.journeys import run_allogeneic_journey

    container = client.app.state.container
    allo = run_allogeneic_journey(container.services)
    assert container.wait_for(container.ledger.last_position(), timeout=20)
    portal_login("qa")
    patient = release_page(client, allo.extra["patients"][0])
    assert allo.coi in patient and "released" in patient and "meaning released" in patient
    assert "release-form" not in patient  # released on the donor case, not here
    donor = release_page(client, allo.coi)
    # the doses were given without the bedside witness due: two COI-critical exceptions raised after
    # the sign-off, so it is outdated, and QA has a disposition form for each
    assert 'id="review-state">signed off, <strong>outdated</strong>' in donor and "release-form" not in donor
    assert donor.count("Disposition: Witness missing") == 2
    assert donor.count('<tr class="signature">') >= 3  # the sign-off and the two releases
