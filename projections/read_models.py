"""The read models the composition root runs: ``all_projections()``.

Every projection is tracked on its own (``projection_tracking`` by name). By default they run
as one :class:`ProjectionGroup`, tracked as ``read_models``: each batch of the log is read
once, each event is converted to its typed data once, and both are applied to all of them in one
transaction (a rebuild then costs one pass over the log instead of one per read model).
``grouped=False`` returns them separately (each then converts the events itself).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection

from ledger.domain.catalogue import typed
from ledger.store.records import SealedEvent

from .audit import AuditTrailProjection
from .cases import CasesProjection
from .common import ReadModel, StreamDirectory, register_streams
from .conditions import ConditionsProjection
from .custody import CustodyProjection
from .exceptions import ExceptionsProjection
from .genealogy import GenealogyProjection
from .identifiers import UnitIdentifiersProjection
from .orchestration import OrchestrationProjection
from .review_queue import ReviewQueueProjection
from .runner import Projection
from .scope import ReadScopeProjection

GROUP_NAME = "read_models"


class ProjectionGroup:
    """Several projections applied together as one (same position, same transaction)."""

    def __init__(self, projections: Sequence[Projection], name: str = GROUP_NAME) -> None:
        self.name = name
        self.members = list(projections)
        self.directory = StreamDirectory(name)
        for member in self.members:
            if isinstance(member, ReadModel):
                member.share(self.directory)  # one stream directory for the whole group

    def sole_writer(self) -> None:
        """The group alone fills tables that start empty (a rebuild's share): its directory and
        read models answer their own lookups from memory."""
        self.directory.sole_writer()
        for member in self.members:
            if isinstance(member, ReadModel):
                member.sole_writer()

    @property
    def append_only(self) -> tuple[str, ...]:
        members = (m.append_only_tables() if isinstance(m, ReadModel) else getattr(m, "append_only", ())
                   for m in self.members)
        return (*self.directory.append_only, *(t for tables in members for t in tables))

    def apply(self, conn: Connection, position: int, event: SealedEvent) -> None:
        """Convert the event to its typed data once, for every member (None: a type this code
        does not know), then let each read model project it."""
        env = event.envelope
        data = typed(env["type"], env["data"])
        register_streams(self.directory, conn, env, data)
        for projection in self.members:
            if isinstance(projection, ReadModel):
                projection.project_sealed(conn, position, event, data)
            else:
                projection.apply(conn, position, event)

    def begin_batch(self) -> None:
        for projection in self.members:
            begin = getattr(projection, "begin_batch", None)
            if begin is not None:
                begin()

    def finish_batch(self, conn: Connection) -> None:
        for projection in self.members:
            finish = getattr(projection, "finish_batch", None)
            if finish is not None:
                finish(conn)

    def reset(self, conn: Connection) -> None:
        self.directory.reset(conn)
        for projection in self.members:
            projection.reset(conn)


def read_models() -> list[Projection]:
    """One fresh instance of each read model (they keep small caches: one per runner)."""
    return [CasesProjection(), GenealogyProjection(), CustodyProjection(),
            ConditionsProjection(), AuditTrailProjection(), ExceptionsProjection(),
            UnitIdentifiersProjection(), ReadScopeProjection(), ReviewQueueProjection(),
            OrchestrationProjection()]


def all_projections(settings: Any = None, *, grouped: bool = True) -> list[Projection]:
    """The read models for a :class:`~projections.runner.ProjectionRunner`.

    ``settings`` is accepted for the composition root's convenience (no read model needs a
    setting to apply events: limits such as the overdue-handover threshold are query
    arguments). The Merkle follower is not included: it has its own signer and composition.
    """
    members = read_models()
    return [ProjectionGroup(members)] if grouped else members
