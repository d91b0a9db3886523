"""What a reload changed, in one line an operator can read in the log: "+1 watch, ~2 sources, -1 subscriber"."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .models import Config

# (section, singular, plural) in the order the summary names them
_SECTIONS = (
    ("sources", "source", "sources"),
    ("watches", "watch", "watches"),
    ("subscribers", "subscriber", "subscribers"),
    ("agreements", "agreement", "agreements"),
    ("terms", "term set", "term sets"),
    ("entities", "entity", "entities"),
)
# settings a running daemon cannot apply: its state directory and database stay, its web server keeps its socket
_NAMED = 3  # ids named per change; the line stays one line with a hundred sources
RESTART_SETTINGS = frozenset({"state_dir", "database", "web_host", "web_port"})


def _by_id(section: Any) -> Mapping[str, Any]:
    if isinstance(section, Mapping):
        return section
    return {entry.id: entry for entry in section}


def changes(old: Config, new: Config) -> dict[str, tuple[list[str], list[str], list[str]]]:
    """section -> (added, changed, removed) ids; sections without a change are left out."""
    out = {}
    for section, _, _ in _SECTIONS:
        before, after = _by_id(getattr(old, section)), _by_id(getattr(new, section))
        added = sorted(set(after) - set(before))
        removed = sorted(set(before) - set(after))
        changed = sorted(k for k in set(before) & set(after) if before[k] != after[k])
        if added or changed or removed:
            out[section] = (added, changed, removed)
    return out


def changed_settings(old: Config, new: Config) -> list[str]:
    a, b = old.settings.model_dump(), new.settings.model_dump()
    return sorted(k for k in a if a[k] != b.get(k))


def summary(old: Config, new: Config) -> str:
    """'+1 watch, ~2 sources, -1 subscriber, ~settings (log_level)', or 'no changes'."""
    parts = []
    found = changes(old, new)
    for section, one, many in _SECTIONS:
        if section not in found:
            continue
        for sign, ids in zip("+~-", found[section], strict=True):
            if ids:
                named = ", ".join(ids[:_NAMED]) + (", …" if len(ids) > _NAMED else "")
                parts.append(f"{sign}{len(ids)} {one if len(ids) == 1 else many} ({named})")
    keys = changed_settings(old, new)
    if keys:
        later = [k for k in keys if k in RESTART_SETTINGS]
        note = f"; {', '.join(later)} apply on restart" if later else ""
        parts.append(f"~settings ({', '.join(keys)}{note})")
    if old.gazetteer != new.gazetteer:
        parts.append(f"~gazetteer ({'on' if new.gazetteer else 'off'})")
    return ", ".join(parts) or "no changes"
