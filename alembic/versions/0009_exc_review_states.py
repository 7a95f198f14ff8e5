"""Review by exception closes only by QA's disposition: ``review_exceptions`` gains ``severity``,
``state`` (open / dispositioned), ``cleared``, ``classification``, ``deviation_id``,
``dispositioned_event_id`` and ``opened_hash`` (the opening event's hash, which a disposition
signs).

What raises, clears and dispositions an exception changed with this revision (a later event
only clears; wrong-purpose and unknown scans are informational; a refused scan raises one
exception), so the read models are emptied with their tracking, as in 0007: the follower
rebuilds them from the log at the next start (the events themselves are untouched).

Revision ID: 0009_exc
Revises: 0008
"""

from alembic import op

revision = "0009_exc"
down_revision = "0008"
branch_labels = None
depends_on = None

READ_MODEL_TABLES = (
    "stream_directory", "cases", "genealogy_nodes", "genealogy_edges", "custody_units", "custody_intervals",
    "custody_transfers", "custody_shipments", "condition_units", "condition_packing", "condition_uploads",
    "excursions", "audit_trail", "audit_links", "review_exceptions", "unit_identifiers", "scope_sites",
    "scope_units")
READ_MODEL_TRACKING = ("read_models", "cases", "genealogy", "custody", "conditions", "audit_trail", "exceptions",
                       "unit_identifiers", "read_scope")
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
    for table in READ_MODEL_TABLES:
        op.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed names
    names = ", ".join(f"'{name}'" for name in READ_MODEL_TRACKING)
    op.execute(f"DELETE FROM projection_tracking WHERE name IN ({names})")  # noqa: S608


def downgrade() -> None:
    op.execute("DROP INDEX ix_exceptions_coi_state")
    op.execute("DROP INDEX ix_exceptions_state")
    for name, _ in reversed(COLUMNS):
        op.execute(f"ALTER TABLE review_exceptions DROP COLUMN {name}")
