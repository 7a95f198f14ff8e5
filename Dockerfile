# COI/COC Ledger service. Small, non-root, migrations before serving, with a health check.
# Build:  docker build -t coi-ledger .
# Run:    see docker-compose.yml (PostgreSQL 16) — secrets come from the environment.

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY ledger ./ledger
COPY ledger_cli ./ledger_cli
COPY projections ./projections
COPY scanners ./scanners
COPY api ./api
RUN python -m venv /opt/venv && /opt/venv/bin/pip install --upgrade pip && /opt/venv/bin/pip install .

FROM python:3.11-slim
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    LEDGER_ENV=production \
    LEDGER_KEYS_DIR=/var/lib/ledger/keys \
    LEDGER_ALEMBIC_DIR=/app/alembic
RUN groupadd --system --gid 10001 ledger \
    && useradd --system --uid 10001 --gid ledger --home-dir /var/lib/ledger --create-home ledger
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY alembic ./alembic
COPY alembic.ini ./
USER ledger
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=2).status == 200 else 1)"
# GS1's EPCIS 2.0 JSON schema and the portal's templates are package data of `api`: the
# `pip install .` above puts them in /opt/venv, so nothing needs to be mounted.
# The service only: it connects as a member of the append-only ledger_app role, which cannot
# migrate. Migrations run separately as the schema owner (`ledger db upgrade`; the `migrate`
# service of docker-compose.yml). Keys must exist: mount them, or run `ledger init` once
# against the same volume (keys are never created outside dev mode).
# HTTPS: add --tls-cert/--tls-key (mounted files), or set LEDGER_HTTPS=true behind a TLS proxy.
CMD ["sh", "-c", "exec ledger serve --host 0.0.0.0 --port 8000 --workers ${LEDGER_WORKERS:-2}"]
