"""Alembic environment: one connection, a short lock_timeout.

``mediaflow db ...`` and the tests hand over the URL and the lock timeout in the
config's attributes. The ``alembic -c alembic.ini ...`` command line is an edge of
its own: it reads them from mediaflow's settings (the environment).
"""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from sqlalchemy import create_engine, pool, text

from mediaflow.config import get_settings
from mediaflow.db.models import Base, include_in_autogenerate
from mediaflow.db.session import resolve_url

config = context.config
target_metadata = Base.metadata

# The `alembic` command configures logging from alembic.ini; `mediaflow db` keeps its own.
if config.config_file_name and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def _url() -> str:
    url = config.attributes.get("database_url")
    return str(url) if url else resolve_url(get_settings())


def _lock_timeout_ms() -> int:
    given = config.attributes.get("lock_timeout_ms")
    return int(given) if given is not None else get_settings().lock_timeout_ms


def run_migrations_offline() -> None:
    """Emit SQL to stdout (``alembic upgrade --sql``)."""
    context.configure(
        url=config.attributes.get("database_url") or "postgresql+psycopg://",
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        transaction_per_migration=True,
    )
    context.execute(f"SET lock_timeout = {_lock_timeout_ms()}")
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run migrations on a live connection."""
    connectable = config.attributes.get("connection")
    if connectable is None:
        engine = create_engine(_url(), poolclass=pool.NullPool)
        with engine.connect() as connection:
            _run(connection, _lock_timeout_ms())
        engine.dispose()
    else:
        _run(connectable, _lock_timeout_ms())


def _run(connection: object, lock_timeout_ms: int) -> None:
    # Fail fast instead of queueing behind a long transaction and blocking every writer.
    connection.execute(text(f"SET lock_timeout = {int(lock_timeout_ms)}"))  # type: ignore[attr-defined]
    connection.commit()  # type: ignore[attr-defined]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_object=include_in_autogenerate,
        transaction_per_migration=True,
        compare_type=True,
        compare_server_default=False,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
