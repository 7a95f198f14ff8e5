"""Alembic environment: every table the project owns is created here, never at run time."""

from __future__ import annotations

import os

from sqlalchemy import create_engine, pool

from alembic import context
from ledger.store.database import DEFAULT_DATABASE_URL, Database

config = context.config
url = config.attributes.get("database_url") or os.environ.get(
    "LEDGER_DATABASE_URL", DEFAULT_DATABASE_URL
)
database = Database.from_url(url)


def run_migrations_online() -> None:
    engine = create_engine(database.sqlalchemy_url(), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=None)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    context.configure(url=database.sqlalchemy_url(), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
