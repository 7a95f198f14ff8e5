"""Tracking of projections (followers of the global log).

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "CREATE TABLE projection_tracking (name VARCHAR(64) PRIMARY KEY, position BIGINT NOT NULL)"
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("GRANT SELECT, INSERT, UPDATE, DELETE ON projection_tracking TO ledger_app")
        # Read-model tables of later migrations: the app role maintains them (never the events).
        op.execute(
            "ALTER DEFAULT PRIVILEGES IN SCHEMA public "
            "GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO ledger_app"
        )
        op.execute("ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO ledger_app")


def downgrade() -> None:
    op.execute("DROP TABLE projection_tracking")
