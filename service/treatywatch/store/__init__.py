"""Storage: the schema, its migrations and the Store, the only SQL in the code base. SQLite by default
(`Store`, store/sqlite.py); PostgreSQL (store/postgres.py) where several daemons share the work."""

from .base import DatabaseURL, StoreBase, parse_database, redact
from .models import AlertView, Delivery, KnownItem, ReportView, SourceState, StoredItem
from .open import open_store
from .sqlite import Store
from .store import SqlStore

__all__ = [
    "AlertView",
    "DatabaseURL",
    "Delivery",
    "KnownItem",
    "ReportView",
    "SourceState",
    "SqlStore",
    "Store",
    "StoreBase",
    "StoredItem",
    "open_store",
    "parse_database",
    "redact",
]
