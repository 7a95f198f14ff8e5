"""Append-only event store (21 CFR 11.10(c)).

PostgreSQL: an application role ``ledger_app`` that may only SELECT and INSERT events;
row and TRUNCATE triggers that refuse any change, ``ENABLE ALWAYS`` so they fire even in
replica mode. Log in as a role that is a member of ``ledger_app`` (see docs/OPERATIONS.md).
SQLite: triggers that refuse UPDATE and DELETE (defence in depth; the file's owner can
still edit it, which is what ``ledger verify`` is for).

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER IF NOT EXISTS stored_events_no_{action.lower()} "
                f"BEFORE {action} ON stored_events "
                "BEGIN SELECT RAISE(ABORT, 'ledger events are append-only'); END"
            )
        return
    op.execute(
        "DO $$ BEGIN "
        "IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ledger_app') THEN "
        "CREATE ROLE ledger_app NOLOGIN; END IF; END $$"
    )
    op.execute("REVOKE ALL ON ledger_events FROM PUBLIC")
    op.execute("REVOKE ALL ON ledger_events FROM ledger_app")
    op.execute("GRANT SELECT, INSERT ON ledger_events TO ledger_app")
    op.execute("GRANT USAGE, SELECT ON SEQUENCE ledger_events_notification_id_seq TO ledger_app")
    op.execute("GRANT SELECT, INSERT ON ledger_idempotency TO ledger_app")
    op.execute(
        "CREATE OR REPLACE FUNCTION ledger_refuse_change() RETURNS trigger "
        "LANGUAGE plpgsql AS $$ BEGIN "
        "RAISE EXCEPTION 'ledger events are append-only: % refused', TG_OP "
        "USING ERRCODE = 'insufficient_privilege'; END $$"
    )
    op.execute("DROP TRIGGER IF EXISTS ledger_events_no_change ON ledger_events")
    op.execute(
        "CREATE TRIGGER ledger_events_no_change BEFORE UPDATE OR DELETE ON ledger_events "
        "FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()"
    )
    op.execute("DROP TRIGGER IF EXISTS ledger_events_no_truncate ON ledger_events")
    op.execute(
        "CREATE TRIGGER ledger_events_no_truncate BEFORE TRUNCATE ON ledger_events "
        "FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change()"
    )
    op.execute("ALTER TABLE ledger_events ENABLE ALWAYS TRIGGER ledger_events_no_change")
    op.execute("ALTER TABLE ledger_events ENABLE ALWAYS TRIGGER ledger_events_no_truncate")


def downgrade() -> None:
    raise RuntimeError("append-only protection is never removed by a migration")
