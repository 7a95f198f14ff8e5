"""Read scope: which sites each case involves (``scope_sites``) and each unit's case
(``scope_units``), maintained by the ``read_scope`` read model (``projections/scope.py``).

The read models are applied together as one group; a new member must see the whole log, so
this migration empties the read models and their tracking: the follower rebuilds them from
the log at the next start (the events themselves are untouched). Until then a site-scoped
principal sees nothing (the scope fails closed).

Revision ID: 0007
Revises: 0006
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

READ_MODEL_TABLES = (
    "stream_directory", "cases", "genealogy_nodes", "genealogy_edges", "custody_units", "custody_intervals",
    "custody_transfers", "custody_shipments", "condition_units", "condition_packing", "condition_uploads",
    "excursions", "audit_trail", "audit_links", "review_exceptions", "unit_identifiers")
READ_MODEL_TRACKING = ("read_models", "cases", "genealogy", "custody", "conditions", "audit_trail", "exceptions",
                       "unit_identifiers")


def upgrade() -> None:
    op.execute("CREATE TABLE scope_sites (coi VARCHAR(20) NOT NULL, site VARCHAR(128) NOT NULL, "
               "PRIMARY KEY (coi, site))")
    op.execute("CREATE INDEX ix_scope_sites_site ON scope_sites (site, coi)")
    op.execute("CREATE TABLE scope_units (unit_id VARCHAR(36) PRIMARY KEY, coi VARCHAR(20) NOT NULL)")
    op.execute("CREATE INDEX ix_scope_units_coi ON scope_units (coi)")
    op.execute("CREATE INDEX ix_custody_intervals_holder ON custody_intervals (holder, unit_id)")
    for table in READ_MODEL_TABLES:
        op.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed names
    names = ", ".join(f"'{name}'" for name in READ_MODEL_TRACKING)
    op.execute(f"DELETE FROM projection_tracking WHERE name IN ({names})")  # noqa: S608


def downgrade() -> None:
    op.execute("DROP INDEX ix_custody_intervals_holder")
    op.execute("DROP TABLE scope_units")
    op.execute("DROP TABLE scope_sites")
