"""Orchestration read model (``projections/orchestration.py``): sites' planning profiles
(``plan_sites``), courier lanes (``plan_lanes``), capacity per site, resource and local day with
the slots booked (``plan_capacity``), orders with the plan they hold (``plan_orders``), and each
case's treating site and actual milestones (``plan_cases``, ``plan_actuals``) for planned vs actual.

Like 0011, a new member of the read-model group must see the whole log: the read models and their
tracking are emptied and the follower rebuilds them from the log at the next start (the events
themselves are untouched).

Revision ID: 0014_orders
Revises: 0013_alerts
"""

from alembic import op

revision = "0014_orders"
down_revision = "0013_alerts"
branch_labels = None
depends_on = None

ID = "VARCHAR(128)"
DAY = "VARCHAR(10)"
TIME = "VARCHAR(32)"
COI = "VARCHAR(20)"
JSON = "TEXT"

TABLES = {
    "plan_sites": f"""
        site {ID} PRIMARY KEY, tz VARCHAR(64) NOT NULL, capabilities {JSON} NOT NULL,
        closed_weekdays {JSON} NOT NULL, holidays {JSON} NOT NULL""",
    "plan_lanes": f"""
        lane {ID} PRIMARY KEY, origin {ID} NOT NULL, destination {ID} NOT NULL,
        transit_hours DOUBLE PRECISION NOT NULL, cutoff VARCHAR(5) NOT NULL, days {JSON} NOT NULL""",
    "plan_capacity": f"""
        site {ID} NOT NULL, resource VARCHAR(16) NOT NULL, day {DAY} NOT NULL, slots INTEGER NOT NULL,
        booked INTEGER NOT NULL, PRIMARY KEY (site, resource, day)""",
    "plan_orders": f"""
        order_id {ID} PRIMARY KEY, coi {COI} NOT NULL, product VARCHAR(200) NOT NULL, treating_site {ID} NOT NULL,
        earliest {DAY} NOT NULL, latest {DAY} NOT NULL, priority INTEGER NOT NULL, status VARCHAR(16) NOT NULL,
        plant {ID}, plan {JSON}, first_plan {JSON}, slots {JSON}, plans INTEGER NOT NULL, reason {JSON},
        ordered_at {TIME} NOT NULL, ordered_by {ID} NOT NULL, position BIGINT NOT NULL""",
    "plan_cases": f"coi {COI} PRIMARY KEY, treating_site {ID} NOT NULL",
    "plan_actuals": f"""
        coi {COI} NOT NULL, milestone VARCHAR(32) NOT NULL, at {TIME} NOT NULL, site {ID},
        position BIGINT NOT NULL, PRIMARY KEY (coi, milestone)""",
}
INDEXES = [
    ("ix_plan_orders_coi", "plan_orders", "coi"),
    ("ix_plan_orders_site", "plan_orders", "treating_site, order_id"),
    ("ix_plan_capacity_day", "plan_capacity", "day"),
]

READ_MODEL_TABLES = (
    "stream_directory", "cases", "genealogy_nodes", "genealogy_edges", "custody_units", "custody_intervals",
    "custody_transfers", "custody_shipments", "condition_units", "condition_packing", "condition_uploads",
    "excursions", "audit_trail", "audit_links", "review_exceptions", "unit_identifiers", "scope_sites",
    "scope_units", "queue_cases", "queue_products", "search_keys")
READ_MODEL_TRACKING = ("read_models", "cases", "genealogy", "custody", "conditions", "audit_trail", "exceptions",
                       "unit_identifiers", "read_scope", "review_queue")


def upgrade() -> None:
    for table, columns in TABLES.items():
        op.execute(f"CREATE TABLE {table} ({columns.strip()})")
    for name, table, columns in INDEXES:
        op.execute(f"CREATE INDEX {name} ON {table} ({columns})")
    for table in READ_MODEL_TABLES:
        op.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed names
    names = ", ".join(f"'{name}'" for name in READ_MODEL_TRACKING)
    op.execute(f"DELETE FROM projection_tracking WHERE name IN ({names})")  # noqa: S608


def downgrade() -> None:
    for name, _, _ in INDEXES:
        op.execute(f"DROP INDEX {name}")
    for table in reversed(list(TABLES)):
        op.execute(f"DROP TABLE {table}")
