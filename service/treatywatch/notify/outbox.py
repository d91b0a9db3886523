"""The outbox: sends what is due, marks it sent with exactly the reports it carried, retries failures with
backoff, never drops a delivery.

- Each channel is worked by one task at a time in a small pool (settings.delivery_workers), so a slow or dead
  channel delays only its own messages, and the daemon's polls only start tasks (`dispatch`), never wait on them.
- A message's deliveries are claimed just before it is rendered, and the claim is renewed just before it is sent:
  whatever another daemon or a `poll --once` holds, or took over from a process too slow to renew, is not sent.
- A delivery records the reports (item ids) its message rendered, read in the same statement that rendered them.
  What a follow-up says is what the channel has not received, never "what was added after a time"; a follow-up
  with nothing new is recorded as skipped, never as sent.

A crash after the channel accepted a message but before `mark_sent` committed sends that message again on
restart: at most one duplicate per killed process, never a loss.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_all
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from functools import partial

from ..config.models import Config, Subscriber
from ..errors import NotifyError, StoreConflict, StoreError
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
NOTHING_NEW = "nothing new: earlier messages carried every report of the alert"


@dataclass
class OutboxStats:
    sent: int = 0
    failed: int = 0
    dead: int = 0
    postponed: int = 0
    skipped: int = 0

    def add(self, other: OutboxStats) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


@dataclass(frozen=True)
class Composed:
    """A message and what it carries: delivery id -> the item ids it renders; `skipped`: deliveries of the group
    with nothing new (settled without a message)."""

    message: Message | None
    carried: dict[int, dict[int, int]]  # delivery id -> item id -> the version of the report rendered
    skipped: list[int]


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
        # channels with a task in flight (one task per channel at a time), and the pool they run in
        self._busy: dict[str, Future[OutboxStats]] = {}
        self._state = threading.RLock()
        self._pool: ThreadPoolExecutor | None = None
        self._unreachable = False  # the last dispatch could not read the database (said once, not every pass)
        # Set by the daemon's shutdown: the message being sent is finished and marked, no further one is started,
        # so a stop never abandons a sent-but-unmarked delivery that it could have marked.
        self.stopping = threading.Event()

    # -- passes ----------------------------------------------------------------------------------------------------
    def run_once(self) -> OutboxStats:
        """Work through every due delivery once and wait for it (the CLI's pass). A failing channel does not hold up
        the others; a store error is raised."""
        stats = OutboxStats()
        futures = self.dispatch(wait=True)
        wait_all(futures)
        for fut in futures:
            stats.add(fut.result())
        return stats

    def dispatch(self, wait: bool = False) -> list[Future[OutboxStats]]:
        """Start a task for each channel with due deliveries and no task in flight; returns at once (the daemon's
        pass, from its timer and after each poll). Without `wait`, a task's failure is logged here."""
        with self._state:
            if self.stopping.is_set():
                return []
            started = []
            try:
                due = self._due(self.clock())
            except StoreError as exc:
                if wait:
                    raise
                if not self._unreachable:
                    log.warning("outbox: database unreachable, sending resumes when it answers: %s", exc)
                self._unreachable = True
                return []
            if self._unreachable:
                log.info("outbox: database reachable again; sending what is due")
                self._unreachable = False
            for key, groups in due.items():
                if key in self._busy:
                    continue  # its previous task is still sending: it picks these up next time
                fut = self._executor().submit(self._work_channel, groups)
                self._busy[key] = fut
                fut.add_done_callback(partial(self._finished, key, waited=wait))
                started.append(fut)
            return started

    def drain(self, timeout: float) -> list[str]:
        """At a stop: wait up to `timeout` for the tasks in flight; returns the channels still sending."""
        with self._state:
            futures = dict(self._busy)
        _, pending = wait_all(list(futures.values()), timeout=max(0.0, timeout))
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        return sorted(key for key, fut in futures.items() if fut in pending)

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            workers = self.config.settings.delivery_workers
            self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="deliver")
        return self._pool

    def _finished(self, key: str, fut: Future[OutboxStats], *, waited: bool) -> None:
        with self._state:
            if self._busy.get(key) is fut:
                del self._busy[key]
        exc = fut.exception() if not fut.cancelled() else None
        if exc is not None and not waited:
            log.error("sending to a channel failed; its deliveries are retried next pass: %s", exc)

    def _due(self, now: datetime) -> dict[str, list[list[Delivery]]]:
        """Due deliveries grouped into messages (a delivery alone, or a subscriber's digest), by channel."""
        settings = self.config.settings
        # Nothing is legitimately scheduled further ahead than the longest backoff, a follow-up delay and a day of
        # digest or quiet hours: a delivery beyond that was scheduled by a clock that has since gone back, and
        # waiting for it would hold the alert for as long as the clock jumped.
        horizon = now + timedelta(
            seconds=settings.delivery_backoff_max + settings.followup_delay + CLOCK_SLACK.total_seconds()
        )
        groups: dict[tuple[object, ...], list[Delivery]] = {}
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
        by_channel: dict[str, list[list[Delivery]]] = {}
        for group in groups.values():
            by_channel.setdefault(group[0].channel, []).append(group)
        return by_channel

    # -- one channel -----------------------------------------------------------------------------------------------
    def _work_channel(self, groups: list[list[Delivery]]) -> OutboxStats:
        """One channel's messages, one at a time; after a failure the rest wait for the next pass."""
        stats = OutboxStats()
        for n, group in enumerate(groups):
            if self.stopping.is_set():
                stats.postponed += sum(len(g) for g in groups[n:])
                break
            if not self._send_group(group, stats):
                stats.postponed += sum(len(g) for g in groups[n + 1 :])
                break
        return stats

    def _send_group(self, group: list[Delivery], stats: OutboxStats) -> bool:
        """Claim, render, re-check the claim, send, record. False when the channel failed."""
        claimed = self.store.claim_deliveries([d.id for d in group], self.clock())
        group = [d for d in group if d.id in claimed]
        if not group:
            return True  # another process holds them, or settled them meanwhile
        first, ids = group[0], [d.id for d in group]
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
            return True
        composed = self._compose(group, sub, url)
        if composed.skipped:
            self.store.mark_skipped(composed.skipped, NOTHING_NEW)
            stats.skipped += len(composed.skipped)
            self.metrics.delivered("skipped", first.channel_label, len(composed.skipped))
            log.info("follow-up %s to %s skipped: %s", composed.skipped, first.channel_label, NOTHING_NEW)
        if composed.message is None:
            return True
        sending = list(composed.carried)
        held = self.store.renew_claims(sending, self.clock())
        if held != set(sending):
            log.warning(
                "deliveries %s not sent: their claim was lost (another process took them over); it sends them",
                sorted(set(sending) - held),
            )
            return True
        try:
            self.sender.send(url, composed.message)
        except NotifyError as exc:
            self._failed(group, sending, exc, stats)
            return False
        done = self.clock()
        self._record_sent(composed.carried, done)
        stats.sent += len(sending)
        self.metrics.delivered("sent", first.channel_label, len(sending))
        log.info("delivered %s to %s (%s)", sending, first.channel_label, first.subscriber_id)
        return True

    def _record_sent(self, carried: dict[int, dict[int, int]], done: datetime) -> None:
        """The message is out: record it even if the database is away for a while, or a restart would send it
        again. Retried (0.5 s, doubling to 5 s) until it is written or the daemon stops; this process's claim
        outlives a short outage, so no other process sends it meanwhile."""
        followup_at = done + timedelta(seconds=self.config.settings.followup_delay)
        delay = 0.5
        while True:
            try:
                self.store.mark_sent(carried, done, followup_at=followup_at)
                return
            except StoreConflict:
                raise
            except StoreError as exc:
                if self.stopping.wait(delay):
                    log.error("deliveries %s were sent but could not be recorded (%s): sent again on restart",
                              sorted(carried), exc)  # fmt: skip
                    raise
                log.warning("deliveries %s sent; recording it waits for the database: %s", sorted(carried), exc)
                delay = min(delay * 2, 5.0)

    def _failed(self, group: list[Delivery], ids: list[int], exc: NotifyError, stats: OutboxStats) -> None:
        settings = self.config.settings
        first = group[0]
        what = self._titles(group)
        attempts = max(d.attempts for d in group if d.id in ids) + 1
        if attempts >= settings.delivery_max_attempts:
            self.store.mark_failed(ids, str(exc), None)
            stats.dead += len(ids)
            self.metrics.delivered("dead", first.channel_label, len(ids))
            log.error(
                "delivery %s of %s to %s (%s) is dead after %d attempts: %s",
                ids,
                what,
                first.subscriber_id,
                first.channel_label,
                attempts,
                exc,
            )
            return
        delay = backoff(attempts, settings.delivery_backoff_base, settings.delivery_backoff_max, self.rng)
        self.store.mark_failed(ids, str(exc), self.clock() + timedelta(seconds=delay))
        stats.failed += len(ids)
        self.metrics.delivered("failed", first.channel_label, len(ids))
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

    # -- what a message says -----------------------------------------------------------------------------------------
    def _find(self, d: Delivery) -> tuple[Subscriber | None, str | None]:
        for sub in effective_subscribers(self.config.subscribers):
            if sub.id == d.subscriber_id:
                return sub, next((u for u in sub.notify if channel(u).key == d.channel), None)
        return None, None

    def _news(self, d: Delivery) -> tuple[AlertView, frozenset[int] | None, dict[int, int]]:
        """The alert, the item ids this channel already has of it (None for the alert's own message), and the
        reports still to tell (item id -> the report's version: one whose document named more agreements since the
        channel had it is news again): all from one read of the alert's reports."""
        alert = self.store.alert(d.alert_id)
        if d.kind != "followup":
            return alert, None, {r.item_id: r.version for r in alert.reports}
        had = self.store.carried_items(d.alert_id, d.subscriber_id, d.channel)
        return alert, had, {r.item_id: r.version for r in alert.reports if r.item_id not in had}

    def _verdict_link(self, alert_id: int, subscriber: str) -> str:
        """A signed link for this alert and subscriber (links.py), when the console's address and a secret are set."""
        s = self.config.settings
        if not s.web_base_url or s.verdict_link_secret is None or not s.verdict_link_secret.get_secret_value():
            return ""
        from ..links import verdict_url

        secret = s.verdict_link_secret.get_secret_value()
        return verdict_url(s.web_base_url, secret, alert_id, subscriber, self.clock(), s.verdict_link_valid)

    def _compose(self, group: list[Delivery], sub: Subscriber, url: str) -> Composed:
        fmt = preferred_format(url, sub.format)
        carried: dict[int, dict[int, int]] = {}
        skipped: list[int] = []
        if group[0].mode != "digest":
            d = group[0]
            alert, had, fresh = self._news(d)
            if not fresh:
                return Composed(None, {}, [d.id])
            return Composed(
                self.renderer.alert(alert, fmt, had, self._verdict_link(alert.id, sub.id)), {d.id: fresh}, []
            )
        entries = []
        whole = {d.alert_id: d.id for d in group if d.kind == "alert"}
        for d in group:
            if d.kind == "followup" and d.alert_id in whole:
                continue  # the alert itself is in this digest, with every report
            alert, had, fresh = self._news(d)
            if not fresh:
                skipped.append(d.id)
                continue
            entries.append(DigestEntry(alert, tuple(r for r in alert.reports if had is None or r.item_id not in had)))
            carried[d.id] = fresh
        for d in group:
            if d.kind == "followup" and d.alert_id in whole:
                carried[d.id] = carried[whole[d.alert_id]]
        return Composed(self.renderer.digest(entries, fmt) if entries else None, carried, skipped)

    def _titles(self, group: list[Delivery]) -> str:
        """The alert a failed delivery carried, quoted, so the log says what a subscriber missed."""
        first = self.store.alert(group[0].alert_id).title
        others = len({d.alert_id for d in group}) - 1
        return f"«{first}»" + (f" and {others} more alert(s)" if others else "")
