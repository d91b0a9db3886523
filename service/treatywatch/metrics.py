"""Prometheus metrics through prometheus_client, on a registry the App owns (no global registry: two apps in one
process, as in tests, never share or clash).

Counters only grow and are counted where the event happens (runner, outbox); figures that can fall (sources
failing, outbox backlog, last success) are gauges read from the store at scrape time, so they are right even
after a restart or when another process (poll --once) did the work.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram, Info, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from . import __version__
from .config.models import Config
from .errors import StoreError
from .store import SqlStore

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# seconds: a local fixture answers in milliseconds, a slow portal in tens of seconds
LATENCY_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
# seconds a poll starts after its turn: well under a second when the daemon keeps up, minutes when it does not
LAG_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 7.5, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 900.0)
FAILING_AFTER = 1  # a source counts as failing from its first failure in a row
# the `source` label of the one series all sources share when there are more than settings.metrics_sources_max
ALL_SOURCES = "*"


def channel_kind(label: str) -> str:
    """The scheme of a channel (mailto, json, terminal): a bounded label, unlike the URL itself."""
    return label.split(":", 1)[0] or "unknown"


@dataclass
class StateSource:
    """What the scrape-time gauges read: the current config (it changes on reload) and the store."""

    config: Callable[[], Config]
    store: SqlStore


def per_source(config: Config) -> bool:
    """Whether metrics carry each source's own series (settings.metrics_sources_max)."""
    return len(config.sources) <= config.settings.metrics_sources_max


class StateCollector(Collector):
    """Gauges computed from the store at each scrape."""

    def __init__(self, source: StateSource) -> None:
        self.source = source

    def describe(self) -> Iterator[GaugeMetricFamily]:
        return iter(())  # computed at scrape time; nothing to check at registration

    def collect(self) -> Iterator[GaugeMetricFamily]:
        config, store = self.source.config(), self.source.store
        each = per_source(config)
        try:
            # past settings.metrics_sources_max, one aggregate query rather than every source's row
            states = store.source_states() if each else {}
            summary = None if each else store.sources_health(FAILING_AFTER)
            counts = store.counts()
        except StoreError:  # the database is away: say so, and the counters above still scrape
            yield GaugeMetricFamily("treatywatch_database_up", "1 when the database answers this scrape", value=0)
            return
        yield GaugeMetricFamily("treatywatch_database_up", "1 when the database answers this scrape", value=1)
        failures = GaugeMetricFamily(
            "treatywatch_source_consecutive_failures",
            'Failed polls in a row per source (0 once one succeeds); source="*" (over settings.metrics_sources_max'
            " sources): the most of any enabled one",
            labels=["source"],
        )
        empty = GaugeMetricFamily(
            "treatywatch_source_empty",
            '1 when a source that had items returned none (layout changed?); source="*": how many enabled ones did',
            labels=["source"],
        )
        last_ok = GaugeMetricFamily(
            "treatywatch_source_last_success_timestamp_seconds",
            'Unix time of the last successful poll per source (absent before the first); source="*": the oldest of'
            " the enabled sources'",
            labels=["source"],
        )
        failing = 0
        for src in config.sources if each else ():
            st = states.get(src.id)
            n = st.consecutive_failures if st else 0
            failing += int(src.enabled and n >= FAILING_AFTER)
            failures.add_metric([src.id], n)
            empty.add_metric([src.id], int(bool(st and st.empty_flag)))
            if st and st.last_success:
                last_ok.add_metric([src.id], st.last_success.timestamp())
        if summary is not None:  # one series for them all: the most failures, the sources empty, the oldest success
            failing = summary.failing
            failures.add_metric([ALL_SOURCES], summary.worst)
            empty.add_metric([ALL_SOURCES], summary.empty)
            if summary.oldest_success is not None:
                last_ok.add_metric([ALL_SOURCES], summary.oldest_success.timestamp())
        yield failures
        yield empty
        yield last_ok
        yield GaugeMetricFamily("treatywatch_sources_failing", "Enabled sources whose last poll failed", value=failing)
        outbox = GaugeMetricFamily(
            "treatywatch_outbox_deliveries", "Deliveries in the outbox now, by status", labels=["status"]
        )
        for status in ("pending", "failed", "dead", "sent", "skipped"):
            outbox.add_metric([status], counts.get(f"deliveries_{status}", 0))
        yield outbox
        stored = GaugeMetricFamily("treatywatch_store_rows", "Rows in the database now, by table", labels=["table"])
        for table in ("items", "matches", "alerts"):
            stored.add_metric([table], counts.get(table, 0))
        yield stored
        documents = GaugeMetricFamily(
            "treatywatch_documents",
            "Documents behind items (acts' PDFs, articles) now, by state: a growing queue is OCR falling behind",
            labels=["state"],
        )
        by_state = store.document_counts()
        for state in ("queued", "read", "ocr", "unreadable"):
            documents.add_metric([state], by_state.get(state, 0))
        yield documents


