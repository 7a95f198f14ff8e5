"""Alerts: the ``alerts`` read model (with ``alert_sites`` for site-scoped reads), what the alert
follower knows of each unit (``alert_subjects``: label, COI, the sites its events involve) and the
durable timers (``alert_timers``) that the follower schedules and the alert worker fires, and whom
to mail (``alert_contacts``: each user's e-mail address, sites and whether active).

The follower is tracked on its own (``alerts``), so the existing read models are left as they are.

Revision ID: 0013_alerts
Revises: 0012_hooks
"""

from alembic import op

revision = "0013_alerts"
down_revision = "0012_hooks"
branch_labels = None
depends_on = None

ID = "VARCHAR(36)"
ALERT = "VARCHAR(200)"
NAME = "VARCHAR(128)"
TIME = "VARCHAR(32)"
COI = "VARCHAR(20)"
TEXT = "VARCHAR(500)"

TABLES = {
    "alerts": f"""
        alert_id {ALERT} PRIMARY KEY, kind VARCHAR(32) NOT NULL, subject {NAME} NOT NULL, coi {COI},
        sites TEXT NOT NULL, severity VARCHAR(16) NOT NULL, message {TEXT} NOT NULL, state VARCHAR(16) NOT NULL,
        due_at {TIME}, raised_at {TIME} NOT NULL, raised_position BIGINT NOT NULL, raised_event_id {ID} NOT NULL,
        cleared_at {TIME}, clear_reason {TEXT}, cleared_event_id {ID}""",
    "alert_sites": f"alert_id {ALERT} NOT NULL, site {NAME} NOT NULL, PRIMARY KEY (alert_id, site)",
    "alert_subjects": f"stream {ID} PRIMARY KEY, label {NAME} NOT NULL, coi {COI}, sites TEXT NOT NULL",
    "alert_contacts": f"user_id {NAME} PRIMARY KEY, email VARCHAR(254), sites TEXT NOT NULL, active SMALLINT NOT NULL, "
                      "reads_all SMALLINT NOT NULL",
    "alert_timers": f"""
        timer_id VARCHAR(400) PRIMARY KEY, alert_id {ALERT} NOT NULL, action VARCHAR(8) NOT NULL,
        kind VARCHAR(32) NOT NULL, subject {NAME} NOT NULL, coi {COI}, sites TEXT NOT NULL,
        severity VARCHAR(16) NOT NULL, message {TEXT} NOT NULL, cause {NAME} NOT NULL, due_at BIGINT NOT NULL,
        state VARCHAR(12) NOT NULL, claimed_by {NAME}, lease_until BIGINT, attempts INTEGER NOT NULL,
        fired_at BIGINT, position BIGINT NOT NULL""",
}
INDEXES = [
    ("ix_alerts_state", "alerts", "state, raised_at"),
    ("ix_alert_sites_site", "alert_sites", "site"),
    ("ix_alert_timers_due", "alert_timers", "state, due_at"),
    ("ix_alert_timers_alert", "alert_timers", "alert_id, action, state"),
]


def upgrade() -> None:
    for table, columns in TABLES.items():
        op.execute(f"CREATE TABLE {table} ({columns.strip()})")
    for name, table, columns in INDEXES:
        op.execute(f"CREATE INDEX {name} ON {table} ({columns})")


def downgrade() -> None:
    for name, _table, _columns in reversed(INDEXES):
        op.execute(f"DROP INDEX {name}")
    for table in reversed(list(TABLES)):
        op.execute(f"DROP TABLE {table}")
