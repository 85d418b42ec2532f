"""Alembic environment: online migrations only, batch mode so SQLite can alter tables."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from netpay_smart.store.schema import exists_on, metadata

url = context.config.get_main_option("sqlalchemy.url")
assert url is not None
connectable = create_engine(url, poolclass=pool.NullPool)
with connectable.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=True,
        compare_type=True,
        include_object=lambda _object, name, kind, _reflected, _compared: exists_on(
            connection.dialect.name, name, kind
        ),
    )
    with context.begin_transaction():
        context.run_migrations()
connectable.dispose()