class Metrics:
    """Built once per App in build_app and handed to the runner, the outbox and the web server."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.items_stored = Counter("treatywatch_items_stored", "New items stored, by source", ["source"], registry=r)
        self.polls = Counter(
            "treatywatch_polls",
            "Polls by source and outcome (ok, not_modified, error)",
            ["source", "outcome"],
            registry=r,
        )
        self.alerts = Counter(
            "treatywatch_alerts",
            "Alerts started, by watch (an alert of two watches counts for each)",
            ["watch"],
            registry=r,
        )
        self.deliveries = Counter(
            "treatywatch_deliveries",
            "Delivery attempts by outcome (sent, failed, dead) and channel kind",
            ["status", "channel"],
            registry=r,
        )
        self.fetch_seconds = Histogram(
            "treatywatch_fetch_duration_seconds",
            "One HTTP fetch (a page of a source), by source",
            ["source"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.poll_seconds = Histogram(
            "treatywatch_poll_duration_seconds",
            "One whole poll (fetch, parse, match, commit), by source",
            ["source"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.schedule_lag = Histogram(
            "treatywatch_schedule_lag_seconds",
            "How long after its turn a source's poll started (the dispatcher's claim), all sources together",
            buckets=LAG_BUCKETS,
            registry=r,
        )
        Info("treatywatch_build", "The running TreatyWatch version", registry=r).info({"version": __version__})
        self._state: StateCollector | None = None
        self._each = True  # the by-source series are each source's (not ALL_SOURCES)
        self._switching = threading.Lock()

    def watch_state(self, source: StateSource) -> None:
        """Register the scrape-time gauges (once: the source reads the App's current config itself)."""
        if self._state is None:
            self._state = StateCollector(source)
            self.registry.register(self._state)

    def _source(self, source_id: str) -> str:
        """The `source` label: the source's id, or ALL_SOURCES past settings.metrics_sources_max. A reload that
        crosses the limit drops the series kept so far (counters start again, which Prometheus' rate() expects)."""
        each = self._state is None or per_source(self._state.source.config())
        if each != self._each:
            with self._switching:
                if each != self._each:
                    for family in (self.polls, self.items_stored, self.fetch_seconds, self.poll_seconds):
                        family.clear()
                    self._each = each
        return source_id if each else ALL_SOURCES

    def fetched(self, source_id: str, seconds: float) -> None:
        self.fetch_seconds.labels(self._source(source_id)).observe(seconds)

    def polled(self, source_id: str, outcome: str, new: int, seconds: float) -> None:
        source = self._source(source_id)
        self.polls.labels(source, outcome).inc()
        self.items_stored.labels(source).inc(new)
        self.poll_seconds.labels(source).observe(seconds)

    def delivered(self, status: str, channel_label: str, n: int = 1) -> None:
        self.deliveries.labels(status, channel_kind(channel_label)).inc(n)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
