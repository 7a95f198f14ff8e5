"""A missed witness is a candidate exception with its own deadline: ``review_exceptions.due_at``
(the step's ``witness_due``, ``ledger.domain.witness``), and an index for the pending
signatures (``GET /v1/signatures/pending``: open corrections and witnesses by kind).

Rows written before have no deadline (NULL): no step recorded before this revision was due a
witness.

Revision ID: 0010_sig
Revises: 0009_exc
"""

from alembic import op

revision = "0010_sig"
down_revision = "0009_exc"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE review_exceptions ADD COLUMN due_at VARCHAR(32)")
    op.execute("CREATE INDEX ix_exceptions_pending ON review_exceptions (kind, cleared, opened_position)")


def downgrade() -> None:
    op.execute("DROP INDEX ix_exceptions_pending")
    op.execute("ALTER TABLE review_exceptions DROP COLUMN due_at")
