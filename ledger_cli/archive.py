"""``ledger export archive DIR|FILE.zip``: the whole ledger for an auditor, verifiable offline.

Layout (a directory, or the same paths inside a zip file)::

    manifest.json        format "coi-ledger-archive" version 1, generated_at, origin, the newest
                         checkpoint, every dossier (coi, file, sha256), and RFC 9162 consistency
                         proofs between consecutive signed checkpoints
    keyring.json         the published sealing keys (as GET /v1/ledger/keys)
    checkpoints.txt      every signed checkpoint note (a witness file, ``ledger checkpoints export``)
    dossiers/<COI>.json  each case's dossier (as ``ledger export --coi``), all on the newest checkpoint

``tools/verify_archive.py`` checks it with the standard library and ``cryptography`` only.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any

from ledger.timefmt import format_utc, utc_now

FORMAT, VERSION = "coi-ledger-archive", 1


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, indent=1).encode("utf-8") + b"\n"


def build_archive(container: Any) -> dict[str, bytes]:
    """The archive's files (path -> bytes) from a container without running followers."""
    from api.routes.dossier import dossier_for
    from ledger.bootstrap import key_store
    from projections.cases_query import list_cases
    from projections.checkpoints import export_checkpoints
    from projections.merkle_log import consistency_proof

    container.catch_up()
    container.publish_checkpoint()  # every dossier below proves inclusion in this one
    files: dict[str, bytes] = {}
    entries = []
    with container.engine.connect() as conn:
        cois, cursor = [], None
        while True:
            page = list_cases(conn, cursor=cursor, limit=200)
            cois += [case["coi"] for case in page["items"]]
            if not (cursor := page["next_cursor"]):
                break
    for coi in cois:
        data = _json(dossier_for(container, coi))
        path = f"dossiers/{coi}.json"
        files[path] = data
        entries.append({"coi": coi, "file": path, "sha256": hashlib.sha256(data).hexdigest()})
    with container.engine.connect() as conn:
        witness = export_checkpoints(conn)
        rows = conn.exec_driver_sql("SELECT tree_size, note FROM checkpoints ORDER BY tree_size").all()
        sizes = [int(r[0]) for r in rows]
        proofs = [consistency_proof(conn, a, b) for a, b in zip(sizes, sizes[1:], strict=False)]
    newest = rows[-1][1] if rows else None
    files["keyring.json"] = _json(key_store(container.settings).key_ring().to_json())
    files["checkpoints.txt"] = witness.encode("utf-8")
    files["manifest.json"] = _json({
        "format": FORMAT, "version": VERSION, "generated_at": format_utc(utc_now()),
        "origin": container.settings.log_origin, "checkpoint": newest,
        "keys": "keyring.json", "checkpoints": "checkpoints.txt", "dossiers": entries,
        "consistency": [{k: p[k] for k in ("first", "second", "proof")} for p in proofs],
    })
    return files


def write_archive(files: dict[str, bytes], target: Path) -> None:
    """A zip file when ``target`` ends in .zip, else a directory (created; must be empty)."""
    if target.suffix.lower() == ".zip":
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(files):
                archive.writestr(path, files[path])
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_bytes(buffer.getvalue())
        tmp.replace(target)
        return
    if target.exists() and any(target.iterdir()):
        raise FileExistsError(f"{target} is not empty")
    for path, data in files.items():
        (target / path).parent.mkdir(parents=True, exist_ok=True)
        (target / path).write_bytes(data)
