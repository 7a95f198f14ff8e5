"""Event store and idempotency claims.

The events table has exactly the shape the ``eventsourcing`` library (9.5) expects; the
application runs with CREATE_TABLE=no so this migration is the one place tables come from.

Revision ID: 0001
Revises:
"""

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "CREATE TABLE IF NOT EXISTS stored_events ("
            "originator_id TEXT, originator_version INTEGER, topic TEXT, state BLOB, "
            "PRIMARY KEY (originator_id, originator_version))"
        )
    else:
        op.execute(
            "CREATE TABLE IF NOT EXISTS ledger_events ("
            "originator_id uuid NOT NULL, originator_version bigint NOT NULL, "
            "topic text, state bytea, notification_id bigserial, "
            "PRIMARY KEY (originator_id, originator_version)) "
            "WITH (autovacuum_enabled = true, autovacuum_vacuum_threshold = 100000000, "
            "autovacuum_vacuum_scale_factor = 0.5, autovacuum_analyze_threshold = 1000, "
            "autovacuum_analyze_scale_factor = 0.01)"
        )
        op.execute(
            "CREATE UNIQUE INDEX IF NOT EXISTS ledger_events_notification_id_idx "
            "ON ledger_events (notification_id ASC)"
        )
        op.execute(
            "DO $$ BEGIN "
            "IF NOT EXISTS (SELECT 1 FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
            "WHERE t.typname = 'stored_event_uuid' AND n.nspname = current_schema()) THEN "
            "CREATE TYPE stored_event_uuid AS (originator_id uuid, originator_version bigint, "
            "topic text, state bytea); END IF; END $$"
        )
    op.execute(
        "CREATE TABLE IF NOT EXISTS ledger_idempotency ("
        "scope VARCHAR(64) PRIMARY KEY, request_digest VARCHAR(64) NOT NULL, "
        "result TEXT NOT NULL, created_at VARCHAR(32) NOT NULL)"
    )


def downgrade() -> None:
    raise RuntimeError("the event store is never dropped by a migration")
