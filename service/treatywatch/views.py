"""The JSON shapes of sources and deliveries, shared by `--json` on the command line and the web API."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from .config.models import Config
from .config.policy import baseline_status
from .sources.listing import Backlog
from .sources.registry import AnySourceConfig
from .store import Delivery, SourceState


def iso(value: datetime | None) -> str | None:
    """Datetimes in JSON output: ISO 8601 in UTC, whatever zone the store or clock handed us."""
    if value is None:
        return None
    return (value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)).isoformat()


def source_rows(
    config: Config, states: dict[str, SourceState], sources: Sequence[AnySourceConfig] | None = None
) -> list[dict]:
    """Each configured source (or each of `sources`) with its health, in config order."""
    rows = []
    for src in config.sources if sources is None else sources:
        st = states.get(src.id)
        rows.append(
            {
                "id": src.id,
                "type": src.type,
                "enabled": src.enabled,
                "every": src.every.describe(),
                "every_seconds": src.every.seconds,
                "cron": src.every.cron,
                "first_attempt": iso(st.first_attempt) if st else None,
                "last_attempt": iso(st.last_attempt) if st else None,
                "last_success": iso(st.last_success) if st else None,
                "next_due": iso(st.next_due) if st else None,
                "consecutive_failures": st.consecutive_failures if st else 0,
                "last_error": st.last_error if st else None,
                "items_last_seen": st.items_last_seen if st else None,
                "total_items": st.total_items if st else 0,
                "empty_flag": bool(st and st.empty_flag),
                "baseline": baseline_status(config, src, st.last_success if st else None),
                "backlog": _backlog(st),
                "paused": bool(st and st.paused),
                "paused_at": iso(st.paused_at) if st else None,
                "paused_by": st.paused_by if st else None,
            }
        )
    return rows


def _backlog(state: SourceState | None) -> dict | None:
    """A paging source's backlog that the page cap deferred to the next polls, or None."""
    try:
        backlog = Backlog.from_cursor(state.cursor if state else None)
    except ValueError:
        return None  # the next poll says so in the log, and drops it
    return backlog.summary() if backlog else None


def delivery_row(d: Delivery) -> dict:
    return {
        "id": d.id,
        "alert_id": d.alert_id,
        "kind": d.kind,
        "subscriber": d.subscriber_id,
        "channel": d.channel_label,  # the label hides secrets in the URL
        "mode": d.mode,
        "status": d.status,
        "attempts": d.attempts,
        "next_attempt": iso(d.next_attempt),
        "last_error": d.last_error,
        "created_at": iso(d.created_at),
        "sent_at": iso(d.sent_at),
    }
