"""Therapy orders: placed for an enrolled case, planned (a proposal that writes nothing), booked
(the plan's slots taken in one append with the order's event: ``409 SLOT_UNAVAILABLE`` when a
slot went meanwhile), released, cancelled; and read with their plan, state and planned vs actual
timeline.

A write is authorised by its event type at the order's treating site (``api.authority``). A read
sees the orders treated or made at the reader's sites; a reader bound to no site sees every order
if it is a global reader or a program manager (``api.policy.GLOBAL_ORDER_READERS``), else none. An
order out of scope is answered 404, as an unknown one.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from ledger.domain.events_orders import OrderCancelled, OrderPlanBooked, OrderPlanReleased, Priority, TherapyOrdered
from ledger.domain.orders import OrderState, plan_slots, require_active
from ledger.domain.plan_rules import require_feasible, require_plan, require_plan_fits
from ledger.errors import StreamNotFound
from ledger.planning.constraints import check_plan
from ledger.planning.model import Plan
from ledger.planning.network import Network
from ledger.services.orders import order_request, proposal
from projections.orchestration_query import actuals, network, order_row, order_state, orders

from ..deps import ContainerDep, IdempotencyKey, MinPosition, PrincipalDep, Reader, authorise, context_for, fresh
from ..policy import GLOBAL_ORDER_READERS
from ..requests import Ident, Name, Reason
from ..schemas import PROBLEMS, AppendResponse, append_response

router = APIRouter(prefix="/v1/orders", tags=["orders"], responses=PROBLEMS)

OrderId = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._-]+$",
                              description="the order id")]


class NewOrder(BaseModel):
    model_config = ConfigDict(extra="forbid")
    order_id: Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._-]+$")] = Field(
        description="the order's id, chosen by the caller (never reused)")
    coi: Name = Field(description="the enrolled case's COI id")
    product: Name = Field(description="the product, as the case names it")
    treating_site: Ident = Field(description="the case's treating site: apheresis and infusion happen there")
    earliest: date = Field(description="earliest apheresis day (treating site's local calendar)")
    latest: date = Field(description="latest apheresis day")
    priority: Priority = Field(0, description="0..9, higher is more urgent when the book is re-planned")


class Booking(BaseModel):
    model_config = ConfigDict(extra="forbid")
    plan: Plan = Field(description="the plan to book, as `POST /v1/orders/{id}/plan` proposed it")


class Closing(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Reason = Field(description="why")


class Slot(BaseModel):
    site: str
    resource: Literal["apheresis", "manufacturing"]
    day: date


class Proposal(BaseModel):
    order: str
    plan: Plan
    slots: list[Slot] = Field(description="the slots the plan would hold")


class Milestone(BaseModel):
    stage: str
    planned: str | None = Field(description="the plan held now (a local day or a UTC time)")
    first_planned: str | None = Field(description="the first plan booked")
    actual: str | None = Field(description="when it happened (UTC), null until it has")
    site: str | None = None


class OrderView(BaseModel):
    order_id: str
    coi: str
    product: str
    treating_site: str
    earliest: date
    latest: date
    priority: int
    status: Literal["ordered", "booked", "cancelled"]
    state: str = Field(description="cancelled, else the latest milestone reached (collected, shipped, received, "
                                   "manufacturing_started, manufactured, qc_failed, released, return_shipped, "
                                   "returned, infused), else the status")
    plans: int = Field(description="plans booked so far (more than 1: re-planned)")
    reason: str | None = Field(description="why the plan was last replaced, released or cancelled")
    plan: Plan | None
    slots: list[Slot]
    timeline: list[Milestone]
    ordered_at: str
    ordered_by: str


class OrderList(BaseModel):
    orders: list[OrderView]
    next_after: str | None = Field(description="pass as `after` for the next page (null: last page)")


def order_sites(principal) -> frozenset[str] | None:
    """The sites whose orders ``principal`` reads (None: every order)."""
    if principal.sites:
        return frozenset(principal.sites)
    return None if principal.may(GLOBAL_ORDER_READERS) else frozenset()


def _stages(plan: dict[str, Any] | None) -> dict[str, str | None]:
    if not plan:
        return {}
    return {"apheresis": plan["apheresis"]["day"], "shipped": plan["pickup"]["depart_at"],
            "received": plan["pickup"]["arrive_at"], "manufacturing_started": plan["manufacturing"]["start_day"],
            "manufactured": plan["manufacturing"]["end_day"], "released": plan["qc_release"]["ready_at"],
            "return_shipped": plan["return_shipment"]["depart_at"],
            "returned": plan["return_shipment"]["arrive_at"], "infused": plan["infusion_window"]["from_day"]}


STAGES = ("apheresis", "shipped", "received", "manufacturing_started", "manufactured", "released",
          "return_shipped", "returned", "infused")
ACTUAL_OF = {"apheresis": "collected"}
"""The milestone that shows a stage happened (``projections.orchestration.MILESTONES``)."""


def timeline(row: dict[str, Any], done: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Planned (now and first) vs actual, stage by stage."""
    now, first = _stages(row["plan"]), _stages(row["first_plan"])
    out = []
    for stage in STAGES:
        actual = done.get(ACTUAL_OF.get(stage, stage))
        out.append({"stage": stage, "planned": now.get(stage), "first_planned": first.get(stage),
                    "actual": actual["at"] if actual else None, "site": actual["site"] if actual else None})
    if "qc_failed" in done:
        out.append({"stage": "qc_failed", "planned": None, "first_planned": None,
                    "actual": done["qc_failed"]["at"], "site": done["qc_failed"]["site"]})
    return out


