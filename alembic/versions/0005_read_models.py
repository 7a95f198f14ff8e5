"""Read models: cases, genealogy, custody, conditions, audit trail, exceptions, identifiers.

Every table belongs to one projection (``projections/``), is deleted by its ``reset`` and
refilled from the log by a rebuild. Indexes follow the queries: each list is a keyset walk
over ``position`` (or an index range) under its filter, so a page costs the same at 10k and
at millions of events. Times are the envelope's fixed text form (sortable); reading times
are integer microseconds. No column holds a patient or donor pseudonym.

On PostgreSQL the application role ``ledger_app`` gets SELECT, INSERT, UPDATE, DELETE on
these tables through the default privileges set in 0003.

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

ID = "VARCHAR(36)"
NAME = "VARCHAR(128)"
TIME = "VARCHAR(32)"
COI = "VARCHAR(20)"
FLOAT = "DOUBLE PRECISION"

TABLES = {
    "stream_directory": f"""
        owner VARCHAR(32) NOT NULL, stream {ID} NOT NULL, coi {COI}, role VARCHAR(8) NOT NULL,
        case_id {ID}, PRIMARY KEY (owner, stream)""",
    "cases": f"""
        case_id {ID} PRIMARY KEY, coi {COI} NOT NULL UNIQUE, kind VARCHAR(16) NOT NULL,
        product TEXT, treating_site {NAME}, collection_site {NAME}, protocol {NAME},
        milestone VARCHAR(16) NOT NULL, held SMALLINT NOT NULL, cancelled SMALLINT NOT NULL,
        status VARCHAR(16) NOT NULL, hold_reason TEXT, enrolled_at {TIME} NOT NULL,
        enrolled_position BIGINT NOT NULL UNIQUE, event_id {ID} NOT NULL,
        units INTEGER NOT NULL, last_event_at {TIME} NOT NULL, last_position BIGINT NOT NULL""",
    "genealogy_nodes": f"""
        node_id {ID} PRIMARY KEY, node_type VARCHAR(16) NOT NULL, coi {COI}, kind VARCHAR(32),
        label {NAME}, status VARCHAR(16) NOT NULL, flags TEXT NOT NULL, case_id {ID},
        created_at {TIME} NOT NULL, position BIGINT NOT NULL, event_id {ID} NOT NULL""",
    "genealogy_edges": f"""
        src {ID} NOT NULL, dst {ID} NOT NULL, relation VARCHAR(16) NOT NULL,
        event_id {ID} NOT NULL, position BIGINT NOT NULL, at {TIME} NOT NULL,
        PRIMARY KEY (src, dst, relation, event_id)""",
    "custody_units": f"""
        unit_id {ID} PRIMARY KEY, coi {COI}, label {NAME}, kind VARCHAR(32),
        custodian {NAME}, location {NAME}, container {ID}, intervals INTEGER NOT NULL,
        transfers INTEGER NOT NULL, shipments INTEGER NOT NULL, ended_at {TIME},
        ended_by VARCHAR(32), labelled_position BIGINT NOT NULL""",
    "custody_intervals": f"""
        unit_id {ID} NOT NULL, idx INTEGER NOT NULL, holder {NAME} NOT NULL,
        location {NAME}, from_at {TIME} NOT NULL, to_at {TIME}, start_event_id {ID} NOT NULL,
        end_event_id {ID}, via_container {ID}, PRIMARY KEY (unit_id, idx)""",
    "custody_transfers": f"""
        unit_id {ID} NOT NULL, idx INTEGER NOT NULL, from_party {NAME} NOT NULL,
        to_party {NAME} NOT NULL, location {NAME}, offered_at {TIME} NOT NULL,
        outcome VARCHAR(16), closed_at {TIME}, offer_event_id {ID} NOT NULL,
        close_event_id {ID}, via_container {ID}, PRIMARY KEY (unit_id, idx)""",
    "custody_shipments": f"""
        unit_id {ID} NOT NULL, idx INTEGER NOT NULL, carrier {NAME} NOT NULL,
        tracking {NAME} NOT NULL, from_site {NAME}, to_site {NAME},
        dispatched_at {TIME} NOT NULL, delivered_at {TIME}, dispatch_event_id {ID} NOT NULL,
        delivery_event_id {ID}, via_container {ID}, PRIMARY KEY (unit_id, idx)""",
    "condition_units": f"""
        unit_id {ID} PRIMARY KEY, coi {COI}, label {NAME}, kind VARCHAR(32),
        min_celsius {FLOAT}, max_celsius {FLOAT}""",
    "condition_packing": f"""
        unit_id {ID} NOT NULL, container_id {ID} NOT NULL, from_us BIGINT NOT NULL,
        to_us BIGINT, packed_event_id {ID} NOT NULL, unpacked_event_id {ID},
        PRIMARY KEY (unit_id, packed_event_id)""",
    "condition_uploads": f"""
        event_id {ID} PRIMARY KEY, unit_id {ID} NOT NULL, logger {NAME} NOT NULL,
        position BIGINT NOT NULL, first_us BIGINT NOT NULL, last_us BIGINT NOT NULL,
        n INTEGER NOT NULL, min_celsius {FLOAT} NOT NULL, max_celsius {FLOAT} NOT NULL,
        readings TEXT NOT NULL""",
    "excursions": f"""
        excursion_id {ID} PRIMARY KEY, unit_id {ID} NOT NULL, coi {COI}, source {ID} NOT NULL,
        logger {NAME} NOT NULL, start_at {TIME} NOT NULL, end_at {TIME} NOT NULL,
        duration_s BIGINT NOT NULL, min_celsius {FLOAT} NOT NULL, max_celsius {FLOAT} NOT NULL,
        limit_min {FLOAT}, limit_max {FLOAT}, readings INTEGER NOT NULL, ongoing SMALLINT NOT NULL,
        detected_event_id {ID} NOT NULL, position BIGINT NOT NULL, decision VARCHAR(16),
        rationale TEXT, assessed_by {NAME}, assessor_name TEXT, assessed_at {TIME},
        assessed_event_id {ID}""",
    "audit_trail": f"""
        position BIGINT PRIMARY KEY, event_id {ID} NOT NULL UNIQUE, stream {ID} NOT NULL,
        seq BIGINT NOT NULL, type VARCHAR(64) NOT NULL, recorded_at {TIME} NOT NULL,
        occurred_at {TIME}, actor {NAME} NOT NULL, on_behalf {NAME}, site {NAME}, coi {COI},
        unit_id {ID}, what TEXT NOT NULL, why TEXT, changes TEXT, corrected_event_id {ID},
        corrected_by TEXT, signer {NAME}, signer_name TEXT, sign_meaning VARCHAR(16),
        signed_at {TIME}, sign_key_id VARCHAR(32), detail TEXT NOT NULL""",
    "audit_links": """
        key_kind VARCHAR(4) NOT NULL, link_key VARCHAR(36) NOT NULL, position BIGINT NOT NULL,
        PRIMARY KEY (key_kind, link_key, position)""",
    "review_exceptions": f"""
        exception_id VARCHAR(100) PRIMARY KEY, kind VARCHAR(32) NOT NULL,
        status VARCHAR(8) NOT NULL, coi {COI}, unit_id {ID}, subject {NAME},
        match_key VARCHAR(200) NOT NULL, opened_at {TIME} NOT NULL,
        opened_position BIGINT NOT NULL, event_ids TEXT NOT NULL, detail TEXT NOT NULL,
        resolved_at {TIME}, resolved_event_id {ID}, duration_s BIGINT""",
    "unit_identifiers": f"""
        scheme VARCHAR(32) NOT NULL, value {NAME} NOT NULL, unit_id {ID} NOT NULL,
        coi {COI}, event_id {ID} NOT NULL, PRIMARY KEY (scheme, value, unit_id)""",
}

INDEXES = [
    ("ix_cases_status", "cases", "status, enrolled_position"),
    ("ix_cases_site", "cases", "treating_site, enrolled_position"),
    ("ix_cases_kind", "cases", "kind, enrolled_position"),
    ("ix_cases_product", "cases", "product, enrolled_position"),
    ("ix_genealogy_nodes_coi", "genealogy_nodes", "coi"),
    ("ix_genealogy_edges_dst", "genealogy_edges", "dst"),
    ("ix_custody_units_coi", "custody_units", "coi"),
    ("ix_condition_packing_container", "condition_packing", "container_id, from_us"),
    ("ix_condition_uploads_unit", "condition_uploads", "unit_id, first_us"),
    ("ix_excursions_unit", "excursions", "unit_id, start_at"),
    ("ix_excursions_assessed", "excursions", "assessed_event_id"),
    ("ix_audit_actor", "audit_trail", "actor, position"),
    ("ix_audit_type", "audit_trail", "type, position"),
    ("ix_audit_recorded", "audit_trail", "recorded_at, position"),
    ("ix_audit_corrected", "audit_trail", "corrected_event_id"),
    ("ix_exceptions_status", "review_exceptions", "status, opened_position"),
    ("ix_exceptions_coi", "review_exceptions", "coi, status, opened_position"),
    ("ix_exceptions_match", "review_exceptions", "match_key, status"),
    ("ix_exceptions_kind", "review_exceptions", "kind, status, opened_at"),
    ("ix_unit_identifiers_value", "unit_identifiers", "value"),
    ("ix_unit_identifiers_unit", "unit_identifiers", "unit_id"),
]


def upgrade() -> None:
    for table, columns in TABLES.items():
        op.execute(f"CREATE TABLE {table} ({columns.strip()})")
    for name, table, columns in INDEXES:
        op.execute(f"CREATE INDEX {name} ON {table} ({columns})")


def downgrade() -> None:
    for table in reversed(list(TABLES)):
        op.execute(f"DROP TABLE {table}")
