"""QA's pages: the cross-case work queue and a case's release page with its signed forms.

Reads are the API's own: the queue is ``GET /v1/review-queue``'s query
(``projections.review_queue_query``, search by ``projections.search_query``), the release page is
``GET /v1/cases/{coi}/release-summary``'s (``ledger.services.release.release_summary``).

Every form posts to a route here that calls the API route function for the same action, in
process, with the session's principal (``api.routes.exceptions.disposition`` / ``acknowledge``,
``api.routes.release.sign_off``, ``api.routes.events.post_event`` for ``ExcursionAssessed`` and
``ProductReleased``): the same request models, role and training checks, site scope, Part 11
re-authentication, decisions and refusal codes as the API; no rule is decided here. A refusal is
shown on the page with its code (the API's status), never as a server error. A case outside the
reader's scope answers 404 as an unknown one, before anything else.
"""

from __future__ import annotations

import json
from typing import Annotated, Any
from urllib.parse import urlencode
from uuid import UUID

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from ledger.domain.events_quality import ExcursionAssessed, ProductReleased
from ledger.domain.events_review import ExceptionDispositioned
from ledger.errors import LedgerError
from ledger.services.identity import AUTHENTICATION_CODES
from ledger.services.release import release_summary
from ledger.timefmt import utc_now
from projections.cases_query import case_summary
from projections.exceptions_query import stream_of_event
from projections.review_queue_query import SEVERITIES, SORTS, STAGES, review_queue
from projections.scope_query import case_visible
from projections.search_query import matching_cois

from ..authority import permits, read_scope
from ..commands import REQUEST_MODELS
from ..deps import Principal
from ..routes import deviations as deviation_routes
from ..routes import events as event_routes
from ..routes import exceptions as exception_routes
from ..routes import release as release_routes
from ..routes.deviations import OpenBody
from ..routes.exceptions import AcknowledgeBody, DispositionBody
from ..routes.release import SignOffRequest
from . import session
from .casedata import assert_no_pseudonym
from .downloads import _forward
from .render import page, secure
from .search import case_url

router = APIRouter(prefix="/portal", include_in_schema=False)

Long = Annotated[str, Form(max_length=2000)]
Optional = Annotated[str, Form(max_length=200)]
QUEUE_PAGE = 50
SUMMARY = "/v1/cases/{coi}/release-summary"
FIGURES = {"needle_to_needle_days": ("Needle to needle", "days"),
           "manufacturing_end_to_signoff_h": ("Manufacturing end to review sign-off", "h"),
           "manufacturing_end_to_release_h": ("Manufacturing end to release", "h")}


class Refused(Exception):
    """A form the portal refuses before the API sees it (CSRF, a missing field)."""

    def __init__(self, code: str, detail: str, status: int = 400) -> None:
        super().__init__(detail)
        self.code, self.detail, self.status = code, detail, status


def release_url(coi: str) -> str:
    return f"{case_url(coi)}/release"


# -- the work queue -----------------------------------------------------------------------------


def _qa_reader(request: Request, refused: str) -> Any:
    """The signed-in principal who may read QA's pages; else the answer to give instead (the
    sign-in page, or 403 with ``refused``)."""
    try:
        principal = session.current_principal(request)
    except session.SignedOut:
        return session.to_login(request)
    if not session.may_audit(principal):
        return page(request, "missing.html", {"what": refused}, principal=principal, status=403)
    return principal


