"""Access tokens get a public id and a session start.

* ``token_id``: a random id (``tok-`` and 16 hex digits) shown in listings, used to revoke a
  token and named by the ``TokenIssued`` / ``TokenRevoked`` events; never derived from the
  token or its digest. Rows of earlier tokens get a random one.
* ``session_started_at``: when the sign-in that began this chain of refreshed tokens happened;
  a refresh never extends a session beyond ``LEDGER_SESSION_MAX_HOURS`` from it.

Revision ID: 0110
Revises: 0100
"""

from alembic import op

revision = "0110"
down_revision = "0100"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE access_tokens ADD COLUMN token_id VARCHAR(32)")
    op.execute("ALTER TABLE access_tokens ADD COLUMN session_started_at VARCHAR(32)")
    random_hex = ("lower(hex(randomblob(8)))" if op.get_bind().dialect.name == "sqlite"
                  else "substr(replace(gen_random_uuid()::text, '-', ''), 1, 16)")
    op.execute(f"UPDATE access_tokens SET token_id = 'tok-' || {random_hex}, session_started_at = issued_at")
    op.execute("CREATE UNIQUE INDEX access_tokens_token_id ON access_tokens (token_id)")


def downgrade() -> None:
    op.execute("DROP INDEX access_tokens_token_id")
    op.execute("ALTER TABLE access_tokens DROP COLUMN session_started_at")
    op.execute("ALTER TABLE access_tokens DROP COLUMN token_id")
