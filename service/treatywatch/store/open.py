"""One door to the database: settings.database (or --database) names the engine and where it is."""

from __future__ import annotations

from pathlib import Path

from .base import parse_database
from .store import SqlStore


def open_store(
    database: str, state_dir: Path, *, busy_timeout: float = 30.0, lease: float = 60.0, pool_size: int = 16
) -> SqlStore:
    """`sqlite:///path`, a file name inside state_dir (the default, treatywatch.db) or `postgresql://...`."""
    url = parse_database(database, state_dir)
    if url.engine == "postgresql":
        from .postgres import PostgresStore  # psycopg is loaded only by those who use it

        return PostgresStore(url.dsn, lease=lease, pool_size=pool_size)
    from .sqlite import Store

    assert url.path is not None
    return Store(url.path, busy_timeout=busy_timeout)
