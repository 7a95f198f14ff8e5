"""The auditor's dossier of one case: the offline-verifiable JSON bundle, or its PDF rendering."""

from __future__ import annotations

import json
from typing import Any, Literal

from fastapi import APIRouter, Response

from ledger.bootstrap import key_store
from ledger.errors import StorageUnavailable, StreamNotFound
from ledger.merkle import Ed25519NoteSigner
from ledger.verification.dossier import verify_dossier
from projections.dossier_query import issue_dossier

from ..container import Container
from ..deps import AuditReader, ContainerDep, Scope, case_in_scope
from ..schemas import PROBLEMS

router = APIRouter(prefix="/v1", tags=["read models"], responses=PROBLEMS)


def dossier_for(container: Container, coi: str) -> dict[str, Any]:
    """The attested bundle of ``coi``: the Merkle tree caught up and a checkpoint covering it."""
    ledger, settings = container.ledger, container.settings

    def catch_up() -> None:
        if not container.wait_for(ledger.last_position(), timeout=10.0):
            raise StorageUnavailable("the Merkle log has not caught up yet; retry shortly", code="NOT_YET_VISIBLE")

    def publish() -> None:
        container.publish_checkpoint()

    bundle = issue_dossier(container.engine, coi, keyring=key_store(settings).key_ring(),
                           signer=Ed25519NoteSigner(settings.log_origin, ledger.sealing_key.private_key),
                           catch_up=catch_up, publish=publish)
    if bundle is None:
        raise StreamNotFound(f"no case {coi}", code="CASE_NOT_FOUND")
    return bundle


@router.get("/cases/{coi}/dossier", summary="Offline-verifiable dossier of a case (JSON), or its PDF",
            responses={200: {"content": {"application/json": {"schema": {
                "type": "object", "description": "the bundle: streams, proofs, checkpoint, keys, summary"}},
                "application/pdf": {}}}})
def dossier(coi: str, principal: AuditReader, scope: Scope, container: ContainerDep,
            format: Literal["json", "pdf"] = "json") -> Response:  # noqa: A002 - the documented name
    bundle = dossier_for(container, case_in_scope(container, scope, coi.upper()))
    name = f"dossier-{bundle['coi']}"
    if format == "pdf":
        from ..dossier_pdf import render_pdf

        return Response(render_pdf(bundle, verify_dossier(bundle)), media_type="application/pdf",
                        headers={"Content-Disposition": f'attachment; filename="{name}.pdf"'})
    return Response(json.dumps(bundle, ensure_ascii=False).encode("utf-8"), media_type="application/json",
                    headers={"Content-Disposition": f'attachment; filename="{name}.json"'})
