"""The outbox worker: sends what is due, marks it sent, retries failures with backoff, never drops a delivery.

A crash after the channel accepted a message but before `mark_sent` committed sends that message again on
restart: at most one duplicate per delivery, never a loss.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..config.models import Config, Subscriber
from ..errors import NotifyError
from ..metrics import Metrics
from ..retry import backoff
from ..store import AlertView, Delivery, SqlStore
from .channels import channel
from .render import DigestEntry, Renderer
from .routing import effective_subscribers
from .sender import Message, Sender, preferred_format

log = logging.getLogger("treatywatch.notify")

CLOCK_SLACK = timedelta(days=2)
FOREVER = timedelta(days=36500)


@dataclass
class OutboxStats:
    sent: int = 0
    failed: int = 0
    dead: int = 0
    postponed: int = 0


class Outbox:
    def __init__(
        self,
        config: Config,
        store: SqlStore,
        sender: Sender,
        renderer: Renderer,
        clock: Callable[[], datetime],
        rng: random.Random | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.sender = sender
        self.renderer = renderer
        self.clock = clock
        self.rng = rng or random.Random()
        self.metrics = metrics or Metrics()
        self._lock = threading.Lock()  # one worker at a time, or two threads could send the same delivery
        # Set by the daemon's shutdown: the message being sent is finished and marked, no further one is started,
        # so a stop never abandons a sent-but-unmarked delivery that it could have marked.
        self.stopping = threading.Event()

    def _find(self, d: Delivery) -> tuple[Subscriber | None, str | None]:
        for sub in effective_subscribers(self.config.subscribers):
            if sub.id == d.subscriber_id:
                return sub, next((u for u in sub.notify if channel(u).key == d.channel), None)
        return None, None

    def _news(self, d: Delivery) -> tuple[AlertView, datetime | None, bool]:
        """The alert, what this channel already had of it, and whether anything is left to say."""
        alert = self.store.alert(d.alert_id)
        covered = self.store.covered_until(d.alert_id, d.subscriber_id, d.channel) if d.kind == "followup" else None
        fresh = covered is None or any(r.added_at > covered for r in alert.reports)
        return alert, covered, fresh

    def _message(self, group: list[Delivery], sub: Subscriber, url: str) -> Message | None:
        """None when a follow-up has nothing new (an earlier message already carried its reports)."""
        fmt = preferred_format(url, sub.format)
        if group[0].mode == "digest":
            entries = []
            whole = {d.alert_id for d in group if d.kind == "alert"}
            for d in group:
                if d.kind == "followup" and d.alert_id in whole:
                    continue  # the alert itself is in this digest, with every report
                alert, covered, fresh = self._news(d)
                if fresh:
                    entries.append(
                        DigestEntry(alert, tuple(r for r in alert.reports if covered is None or r.added_at > covered))
                    )
            return self.renderer.digest(entries, fmt) if entries else None
        alert, covered, fresh = self._news(group[0])
        return self.renderer.alert(alert, fmt, covered) if fresh else None

    def _titles(self, group: list[Delivery]) -> str:
        """The alert a failed delivery carried, quoted, so the log says what a subscriber missed."""
        first = self.store.alert(group[0].alert_id).title
        others = len({d.alert_id for d in group}) - 1
        return f"«{first}»" + (f" and {others} more alert(s)" if others else "")

    def run_once(self) -> OutboxStats:
        """Work through every due delivery once. A failing channel does not hold up the others."""
        with self._lock:
            return self._run_once()

    def _run_once(self) -> OutboxStats:
        now = self.clock()
        stats = OutboxStats()
        groups: dict[tuple, list[Delivery]] = {}
        settings = self.config.settings
        # Nothing is legitimately scheduled further ahead than the longest backoff, a follow-up delay and a day of
        # digest or quiet hours: a delivery beyond that was scheduled by a clock that has since gone back, and
        # waiting for it would hold the alert for as long as the clock jumped.
        horizon = now + timedelta(
            seconds=settings.delivery_backoff_max + settings.followup_delay + CLOCK_SLACK.total_seconds()
        )
        for d in self.store.due_deliveries(now + FOREVER):
            if now < d.next_attempt <= horizon:
                continue
            if d.next_attempt > horizon:
                log.warning(
                    "delivery %s was due at %s, beyond any schedule: the clock went back; sending now",
                    d.id,
                    d.next_attempt.isoformat(),
                )
            key = (d.subscriber_id, d.channel, "digest") if d.mode == "digest" else (d.id,)
            groups.setdefault(key, []).append(d)
        failed_channels: set[str] = set()
        for group in groups.values():
            if self.stopping.is_set():
                stats.postponed += len(group)
                continue
            first = group[0]
            ids = [d.id for d in group]
            if first.channel in failed_channels:
                stats.postponed += len(group)
                continue
            sub, url = self._find(first)
            if sub is None or url is None:
                self.store.mark_failed(ids, "subscriber or channel no longer configured", None)
                stats.dead += len(group)
                self.metrics.delivered("dead", first.channel_label, len(group))
                log.error(
                    "deliveries %s are dead: %s channel %s is no longer configured",
                    ids,
                    first.subscriber_id,
                    first.channel_label,
                )
                continue
            message = self._message(group, sub, url)
            try:
                if message is not None:
                    self.sender.send(url, message)
            except NotifyError as exc:
                failed_channels.add(first.channel)
                what = self._titles(group)
                attempts = max(d.attempts for d in group) + 1
                if attempts >= settings.delivery_max_attempts:
                    self.store.mark_failed(ids, str(exc), None)
                    stats.dead += len(group)
                    self.metrics.delivered("dead", first.channel_label, len(group))
                    log.error(
                        "delivery %s of %s to %s (%s) is dead after %d attempts: %s",
                        ids,
                        what,
                        first.subscriber_id,
                        first.channel_label,
                        attempts,
                        exc,
                    )
                else:
                    delay = backoff(attempts, settings.delivery_backoff_base, settings.delivery_backoff_max, self.rng)
                    self.store.mark_failed(ids, str(exc), now + timedelta(seconds=delay))
                    stats.failed += len(group)
                    self.metrics.delivered("failed", first.channel_label, len(group))
                    log.warning(
                        "delivery %s of %s to %s (%s) failed (attempt %d), retry in %.0fs: %s",
                        ids,
                        what,
                        first.subscriber_id,
                        first.channel_label,
                        attempts,
                        delay,
                        exc,
                    )
                continue
            self.store.mark_sent(ids, now)
            stats.sent += len(group)
            self.metrics.delivered("sent", first.channel_label, len(group))
            log.info("delivered %s to %s (%s)", ids, first.channel_label, first.subscriber_id)
        return stats