@router.get("/review")
def queue_page(request: Request,
               q: Annotated[str | None, Query(max_length=200)] = None,
               stage: Annotated[str | None, Query(max_length=32)] = None,
               severity: Annotated[str | None, Query(max_length=32)] = None,
               site: Annotated[str | None, Query(max_length=128)] = None,
               sort: Annotated[str | None, Query(max_length=16)] = None,
               cursor: Annotated[str | None, Query(max_length=500)] = None) -> Response:
    principal = _qa_reader(request, "Your role may not see QA's work queue.")
    if isinstance(principal, Response):
        return principal
    form = {"q": (q or "").strip(), "stage": stage or "", "severity": severity or "", "site": (site or "").strip(),
            "sort": sort or "age"}
    problem = None
    if form["stage"] and form["stage"] not in STAGES:
        problem = f"Unknown stage {form['stage']!r}."
    elif form["severity"] and form["severity"] not in SEVERITIES:
        problem = f"Unknown severity {form['severity']!r}."
    elif form["sort"] not in SORTS:
        problem = f"Unknown sort {form['sort']!r}."
    answer: dict[str, Any] = {"items": [], "next_cursor": None, "total": 0, "stages": {}, "figures": {}}
    if problem is None:
        scope = read_scope(principal)
        container = session.container_of(request)
        with container.engine.connect() as conn:
            cois = matching_cois(conn, form["q"], scope) if form["q"] else None
            try:
                answer = review_queue(conn, now=utc_now(), stage=form["stage"] or None,
                                      severity=form["severity"] or None, site=form["site"] or None, cois=cois,
                                      sort=form["sort"], cursor=cursor, limit=QUEUE_PAGE, scope=scope)
            except (ValueError, LedgerError) as exc:  # a cursor from another sort, edited by hand
                problem = f"{getattr(exc, 'code', 'INVALID_CURSOR')}: {getattr(exc, 'detail', exc)}"
    more = None
    if answer["next_cursor"]:
        more = "/portal/review?" + urlencode({**{k: v for k, v in form.items() if v}, "cursor": answer["next_cursor"]})
    context = {"form": form, "queue": answer, "stages": STAGES, "severities": SEVERITIES, "sorts": SORTS,
               "figure_names": FIGURES, "problem": problem, "more": more, "searched": bool(form["q"])}
    assert_no_pseudonym(context)
    return page(request, "review.html", context, principal=principal)


# -- the release page ---------------------------------------------------------------------------


def _visible_coi(request: Request, principal: Principal, coi: str) -> str | None:
    """The case's COI if it exists and is in the principal's read scope (else None: 404)."""
    with session.container_of(request).engine.connect() as conn:
        found = case_summary(conn, coi.strip().upper()[:64])
        if found is None or not case_visible(conn, read_scope(principal), found["coi"]):
            return None
    return found["coi"]


def _summary(request: Request, coi: str) -> dict[str, Any] | None:
    services = session.container_of(request).services
    return release_summary(services.reads(), coi, now=utc_now(), case_units=services.executor.case_units)


def _release_page(request: Request, principal: Principal, coi: str, *, problem: dict[str, str] | None = None,
                  notice: str | None = None, status: int = 200, values: dict[str, str] | None = None) -> Response:
    summary = _summary(request, coi)
    if summary is None:
        return page(request, "missing.html", {"what": f"No case with COI {coi}."}, principal=principal, status=404)
    exceptions = summary["exceptions"]
    open_ = [e for e in exceptions if e["state"] == "open"]
    review = summary["review"]
    releasable = [p for p in summary["products"]
                  if not p["released"] and p["coi"] == summary["coi"] and not p["quarantined"]]
    context = {
        "coi": coi, "summary": summary, "review": review,
        "open_blocking": [e for e in open_ if e["severity"] != "informational"],
        "open_informational": [e for e in open_ if e["severity"] == "informational"],
        "releasable": releasable,
        "sig_by_event": {s["event_id"]: s for s in summary["signatures"]},
        "listed_json": json.dumps(review["sign_off_list"], separators=(",", ":")),
        "lot": summary["lots"][0]["lot"] if len(summary["lots"]) == 1 else "",
        "may_review": permits(principal, ExceptionDispositioned.__name__),
        "may_release": permits(principal, ProductReleased.__name__),
        "signer_id": principal.id if session.has_signed(request) else "",
        "problem": problem, "notice": notice, "values": values or {}, "figure_names": FIGURES,
    }
    assert_no_pseudonym(context)
    return page(request, "release.html", context, principal=principal, status=status)


@router.get("/cases/{coi}/release")
def release_page(request: Request, coi: str, done: Annotated[str | None, Query(max_length=40)] = None) -> Response:
    principal = _qa_reader(request, "Your role may not read a case's review and release.")
    if isinstance(principal, Response):
        return principal
    found = _visible_coi(request, principal, coi)
    if found is None:
        return page(request, "missing.html", {"what": f"No case with COI {coi[:64]}."}, principal=principal,
                    status=404)
    return _release_page(request, principal, found, notice=DONE.get(done or ""))


DONE = {
    "deviation": "Deviation opened: disposition its exceptions with the classification deviation and its id.",
    "disposition": "Disposition recorded and e-signed (meaning: reviewed).",
    "assessment": "Excursion assessment recorded and e-signed (meaning: assessed).",
    "acknowledged": "Informational exceptions acknowledged.",
    "signoff": "Review signed off (meaning: reviewed).",
    "released": "Product released (meaning: released).",
}


@router.get("/cases/{coi}/release.pdf")
async def certificate(request: Request, coi: str) -> Response:
    return await _forward(request, coi, SUMMARY, {"format": "pdf"}, f"release-{coi[:64]}.pdf")


