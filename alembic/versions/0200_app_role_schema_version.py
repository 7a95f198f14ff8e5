"""The application role may read the schema version (``/readyz`` checks no migration is pending).

``alembic_version`` is created by the first migration, before 0003's default privileges, so a
service connecting as a member of ``ledger_app`` (docker-compose.yml, docs/OPERATIONS.md) could
not read it and would never be ready.

Its own branch from 0002 (where ``ledger_app`` is created), like the identity branch (0100):
it depends on nothing else, and ``ledger db upgrade`` applies every head.

Revision ID: 0200
Revises: 0002
"""

from alembic import op

revision = "0200"
down_revision = "0002"
branch_labels = ("app_role",)
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("GRANT SELECT ON alembic_version TO ledger_app")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("REVOKE SELECT ON alembic_version FROM ledger_app")
