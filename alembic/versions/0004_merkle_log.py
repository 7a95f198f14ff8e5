"""Global log: RFC 9162 Merkle tree over the event hashes, and signed checkpoints.

* ``merkle_leaves``: leaf ``leaf_index`` (0, 1, 2 ... in commit order) is the event at global
  ``position`` (notification id; gaps skipped). ``event_hash`` is the envelope hash (64 hex); the
  leaf entry is its 32 raw bytes. ``event_id`` is unique and indexed: inclusion proofs start there.
* ``merkle_nodes``: every *perfect* subtree hash (level 0 = leaf hashes), keyed ``(level, idx)``;
  node ``(L, i)`` covers leaves ``[i * 2**L, (i + 1) * 2**L)``. Write-once; a proof or a restore
  reads O(log n) of them by primary key.
* ``checkpoints``: C2SP signed checkpoint notes by tree size; ``root`` is 64 hex. ``issued_at`` and
  ``key_id`` are unsigned metadata (which published key, valid when). Never updated or deleted:
  on PostgreSQL the application role may only SELECT and INSERT them.

The leaf and node tables belong to the ``merkle`` projection (deleted by a rebuild); checkpoints
do not (a rebuild is checked against them).

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    # SQLite: INTEGER PRIMARY KEY is the rowid (one B-tree), and the node table needs no rowid.
    leaf_pk = "INTEGER PRIMARY KEY" if sqlite else "BIGINT PRIMARY KEY"
    blob = "BLOB" if sqlite else "BYTEA"
    op.execute(
        "CREATE TABLE merkle_leaves ("
        f"leaf_index {leaf_pk}, "
        "position BIGINT NOT NULL UNIQUE, "
        "event_id VARCHAR(36) NOT NULL UNIQUE, "
        "stream VARCHAR(36) NOT NULL, "
        "seq BIGINT NOT NULL, "
        "event_hash CHAR(64) NOT NULL)"
    )
    op.execute(
        "CREATE TABLE merkle_nodes ("
        "level SMALLINT NOT NULL, idx BIGINT NOT NULL, "
        f"hash {blob} NOT NULL, "
        "PRIMARY KEY (level, idx))" + (" WITHOUT ROWID" if sqlite else "")
    )
    op.execute(
        "CREATE TABLE checkpoints ("
        "tree_size BIGINT PRIMARY KEY, "
        "root CHAR(64) NOT NULL, "
        "issued_at VARCHAR(32) NOT NULL, "
        "key_id VARCHAR(16) NOT NULL, "
        "note TEXT NOT NULL)"
    )
    if not sqlite:
        # 0003's default privileges gave ledger_app full DML; signed checkpoints are append-only.
        op.execute("REVOKE UPDATE, DELETE, TRUNCATE ON checkpoints FROM ledger_app")
        op.execute("GRANT SELECT, INSERT ON checkpoints TO ledger_app")
        op.execute("GRANT SELECT, INSERT, UPDATE, DELETE ON merkle_leaves, merkle_nodes TO ledger_app")


def downgrade() -> None:
    signed = op.get_bind().exec_driver_sql("SELECT COUNT(*) FROM checkpoints").scalar()
    if signed:
        raise RuntimeError(f"refusing to drop {signed} signed checkpoints: they are published evidence")
    op.execute("DROP TABLE checkpoints")
    op.execute("DROP TABLE merkle_nodes")
    op.execute("DROP TABLE merkle_leaves")
