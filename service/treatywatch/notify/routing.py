"""Who gets what, when: alerts to subscribers' channels, respecting watches, severity, mode and quiet hours."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from ..alerts import AlertPlan
from ..config.models import SEVERITY_RANK, Subscriber
from .channels import TERMINAL, channel
from .schedule import next_digest, quiet_end

# With no subscriber configured, alerts print to the terminal: a newcomer sees something at once.
TERMINAL_SUBSCRIBER = Subscriber(id="terminal", notify=[TERMINAL])


@dataclass(frozen=True)
class DeliverySpec:
    subscriber_id: str
    channel: str
    channel_label: str
    mode: str
    kind: str  # alert | followup
    next_attempt: datetime


def effective_subscribers(subscribers: list[Subscriber]) -> list[Subscriber]:
    return subscribers or [TERMINAL_SUBSCRIBER]


def wants(sub: Subscriber, watches: set[str] | frozenset[str], severity: str) -> bool:
    if SEVERITY_RANK[severity] < SEVERITY_RANK[sub.min_severity]:
        return False
    return sub.watches == "all" or bool(set(sub.watches) & set(watches))


def due_time(sub: Subscriber, ready: datetime) -> datetime:
    """Digest subscribers get it at their next digest; others at once, unless quiet hours hold it."""
    if sub.mode == "digest":
        return next_digest(ready, sub.digest_at, sub.timezone)
    return quiet_end(ready, sub.quiet_hours, sub.timezone)


def route(
    subscribers: list[Subscriber],
    watches: set[str] | frozenset[str],
    severity: str,
    kind: str,
    now: datetime,
    followup_delay: float = 0.0,
) -> list[DeliverySpec]:
    """One delivery per subscriber channel that wants this alert. Pure."""
    ready = now + timedelta(seconds=followup_delay) if kind == "followup" else now
    out = []
    for sub in effective_subscribers(subscribers):
        if not wants(sub, watches, severity):
            continue
        when = due_time(sub, ready)
        for url in sub.notify:
            ch = channel(url)
            out.append(DeliverySpec(sub.id, ch.key, ch.label, sub.mode, kind, when))
    return out


def plan_deliveries(
    subscribers: list[Subscriber], plan: AlertPlan, now: datetime, followup_delay: float
) -> tuple[list[list[DeliverySpec]], list[list[DeliverySpec]]]:
    """The deliveries of an alert plan: for each new alert its message, for each report joining an alert its
    follow-up (after `followup_delay`). A poll's plan and a read document's. Pure."""
    for_new = [route(subscribers, n.watches, n.severity, "alert", now) for n in plan.new]
    for_attach = [
        route(subscribers, a.report.watch_ids, a.report.top.severity, "followup", now, followup_delay)
        for a in plan.attach
    ]
    return for_new, for_attach
