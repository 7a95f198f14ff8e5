"""Audit-trail rows carry their event's hash (the sealed envelope's hash, as stored in the log).

Rows written before this revision are filled from the event at their position, so a row and
the event it was projected from can be compared without a rebuild.

Revision ID: 0008
Revises: 0007
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE audit_trail ADD COLUMN event_hash VARCHAR(64)")
    if op.get_bind().dialect.name == "sqlite":
        op.execute("UPDATE audit_trail SET event_hash = (SELECT json_extract(CAST(e.state AS TEXT), '$.hash') "
                   "FROM stored_events e WHERE e.rowid = audit_trail.position)")
    else:
        op.execute("UPDATE audit_trail a SET event_hash = convert_from(e.state, 'UTF8')::jsonb ->> 'hash' "
                   "FROM ledger_events e WHERE e.notification_id = a.position")


def downgrade() -> None:
    op.execute("ALTER TABLE audit_trail DROP COLUMN event_hash")