def view(conn, row: dict[str, Any]) -> dict[str, Any]:
    done = actuals(conn, row["coi"])
    return {**{k: row[k] for k in ("order_id", "coi", "product", "treating_site", "earliest", "latest", "priority",
                                   "status", "plans", "reason", "plan", "ordered_at", "ordered_by")},
            "slots": row["slots"] or [], "state": order_state(row["status"], done), "timeline": timeline(row, done)}


def _visible_order(container, principal, order_id: str) -> dict[str, Any]:
    """The order's read-model row, if ``principal`` may read it; else 404 as for an unknown order."""
    sites = order_sites(principal)
    container.runner.wait_for(container.ledger.last_position())
    with container.engine.connect() as conn:
        row = order_row(conn, order_id)
    if row is None or not (sites is None or row["treating_site"] in sites or row["plant"] in sites):
        raise StreamNotFound(f"no order {order_id}", code="ORDER_NOT_FOUND")
    return row


def _writable_order(container, principal, order_id: str, action: str) -> OrderState:
    """The order's state, once ``principal`` is authorised for ``action`` at its treating site."""
    authorise(principal, action)
    order = container.services.orders.order(order_id)
    if order.ordered is None:
        raise StreamNotFound(f"no order {order_id}", code="ORDER_NOT_FOUND")
    authorise(principal, action, order.ordered.treating_site)
    return order


@router.post("", status_code=201, response_model=AppendResponse,
             summary="Order a therapy for an enrolled case (clinician of the treating site, or program manager)")
def place(body: NewOrder, principal: PrincipalDep, container: ContainerDep,
          idempotency_key: IdempotencyKey = None) -> AppendResponse:
    authorise(principal, TherapyOrdered.__name__, body.treating_site)
    ctx = context_for(principal, site=body.treating_site, idempotency_key=idempotency_key,
                      request_body=body.model_dump(mode="json"), route="/v1/orders")
    return append_response(container.services.orders.place(
        ctx, order_id=body.order_id, coi=body.coi.upper(), product=body.product, treating_site=body.treating_site,
        earliest=body.earliest, latest=body.latest, priority=body.priority))


@router.get("", summary="Orders the caller may read, by id", response_model=OrderList)
def list_orders(principal: Reader, container: ContainerDep,
                status: Literal["ordered", "booked", "cancelled"] | None = None,
                after: Annotated[str, Query(max_length=128, description="the last order id of the page before")] = "",
                limit: Annotated[int, Query(ge=1, le=500)] = 100,
                min_position: MinPosition = None) -> dict[str, Any]:
    fresh(container, min_position)
    with container.engine.connect() as conn:
        found = orders(conn, sites=order_sites(principal), status=status, after=after, limit=limit)
        views = [view(conn, row) for row in found]
    return {"orders": views, "next_after": views[-1]["order_id"] if len(views) == limit else None}


