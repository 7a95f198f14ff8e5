"""Review by exception closes only by QA's disposition: ``review_exceptions`` gains ``severity``,
``state`` (open / dispositioned), ``cleared``, ``classification``, ``deviation_id``,
``dispositioned_event_id`` and ``opened_hash`` (the opening event's hash, which a disposition
signs).

Rows written before are filled in place: ``severity`` from the kind (``ledger.domain.exceptions``),
``cleared`` where the old model had ``resolved`` them, ``state`` ``open`` (nothing was ever
dispositioned: before this revision no exception closed by QA's decision), ``opened_hash`` from
the opening event as stored in the log. The rules also changed for some past events (QA's
excursion assessment and correction approval now disposition; a refused scan raises only its
refusal): ``ledger projections rebuild`` applies the new rules to the whole log.

Revision ID: 0009_exc
Revises: 0008
"""

from alembic import op

revision = "0009_exc"
down_revision = "0008"
branch_labels = None
depends_on = None

# The kinds that existed before this revision and their severity (``ledger.domain.exceptions``),
# frozen here as a migration must be.
SEVERITY = {
    "operation_refused": "coi_critical", "scan_mismatch": "coi_critical", "excursion_unassessed": "gmp",
    "excursion_discarded": "gmp", "qc_failed": "gmp", "quarantine": "gmp", "correction_pending": "gmp",
    "event_corrected": "gmp", "scan_expired": "gmp", "overdue_handoff": "gmp", "overdue_delivery": "gmp",
    "scan_unknown": "informational", "scan_wrong_step": "informational", "access_denied_burst": "informational",
    "account_locked": "informational",
}
COLUMNS = (
    ("severity", "VARCHAR(16) NOT NULL DEFAULT 'gmp'"),
    ("state", "VARCHAR(16) NOT NULL DEFAULT 'open'"),
    ("cleared", "BOOLEAN NOT NULL DEFAULT FALSE"),
    ("classification", "VARCHAR(16)"),
    ("deviation_id", "VARCHAR(64)"),
    ("dispositioned_event_id", "VARCHAR(36)"),
    ("opened_hash", "VARCHAR(64)"),
)


def upgrade() -> None:
    for name, kind in COLUMNS:
        op.execute(f"ALTER TABLE review_exceptions ADD COLUMN {name} {kind}")
    op.execute("CREATE INDEX ix_exceptions_state ON review_exceptions (state, severity, opened_position)")
    op.execute("CREATE INDEX ix_exceptions_coi_state ON review_exceptions (coi, state, opened_position)")
    cases = " ".join(f"WHEN '{kind}' THEN '{severity}'" for kind, severity in SEVERITY.items())
    op.execute(f"UPDATE review_exceptions SET severity = CASE kind {cases} ELSE 'gmp' END, "  # noqa: S608
               "cleared = (status = 'resolved')")
    if op.get_bind().dialect.name == "sqlite":
        op.execute("UPDATE review_exceptions SET opened_hash = (SELECT json_extract(CAST(e.state AS TEXT), '$.hash') "
                   "FROM stored_events e WHERE e.rowid = review_exceptions.opened_position)")
    else:
        op.execute("UPDATE review_exceptions r SET opened_hash = convert_from(e.state, 'UTF8')::jsonb ->> 'hash' "
                   "FROM ledger_events e WHERE e.notification_id = r.opened_position")


def downgrade() -> None:
    op.execute("DROP INDEX ix_exceptions_coi_state")
    op.execute("DROP INDEX ix_exceptions_state")
    for name, _ in reversed(COLUMNS):
        op.execute(f"ALTER TABLE review_exceptions DROP COLUMN {name}")
