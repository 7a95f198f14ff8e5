"""Read models as evidence: a DBA's edit of the audit trail, a custody row, a case's status or
the genealogy (tables the API, CSV and portal serve, guarded by no seal) is named by
``ledger verify`` (exit 1), and the API and the portal mark each edited audit-trail row as not
verified; untouched, every row carries the position and hash of its sealed event, the API and the
portal say verified, and ``ledger verify`` says intact."""

from __future__ import annotations

import csv
import io

from typer.testing import CliRunner

from ledger_cli.main import app
from tests import tamper

from ..conftest import PASSPHRASE


def _verify(settings, *args: str):
    env = {"LEDGER_DATABASE_URL": settings.database_url, "LEDGER_KEYS_DIR": str(settings.keys_dir),
           "LEDGER_KEY_PASSPHRASE": PASSPHRASE, "LEDGER_ENV": "test",
           "LEDGER_SITE_SECRET": "e2e site secret, long enough", "LEDGER_TOKEN_SECRET": "e2e token secret, long enough"}
    return CliRunner().invoke(app, ["verify", "--workers", "1", *args], env=env)


def _trail(client, login, coi: str) -> dict[int, dict]:
    response = client.get("/v1/audit-trail", headers=login("auditor"), params={"coi": coi, "limit": 1000})
    assert response.status_code == 200, response.text
    return {row["position"]: row for row in response.json()["items"]}


def _log_hashes(container) -> dict[int, tuple[str, str]]:
    return {p: (e.envelope["event_id"], e.hash) for p, e in container.ledger.read_log(after=0, limit=100_000)}


def test_read_model_rows_are_checked_against_the_sealed_events(client, login, portal_login, demo, settings,
                                                               database):
    container = client.app.state.container
    log = _log_hashes(container)

    # Untouched: every row carries its event's position and hash, and is verified.
    rows = _trail(client, login, demo.coi)
    assert rows and all(row["verified"] and row["problem"] is None for row in rows.values())
    assert all(log[p] == (row["event_id"], row["event_hash"]) for p, row in rows.items())
    exported = client.get("/v1/audit-trail", headers=login("auditor"), params={"coi": demo.coi, "format": "csv"})
    table = list(csv.DictReader(io.StringIO(exported.text)))
    assert table and all(log[int(r["position"])][1] == r["event_hash"] for r in table)
    assert portal_login("qa").status_code == 303
    page = client.get(f"/portal/cases/{demo.coi}").text
    assert "✖ not verified" not in page and "✔ verified" in page and "Verification failed" not in page
    clean = _verify(settings)
    assert clean.exit_code == 0, clean.output
    assert "intact" in clean.output and "read models:" in clean.output and "compared" in clean.output

    # A DBA edits what the API, CSV and portal show.
    released = next(p for p, r in rows.items() if r["type"] == "ProductReleased")
    shipper = str(demo.units["shipper"])
    foreign = next(p for p, r in _trail(client, login, demo.allogeneic_coi).items() if p not in rows)
    edits = [
        ("UPDATE audit_trail SET actor = ? WHERE position = ?", ("mallory", released)),
        ("UPDATE custody_units SET custodian = ? WHERE unit_id = ?", ("mallory", shipper)),
        ("UPDATE cases SET status = ? WHERE coi = ?", ("cancelled", demo.coi)),
        ("UPDATE genealogy_nodes SET label = ? WHERE node_id = ?", ("FORGED-LABEL", shipper)),
        ("INSERT INTO audit_links (key_kind, link_key, position) VALUES ('coi', ?, ?)", (demo.coi, foreign)),
    ]
    for statement, params in edits:
        assert tamper.edit_read_model(database, statement, params) == 1, statement

    broken = _verify(settings)
    assert broken.exit_code == 1, broken.output
    lines = broken.output.splitlines()
    expected_actor = rows[released]["actor"]
    assert f"read model audit_trail [position={released}] actor: stored 'mallory', expected '{expected_actor}'" in lines
    assert any(line.startswith(f"read model custody_units [unit_id={shipper}] custodian: stored 'mallory'")
               for line in lines), broken.output
    assert any(line.startswith("read model cases [case_id=") and "status: stored 'cancelled'" in line
               for line in lines), broken.output
    assert any(line.startswith(f"read model genealogy_nodes [node_id={shipper}] label: stored 'FORGED-LABEL'")
               for line in lines), broken.output
    assert (f"read model audit_links [key_kind=coi, link_key={demo.coi}, position={foreign}]: unexpected "
            "(no event makes this row)") in lines
    assert lines[-1].startswith("NOT intact: 5 findings")
    assert _verify(settings, "--no-read-models").exit_code == 0  # the events themselves are intact

    rows = _trail(client, login, demo.coi)
    assert not rows[released]["verified"] and "actor" in rows[released]["problem"]
    assert not rows[foreign]["verified"] and "does not concern" in rows[foreign]["problem"]
    assert all(row["verified"] for p, row in rows.items() if p not in (released, foreign))
    page = client.get(f"/portal/cases/{demo.coi}").text
    assert "Verification failed" in page and page.count("✖ not verified") >= 2
    row_html = page.split(f'id="ev-{rows[released]["event_id"]}"')[1].split("</tr>")[0]
    assert "✖ not verified" in row_html and "actor" in row_html


def test_fast_skips_the_read_models_unless_asked(client, settings, database):
    """``--fast`` is the quick check: the read models are compared only with ``--read-models``."""
    tamper.edit_read_model(database, "INSERT INTO cases (case_id, coi, kind, milestone, held, cancelled, status, "
                           "enrolled_at, enrolled_position, event_id, units, last_event_at, last_position) VALUES "
                           "('forged', 'FORGED', 'autologous', 'enrolled', 0, 0, 'enrolled', 'x', 999999, 'e', 0, "
                           "'x', 999999)")
    fast = _verify(settings, "--fast")
    assert fast.exit_code == 0 and "read models not compared" in fast.output, fast.output
    asked = _verify(settings, "--fast", "--read-models")
    assert asked.exit_code == 1, asked.output
    assert "read model cases [case_id=forged]: unexpected (no event makes this row)" in asked.output.splitlines()
