"""Credentials and access tokens (mutable, never in the event log).

A separate branch from the read models: identity tables depend only on the event store.

* ``credentials``: the Argon2id password hash and the user's e-signature private key wrapped
  under a password-derived key. The facts (PasswordSet, UserSigningKeyIssued) are events;
  these secrets are not, so they can be replaced and are never exported.
* ``access_tokens``: bearer tokens stored as SHA-256 digests (a leaked table yields no token).

Revision ID: 0100
Revises: 0003
"""

from alembic import op

revision = "0100"
down_revision = "0003"
branch_labels = ("identity",)
depends_on = None


def upgrade() -> None:
    op.execute(
        "CREATE TABLE credentials ("
        "user_id VARCHAR(128) PRIMARY KEY, password_hash TEXT NOT NULL, "
        "wrapped_key TEXT NOT NULL, updated_at VARCHAR(32) NOT NULL)"
    )
    op.execute(
        "CREATE TABLE access_tokens ("
        "token_digest VARCHAR(64) PRIMARY KEY, principal VARCHAR(128) NOT NULL, "
        "kind VARCHAR(16) NOT NULL, label VARCHAR(200), issued_at VARCHAR(32) NOT NULL, "
        "expires_at VARCHAR(32), revoked_at VARCHAR(32))"
    )
    op.execute("CREATE INDEX access_tokens_principal ON access_tokens (principal)")


def downgrade() -> None:
    op.execute("DROP TABLE access_tokens")
    op.execute("DROP TABLE credentials")
