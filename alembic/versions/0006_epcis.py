"""EPCIS 2.0 captures: each captured document and which ledger events came from which EPCIS event.

* ``epcis_captures``: one row per (principal, document hash) (``scope_id`` = SHA-256 of both,
  as the idempotency claim's scope): the document's SHA-256 over its JCS form, the document
  itself (JCS text), who captured it, when, and the capture result shown to the client (which
  events were applied, which not and why).
* ``epcis_event_map``: per captured EPCIS event (its ``eventID`` or the ``ni:///sha-256;...``
  content hash), the ledger events it was mapped to. An ``errorDeclaration`` finds here the
  events to correct; query and export give ledger events their original EPCIS ``eventID``.

Both are records, not a projection: a rebuild never touches them. On PostgreSQL the
application role may only SELECT and INSERT them.

Revision ID: 0006
Revises: 0005
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "CREATE TABLE epcis_captures ("
        "scope_id CHAR(64) PRIMARY KEY, "
        "document_hash CHAR(64) NOT NULL, "
        "principal VARCHAR(128) NOT NULL, "
        "captured_at VARCHAR(32) NOT NULL, "
        "position BIGINT, "
        "result TEXT NOT NULL, "
        "document TEXT NOT NULL)"
    )
    op.execute(
        "CREATE TABLE epcis_event_map ("
        "epcis_event_id VARCHAR(512) NOT NULL, "
        "scope_id CHAR(64) NOT NULL, "
        "idx INTEGER NOT NULL, "
        "ledger_event_id VARCHAR(36) NOT NULL, "
        "stream VARCHAR(36) NOT NULL, "
        "ledger_type VARCHAR(64) NOT NULL, "
        "PRIMARY KEY (scope_id, idx, ledger_event_id))"
    )
    op.execute("CREATE INDEX ix_epcis_event_map_epcis ON epcis_event_map (epcis_event_id)")
    op.execute("CREATE INDEX ix_epcis_event_map_ledger ON epcis_event_map (ledger_event_id)")
    op.execute("CREATE INDEX ix_epcis_captures_hash ON epcis_captures (document_hash)")
    if op.get_bind().dialect.name != "sqlite":
        op.execute("REVOKE UPDATE, DELETE, TRUNCATE ON epcis_captures, epcis_event_map FROM ledger_app")
        op.execute("GRANT SELECT, INSERT ON epcis_captures, epcis_event_map TO ledger_app")


def downgrade() -> None:
    op.execute("DROP TABLE epcis_event_map")
    op.execute("DROP TABLE epcis_captures")