@router.get("/{order_id}", summary="An order: its plan, state and planned vs actual timeline",
            response_model=OrderView)
def get_order(order_id: OrderId, principal: Reader, container: ContainerDep,
              min_position: MinPosition = None) -> dict[str, Any]:
    fresh(container, min_position)
    row = _visible_order(container, principal, order_id)
    with container.engine.connect() as conn:
        return view(conn, row)


@router.post("/{order_id}/plan", response_model=Proposal,
             summary="Propose a plan for the order (the greedy planner over the free capacity): writes nothing")
def propose(order_id: OrderId, principal: PrincipalDep, container: ContainerDep) -> dict[str, Any]:
    order = _writable_order(container, principal, order_id, OrderPlanBooked.__name__)
    plan = require_plan(proposal(_network(container, order, order_id), order, container.planner,
                                 not_before=container.services.executor.clock()), order_id)
    return {"order": order_id, "plan": plan,
            "slots": [{"site": s, "resource": r, "day": d} for s, r, d in plan_slots(plan)]}


def _network(container: Any, order: OrderState, order_id: str) -> Network:
    """The network as the read model knows it once it has caught up with the log, the order's own
    slots counted free (a re-plan may keep them)."""
    ordered = require_active(order, order_id)
    container.runner.wait_for(container.ledger.last_position())
    with container.engine.connect() as conn:
        return network(conn, {ordered.product: container.services.orders.timing(ordered.product)},
                       held_by=[order_id])


def _order_write(container: Any, principal: Any, order_id: str, event_type: str, body: BaseModel,
                 idempotency_key: str | None, action: str) -> tuple[OrderState, Any]:
    """The order and the context of a write to it, authorised for ``event_type`` at its treating site."""
    order = _writable_order(container, principal, order_id, event_type)
    return order, context_for(principal, site=order.ordered.treating_site, idempotency_key=idempotency_key,
                       request_body=body.model_dump(mode="json"), route=f"/v1/orders/{order_id}/{action}")


@router.post("/{order_id}/book", status_code=201, response_model=AppendResponse,
             summary="Book a proposed plan: its slots and the order's plan in one append (409 SLOT_UNAVAILABLE)")
def book(order_id: OrderId, body: Booking, principal: PrincipalDep, container: ContainerDep,
         idempotency_key: IdempotencyKey = None) -> AppendResponse:
    order, ctx = _order_write(container, principal, order_id, OrderPlanBooked.__name__, body, idempotency_key, "book")
    require_plan_fits(require_active(order, order_id), body.plan, first=order.plans == 0)
    broken = check_plan(_network(container, order, order_id), order_request(order), body.plan)
    require_feasible(order_id, [f"{v.rule}: {v.detail}" for v in broken])
    return append_response(container.services.orders.book(ctx, order_id=order_id, plan=body.plan))


@router.post("/{order_id}/release", status_code=201, response_model=AppendResponse,
             summary="Give up the order's plan: its slots are released")
def release(order_id: OrderId, body: Closing, principal: PrincipalDep, container: ContainerDep,
            idempotency_key: IdempotencyKey = None) -> AppendResponse:
    _, ctx = _order_write(container, principal, order_id, OrderPlanReleased.__name__, body, idempotency_key, "release")
    return append_response(container.services.orders.release(ctx, order_id=order_id, reason=body.reason))


@router.post("/{order_id}/cancel", status_code=201, response_model=AppendResponse,
             summary="Cancel the order: its slots are released")
def cancel(order_id: OrderId, body: Closing, principal: PrincipalDep, container: ContainerDep,
           idempotency_key: IdempotencyKey = None) -> AppendResponse:
    _, ctx = _order_write(container, principal, order_id, OrderCancelled.__name__, body, idempotency_key, "cancel")
    return append_response(container.services.orders.cancel(ctx, order_id=order_id, reason=body.reason))
