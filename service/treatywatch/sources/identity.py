"""An item's key that does not hold the URL its document was fetched from, and the key it had before.

Keys used to be the guid or link resolved against the feed's URL, so the same feed read at localhost instead of
127.0.0.1, or over https, stored every item again and sent every alert again. Sources now key by the guid as the
document writes it and by links on the feed's own host without scheme and host (items.identity_key, `home`). A
database written before still holds the old keys: each item carries its old one as `legacy_key`, and the runner
has the store move stored items to their new keys (store.adopt_keys), so an upgrade sends nothing again."""

from __future__ import annotations

from ..items import Item, encodable, identity_key


def fetch_independent(item: Item, home: str, guid: str | None, old_guid: str | None) -> Item:
    """`item` as make_item built it, keyed by `guid` as written (or its link, off `home`, the URL the document
    came from), with the key the code before gave it (from `old_guid`, the guid as it resolved it) when different."""
    guid, old_guid = (encodable(g) if g else g for g in (guid, old_guid))
    # make_item keyed the item as the code before did, from `guid`
    old = item.key if old_guid == guid else identity_key(old_guid, item.link, item.title, item.published)
    key = identity_key(guid, item.link, item.title, item.published, home=home)
    if key == item.key == old:
        return item
    return item.with_(key=key, legacy_key=old if old != key else None)
