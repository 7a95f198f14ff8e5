"""Review queue: per-case facts for QA's work queue (``queue_cases``, ``queue_products``) and the
search keys that are not on a label (``search_keys``: lot numbers, tracking numbers), maintained by
the ``review_queue`` read model (``projections/review_queue.py``).

Like 0007, a new member of the read-model group must see the whole log: the read models and their
tracking are emptied and the follower rebuilds them from the log at the next start (the events
themselves are untouched).

Revision ID: 0011_queue
Revises: 0010_sig
"""

from alembic import op

revision = "0011_queue"
down_revision = "0010_sig"
branch_labels = None
depends_on = None

ID = "VARCHAR(36)"
NAME = "VARCHAR(128)"
TIME = "VARCHAR(32)"
COI = "VARCHAR(20)"

TABLES = {
    "queue_cases": f"""
        case_id {ID} PRIMARY KEY, coi {COI} NOT NULL UNIQUE, collected_at {TIME}, manufactured_at {TIME},
        released_at {TIME}, infused_at {TIME}, signed_off_at {TIME}, signoff_position BIGINT,
        review_changed_position BIGINT""",
    "queue_products": f"""
        unit_id {ID} PRIMARY KEY, case_id {ID} NOT NULL, coi {COI} NOT NULL, expiry {TIME},
        labelled_at {TIME} NOT NULL, released_at {TIME}, infused SMALLINT NOT NULL, disposed SMALLINT NOT NULL,
        position BIGINT NOT NULL""",
    "search_keys": f"""
        scheme VARCHAR(16) NOT NULL, value {NAME} NOT NULL, unit_id {ID} NOT NULL, coi {COI} NOT NULL,
        event_id {ID} NOT NULL, PRIMARY KEY (scheme, value, unit_id)""",
}
INDEXES = [
    ("ix_queue_products_coi", "queue_products", "coi, released_at"),
    ("ix_search_keys_value", "search_keys", "value"),
    ("ix_exceptions_coi_opened", "review_exceptions", "coi, opened_at"),
]

READ_MODEL_TABLES = (
    "stream_directory", "cases", "genealogy_nodes", "genealogy_edges", "custody_units", "custody_intervals",
    "custody_transfers", "custody_shipments", "condition_units", "condition_packing", "condition_uploads",
    "excursions", "audit_trail", "audit_links", "review_exceptions", "unit_identifiers", "scope_sites",
    "scope_units")
READ_MODEL_TRACKING = ("read_models", "cases", "genealogy", "custody", "conditions", "audit_trail", "exceptions",
                       "unit_identifiers", "read_scope")


def upgrade() -> None:
    for table, columns in TABLES.items():
        op.execute(f"CREATE TABLE {table} ({columns.strip()})")
    for name, table, columns in INDEXES:
        op.execute(f"CREATE INDEX {name} ON {table} ({columns})")
    for table in READ_MODEL_TABLES:
        op.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed names
    names = ", ".join(f"'{name}'" for name in READ_MODEL_TRACKING)
    op.execute(f"DELETE FROM projection_tracking WHERE name IN ({names})")  # noqa: S608


def downgrade() -> None:
    op.execute("DROP INDEX ix_exceptions_coi_opened")
    for table in reversed(list(TABLES)):
        op.execute(f"DROP TABLE {table}")
