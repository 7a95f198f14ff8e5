#!/bin/sh
# Run once by the postgres image on an empty data directory (docker-entrypoint-initdb.d):
# the service's login role, a member of the append-only ledger_app role (alembic 0002 creates
# ledger_app if it does not exist; creating it here first is the same role).
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
     -v svc_password="$LEDGER_DB_PASSWORD" <<'SQL'
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ledger_app') THEN CREATE ROLE ledger_app NOLOGIN; END IF;
END $$;
CREATE ROLE ledger_svc LOGIN PASSWORD :'svc_password' IN ROLE ledger_app;
SQL
