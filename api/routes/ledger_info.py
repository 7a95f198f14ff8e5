"""The ledger's published keys (and, with the Merkle log, checkpoints and proofs)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ledger.bootstrap import key_store

from ..deps import ContainerDep
from ..schemas import PROBLEMS

router = APIRouter(prefix="/v1/ledger", tags=["ledger"], responses=PROBLEMS)


@router.get("/keys", summary="Sealing public keys with their validity periods (no auth: they are public)")
def keys(container: ContainerDep) -> dict[str, Any]:
    return key_store(container.settings).key_ring().to_json()
