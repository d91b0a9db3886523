"""Documents on the console: an item's documents (its act's PDF, its article) with their state and text by page, on
the item's page, on an alert's page (state, and what the act's text named) and in `/api/items/N`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..documents.view import document_json
from ..views import iso
from .api import act_json, match_json, plain

if TYPE_CHECKING:
    from ..app import App
    from ..store import AlertView


def item_documents(app: App, item_id: int, with_text: bool = True) -> list[dict[str, Any]]:
    return [plain(document_json(d, with_text)) for d in app.store.item_documents(item_id)]


def alert_documents(app: App, alert: AlertView) -> dict[int, list[dict[str, Any]]]:
    """Each report's documents by item id, without their text (the item's page has it)."""
    return {r.item_id: item_documents(app, r.item_id, with_text=False) for r in alert.reports}


def item_detail_json(app: App, item_id: int) -> dict[str, Any]:
    """`/api/items/N`: the item, its act, its documents with their text by page, what fires on it now (with the body
    its documents give it) and the alerts it is in."""
    stored = app.store.get_item(item_id)
    item = stored.item  # with its body
    return plain(
        {
            "id": stored.id,
            "source": item.source_id,
            "title": item.title,
            "link": item.link,
            "summary": item.summary,
            "language": item.language,
            "published": iso(item.published),
            "first_seen": iso(stored.first_seen),
            "revision": stored.revision,
            "act": act_json(item),
            "documents": item_documents(app, item_id),
            "fires": [match_json(m, item.title) for m in app.watchlist.match(item)],
            "alerts": app.store.alerts_of_item(item_id),
        }
    )