def _esign(user_id: str, password: str, meaning: str) -> dict[str, str] | None:
    if not password:
        return None
    if not user_id:
        raise Refused("VALIDATION_FAILED", "Enter your user id with your password to sign.", 422)
    return {"user_id": user_id, "password": password, "meaning": meaning}


def _submit(request: Request, coi: str, csrf_token: str, action: Any, done: str,
            values: dict[str, str] | None = None) -> Response:
    """Run one form's API action for the signed-in principal; on success back to the page
    (303), on a refusal the page again with the refusal's code and detail."""
    # the page is not theirs to see, refused or not
    principal = _qa_reader(request, "Your role may not review or release a case.")
    if isinstance(principal, Response):
        return principal
    found = _visible_coi(request, principal, coi)
    if found is None:  # outside the scope answers as unknown, whatever the form says
        return page(request, "missing.html", {"what": f"No case with COI {coi[:64]}."}, principal=principal,
                    status=404)
    try:
        if not session.check_session_csrf(request, csrf_token):
            raise Refused("CSRF_FAILED", "The form expired or did not come from this page: reload and try again.")
        signed = action(principal, found)
    except Refused as exc:
        return _release_page(request, principal, found, problem={"code": exc.code, "detail": exc.detail},
                             status=exc.status, values=values)
    except ValidationError as exc:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid"}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return _release_page(request, principal, found, status=422, values=values,
                             problem={"code": "VALIDATION_FAILED", "detail": f"{where}: {first.get('msg')}"})
    except LedgerError as exc:  # the API's status for it (a failed re-authentication: 401)
        status = 401 if exc.code in AUTHENTICATION_CODES else exc.status if 400 <= exc.status < 500 else 409
        return _release_page(request, principal, found, problem={"code": exc.code, "detail": exc.detail},
                             status=status, values=values)
    response = RedirectResponse(f"{release_url(found)}?done={done}", status_code=303)
    if signed:
        session.mark_signed(response, request)
    return secure(response)


def _exception(request: Request, coi: str, exception_id: str) -> dict[str, Any]:
    summary = _summary(request, coi) or {"exceptions": []}
    for e in summary["exceptions"]:
        if e["exception_id"] == exception_id:
            return e
    raise Refused("UNKNOWN_EXCEPTION", f"{exception_id} is not an exception of {coi}", 404)


@router.post("/cases/{coi}/release/disposition")
def disposition(request: Request, coi: str, csrf_token: Optional = "", exception_id: Optional = "",
                classification: Optional = "", comment: Long = "", deviation_id: Optional = "",
                user_id: Optional = "", password: Optional = "") -> Response:
    """One exception's e-signed disposition (``POST /v1/exceptions/{id}/disposition``)."""
    container = session.container_of(request)

    def act(principal: Principal, found: str) -> bool:
        exception = _exception(request, found, exception_id)
        body = DispositionBody.model_validate({
            "event_hash": exception["event_hash"], "classification": classification or None, "comment": comment,
            "deviation_id": deviation_id.strip() or None, "esign": _esign(user_id, password, "reviewed")})
        exception_routes.disposition(exception_id, body, principal, container)
        return body.esign is not None

    return _submit(request, coi, csrf_token, act, "disposition",
                   {"exception_id": exception_id, "comment": comment, "deviation_id": deviation_id})


@router.post("/cases/{coi}/release/assessment")
def assessment(request: Request, coi: str, csrf_token: Optional = "", exception_id: Optional = "",
               decision: Optional = "", comment: Long = "", user_id: Optional = "",
               password: Optional = "") -> Response:
    """A temperature excursion's e-signed assessment (``ExcursionAssessed``, meaning ``assessed``):
    QA's decision that dispositions it (use: no impact, discard: product impact)."""
    container = session.container_of(request)

    def act(principal: Principal, found: str) -> bool:
        exception = _exception(request, found, exception_id)
        if exception["kind"] != "excursion_unassessed":
            raise Refused("VALIDATION_FAILED", f"{exception_id} is not a temperature excursion: "
                                               "disposition it with its own form", 422)
        with container.engine.connect() as conn:
            stream = stream_of_event(conn, exception["opened_event_id"])
        envelopes = container.services.reads().envelopes(UUID(str(stream))) if stream else []
        opening = next((e for e in envelopes if str(e["event_id"]) == exception["opened_event_id"]), None)
        if opening is None:
            raise Refused("UNKNOWN_EXCEPTION", f"the event that opened {exception_id} is not found", 404)
        body = REQUEST_MODELS[ExcursionAssessed.__name__].model_validate({
            "type": ExcursionAssessed.__name__, "unit_id": str(opening["stream"]),
            "data": {"excursion_id": opening["data"]["excursion_id"], "decision": decision or None,
                     "rationale": comment},
            "esign": _esign(user_id, password, "assessed")})
        event_routes.post_event(body, principal, container)
        return body.esign is not None

    return _submit(request, coi, csrf_token, act, "assessment", {"exception_id": exception_id, "comment": comment})


