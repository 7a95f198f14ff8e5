"""Alerts: the open (and cleared) conditions that need a person, within the reader's sites.

Read only: alerts are raised and cleared by the ledger itself (``docs/ALERTS.md``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from ledger.domain.events_alert import Email
from ledger.errors import StorageUnavailable, StreamNotFound
from projections.alerts_query import alert, alerts

from ..deps import Admin, ContainerDep, MinPosition, Reader, Scope, context_for, fresh
from ..responses import Alert
from ..schemas import PROBLEMS, AppendResponse, append_response

router = APIRouter(prefix="/v1", tags=["alerts"], responses=PROBLEMS)

AlertPath = Annotated[str, Path(min_length=3, max_length=200, pattern=r"^[a-z_]+:[^\x00-\x1f\x7f/]+$",
                                description="`<kind>:<subject>`")]

UserPath = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f\x7f]+$")]


def _fresh(container: Any, min_position: int | None) -> None:
    """Read-your-writes on the alerts' own follower (a position not yet written is refused, 422)."""
    fresh(container, min_position)
    if min_position is None or container.alerts is None:
        return
    if not container.alerts.follower.wait_for(min_position, timeout=5.0):
        raise StorageUnavailable("the alerts have not caught up yet; retry shortly", code="NOT_YET_VISIBLE")


@router.get("/alerts", summary="Alerts of the reader's sites, newest first", response_model=list[Alert])
def list_alerts(principal: Reader, scope: Scope, container: ContainerDep,
                state: Literal["open", "cleared", "all"] = "open",
                site: Annotated[str | None, Query(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f\x7f]+$")] = None,
                limit: Annotated[int, Query(ge=1, le=1000)] = 500,
                min_position: MinPosition = None) -> list[dict[str, Any]]:
    _fresh(container, min_position)
    with container.engine.connect() as conn:
        return alerts(conn, scope, state=state, site=site, limit=limit)


@router.get("/alerts/{alert_id}", summary="One alert", response_model=Alert)
def one_alert(alert_id: AlertPath, principal: Reader, scope: Scope, container: ContainerDep,
              min_position: MinPosition = None) -> dict[str, Any]:
    _fresh(container, min_position)
    with container.engine.connect() as conn:
        found = alert(conn, scope, alert_id)
    if found is None:
        raise StreamNotFound(f"no alert {alert_id}", code="ALERT_NOT_FOUND")
    return found


class Contact(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: Email | None = Field(description="where the user is mailed the alerts of their sites (null: nowhere)")


@router.post("/users/{user_id}/contact", status_code=201, response_model=AppendResponse,
             summary="Set the e-mail address a user is sent the alerts of their sites at")
def set_contact(user_id: UserPath, body: Contact, principal: Admin, container: ContainerDep) -> AppendResponse:
    assert container.alerts is not None
    return append_response(container.alerts.service.set_contact(context_for(principal, site=None),
                                                                user_id=user_id, email=body.email))
