"""Storage: the schema, its migrations and the Store class, the only SQL in the code base."""

from .models import AlertView, Delivery, KnownItem, ReportView, SourceState, StoredItem
from .store import Store

__all__ = ["AlertView", "Delivery", "KnownItem", "ReportView", "SourceState", "Store", "StoredItem"]
