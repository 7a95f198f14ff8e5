"""``ledger export --coi X --format epcis``: a whole case as one GS1 EPCIS 2.0 document.

The document validates against the EPCIS 2.0 JSON schema; captured into another ledger
(``POST /v1/epcis/capture?coi=<that ledger's case>``) it rebuilds the case's units and
genealogy there (see docs/EPCIS.md, "Export and re-import").
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from ledger.domain.identifiers import validate_coi
from ledger.errors import LedgerError, StreamNotFound


def export(coi: str, output: str | Path | None) -> None:
    """Write the case's EPCISDocument to ``output`` (a path), or to stdout when None.
    A refusal (malformed or unknown COI) is printed with its code; the exit status is 1."""
    try:
        _export(coi, output)
    except LedgerError as exc:
        sys.stderr.write(f"{exc.code}: {exc.detail}\n")
        raise typer.Exit(1) from None


def _export(coi: str, output: str | Path | None) -> None:
    from api.container import build_container
    from api.epcis.query import case_document

    from .common import settings

    case = validate_coi(coi)
    container = build_container(settings().model_copy(update={"run_projections": False}))
    try:
        container.catch_up()
        with container.engine.connect() as conn:
            document = case_document(conn, container.ledger, case)
    finally:
        container.close()
    if not document["epcisBody"]["eventList"]:
        raise StreamNotFound(f"no case {case} in this ledger", code="CASE_NOT_FOUND")
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    if output:
        Path(output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
