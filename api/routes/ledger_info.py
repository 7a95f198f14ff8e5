"""The ledger's published keys, signed checkpoints and Merkle proofs (public: an auditor
needs no account to check that the operator has not rewritten history)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse

from ledger.bootstrap import key_store
from ledger.errors import StreamNotFound
from projections.checkpoints import export_checkpoints, latest_checkpoint
from projections.merkle_log import consistency_proof, inclusion_proof

from ..deps import ContainerDep
from ..responses import CheckpointAnswer, ConsistencyProof, InclusionProof, KeyRingAnswer
from ..schemas import PROBLEMS

router = APIRouter(prefix="/v1/ledger", tags=["ledger"], responses=PROBLEMS)

Size = Annotated[int, Query(ge=0, le=2**62)]


@router.get("/keys", summary="Sealing public keys with their validity periods", response_model=KeyRingAnswer)
def keys(container: ContainerDep) -> dict[str, Any]:
    return key_store(container.settings).key_ring().to_json()


@router.get("/checkpoint", summary="The latest signed checkpoint (C2SP tlog-checkpoint note included)",
            response_model=CheckpointAnswer)
def checkpoint(container: ContainerDep) -> dict[str, Any]:
    with container.engine.connect() as conn:
        found = latest_checkpoint(conn)
    if found is None:
        raise StreamNotFound("no checkpoint has been signed yet", code="NO_CHECKPOINT")
    return found


@router.get("/checkpoints.txt", summary="Every checkpoint, as a witness file to keep off-site",
            response_class=PlainTextResponse)
def witness(container: ContainerDep) -> PlainTextResponse:
    with container.engine.connect() as conn:
        return PlainTextResponse(export_checkpoints(conn))


@router.get("/proofs/inclusion", summary="Inclusion proof of an event in the tree of a checkpoint",
            response_model=InclusionProof)
def inclusion(event_id: UUID, container: ContainerDep, tree_size: Size | None = None) -> dict[str, Any]:
    with container.engine.connect() as conn:
        return inclusion_proof(conn, str(event_id), tree_size)


@router.get("/proofs/consistency", summary="Consistency proof between two tree sizes",
            response_model=ConsistencyProof)
def consistency(first: Size, second: Size, container: ContainerDep) -> dict[str, Any]:
    with container.engine.connect() as conn:
        return consistency_proof(conn, first, second)
