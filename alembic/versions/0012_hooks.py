"""Webhooks: subscriptions as the outbox follower knows them, the durable outbox of deliveries due,
and the log of every delivery attempt (``projections/webhook_outbox.py``, ``ledger/webhooks``).

The follower is tracked on its own (``projection_tracking`` name ``webhooks``) in the same
transaction as the rows it queues. It starts at the beginning of the log once, to learn which case
each stream belongs to and which sites each case involves (``webhook_scope``); there is no
subscription yet, so nothing is queued for the past. No other read model is reset.

Revision ID: 0012_hooks
Revises: 0011_queue
"""

from alembic import op

revision = "0012_hooks"
down_revision = "0011_queue"
branch_labels = None
depends_on = None

ID = "VARCHAR(40)"
TIME = "VARCHAR(32)"

TABLES = {
    "webhook_scope": """
        coi VARCHAR(20) NOT NULL, site VARCHAR(128) NOT NULL, PRIMARY KEY (coi, site)""",
    "webhook_subscriptions": f"""
        subscription_id {ID} PRIMARY KEY, owner VARCHAR(128) NOT NULL, url VARCHAR(2000) NOT NULL,
        terms TEXT NOT NULL, secret_sealed VARCHAR(400) NOT NULL, status VARCHAR(16) NOT NULL,
        created_position BIGINT NOT NULL, created_at {TIME} NOT NULL, changed_at {TIME} NOT NULL""",
    "webhook_outbox": f"""
        subscription_id {ID} NOT NULL, position BIGINT NOT NULL, event_id VARCHAR(36) NOT NULL,
        stream VARCHAR(36) NOT NULL, event_type VARCHAR(128) NOT NULL, payload TEXT NOT NULL,
        status VARCHAR(16) NOT NULL, attempts INTEGER NOT NULL, due_since BIGINT NOT NULL,
        next_attempt BIGINT NOT NULL, lease_owner VARCHAR(64), lease_until BIGINT,
        committed_at {TIME} NOT NULL, delivered_at {TIME}, last_status INTEGER, last_error VARCHAR(500),
        PRIMARY KEY (subscription_id, position)""",
    "webhook_attempts": f"""
        subscription_id {ID} NOT NULL, position BIGINT NOT NULL, attempt INTEGER NOT NULL,
        attempted_at {TIME} NOT NULL, outcome VARCHAR(16) NOT NULL, status_code INTEGER,
        latency_ms DOUBLE PRECISION NOT NULL, error VARCHAR(500), worker VARCHAR(64) NOT NULL,
        PRIMARY KEY (subscription_id, position, attempt)""",
}
INDEXES = [
    ("ix_webhook_outbox_due", "webhook_outbox", "status, subscription_id, position"),
]


def upgrade() -> None:
    for table, columns in TABLES.items():
        op.execute(f"CREATE TABLE {table} ({columns.strip()})")
    for name, table, columns in INDEXES:
        op.execute(f"CREATE INDEX {name} ON {table} ({columns})")


def downgrade() -> None:
    for name, _table, _columns in INDEXES:
        op.execute(f"DROP INDEX {name}")
    for table in reversed(list(TABLES)):
        op.execute(f"DROP TABLE {table}")