@router.post("/cases/{coi}/release/deviation")
def open_deviation(request: Request, coi: str, csrf_token: Optional = "", deviation_id: Optional = "",
                   title: Long = "", exception_id: Annotated[list[str] | None, Form()] = None) -> Response:
    """A deviation of this case covering the exceptions ticked (``POST /v1/deviations``)."""
    container = session.container_of(request)
    ticked = [str(v)[:100] for v in (exception_id or [])[:500]]

    def act(principal: Principal, found: str) -> bool:
        body = OpenBody.model_validate({"deviation_id": deviation_id.strip(), "title": title.strip(), "coi": found,
                                        "exception_ids": ticked})
        deviation_routes.open_deviation(body, principal, container)
        return False

    return _submit(request, coi, csrf_token, act, "deviation", {"deviation_id": deviation_id, "title": title})


@router.post("/cases/{coi}/release/acknowledge")
def acknowledge(request: Request, coi: str, csrf_token: Optional = "",
                exception_id: Annotated[list[str] | None, Form()] = None, comment: Long = "",
                user_id: Optional = "", password: Optional = "") -> Response:
    """The open informational exceptions the page listed, acknowledged together
    (``POST /v1/exceptions/acknowledge``; the signature is optional)."""
    form_ids = [str(v)[:100] for v in (exception_id or [])[:500]]
    container = session.container_of(request)

    def act(principal: Principal, found: str) -> bool:
        if not form_ids:
            raise Refused("UNKNOWN_EXCEPTION", "no informational exception was listed", 422)
        body = AcknowledgeBody.model_validate({"exception_ids": form_ids, "comment": comment.strip() or None,
                                               "esign": _esign(user_id, password, "reviewed")})
        exception_routes.acknowledge(body, principal, container)
        return body.esign is not None

    return _submit(request, coi, csrf_token, act, "acknowledged")


@router.post("/cases/{coi}/release/signoff")
def sign_off(request: Request, coi: str, csrf_token: Optional = "",
             listed: Annotated[str, Form(max_length=200_000)] = "", lot: Optional = "", comment: Long = "",
             user_id: Optional = "", password: Optional = "") -> Response:
    """QA's review sign-off of exactly the exceptions the page listed (``POST
    /v1/cases/{coi}/review-signoff``; refused REVIEW_LIST_STALE if they changed meanwhile)."""
    container = session.container_of(request)

    def act(principal: Principal, found: str) -> bool:
        try:
            exceptions = json.loads(listed)
        except ValueError:
            raise Refused("VALIDATION_FAILED", "the list of exceptions reviewed is not readable", 422) from None
        body = SignOffRequest.model_validate({"exceptions": exceptions, "lot": lot.strip() or None,
                                              "comment": comment.strip() or None,
                                              "esign": _esign(user_id, password, "reviewed")})
        release_routes.sign_off(found, body, principal, container)
        return body.esign is not None

    return _submit(request, coi, csrf_token, act, "signoff", {"comment": comment})


@router.post("/cases/{coi}/release/release")
def release(request: Request, coi: str, csrf_token: Optional = "", unit_id: Optional = "", notes: Long = "",
            user_id: Optional = "", password: Optional = "") -> Response:
    """The release of one final product of the case (``ProductReleased``, meaning ``released``),
    gated by the ledger on a current review sign-off."""
    container = session.container_of(request)

    def act(principal: Principal, found: str) -> bool:
        summary = _summary(request, found) or {"products": []}
        if not any(p["unit_id"] == unit_id and p["coi"] == found for p in summary["products"]):
            raise Refused("UNIT_NOT_FOUND", f"no final product {unit_id[:40]} of {found}", 404)
        body = REQUEST_MODELS[ProductReleased.__name__].model_validate({
            "type": ProductReleased.__name__, "unit_id": unit_id, "data": {"notes": notes.strip() or None},
            "esign": _esign(user_id, password, "released")})
        event_routes.post_event(body, principal, container)
        return body.esign is not None

    return _submit(request, coi, csrf_token, act, "released", {"notes": notes})


