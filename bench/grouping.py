"""Alert grouping precision and recall on the labeled event clusters in tests/data/events/.

Two runs, both in time order:
- `logic`: each report's watches and agreements as labeled (subject vs mentioned in passing), straight through
  `alerts.plan_alerts`, with open alerts kept the way the store keeps them (event window, the stored fields). This
  measures grouping alone, as if matching were perfect.
- `pipeline` (`--pipeline`): the reports served as feeds on a loopback HTTP server and polled one by one through the
  real pipeline with the example watchlist in config/; alerts read back from SQLite. This measures what a subscriber
  gets today, matching included.

Pairwise figures: a pair of reports is predicted together when both land in one alert, truly together when they
share a cluster label. Only reports that reached an alert count (coverage is printed beside).

    .venv/bin/python bench/grouping.py [--pipeline] [--alerts-module path/to/alerts.py]

`--alerts-module` runs the logic with another copy of alerts.py (e.g. the previous commit's) for a before/after.
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import sys
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from types import ModuleType
from typing import Any
from xml.sax.saxutils import escape

import yaml

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "events" / "reports.yaml"
WINDOW = timedelta(days=3)  # settings.event_window's default
PORTAL_SOURCES = ("pravo-government-rss", "government-docs", "pravo-government")


@dataclass(frozen=True)
class Labeled:
    id: str
    cluster: str
    source: str
    lang: str
    at: datetime
    title: str
    summary: str
    watches: tuple[str, ...]
    subjects: tuple[str, ...]
    mentions: tuple[str, ...]


@dataclass(frozen=True)
class Figures:
    precision: float
    recall: float
    pairs_predicted: int
    pairs_true: int
    covered: int
    total: int
    alerts: int

    def line(self, name: str) -> str:
        return (
            f"{name:<28} precision {self.precision:.3f}  recall {self.recall:.3f}  "
            f"(pairs predicted {self.pairs_predicted}, true {self.pairs_true}; "
            f"{self.covered}/{self.total} reports alerted, {self.alerts} alerts)"
        )


def load(path: Path = DATA) -> list[Labeled]:
    """The labeled reports, oldest first (ties keep file order, as one poll would)."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))["reports"]
    out = []
    for r in raw:
        at = r["at"] if isinstance(r["at"], datetime) else datetime.fromisoformat(str(r["at"]))
        out.append(
            Labeled(
                r["id"],
                r["cluster"],
                r["source"],
                r["lang"],
                at.astimezone(UTC),
                " ".join(r["title"].split()),
                " ".join((r.get("summary") or "").split()),
                tuple(r.get("watches") or ()),
                tuple(r.get("subjects") or ()),
                tuple(r.get("mentions") or ()),
            )
        )
    return sorted(out, key=lambda x: x.at)


def pairwise(truth: dict[str, str], predicted: dict[str, Any], total: int | None = None) -> Figures:
    """Pairwise precision/recall over the reports that reached an alert; `truth` maps id → cluster label."""
    ids = sorted(i for i in predicted if i in truth)
    tp = fp = fn = 0
    for a, b in itertools.combinations(ids, 2):
        same_pred = predicted[a] == predicted[b]
        same_true = truth[a] == truth[b]
        tp += same_pred and same_true
        fp += same_pred and not same_true
        fn += same_true and not same_pred
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    return Figures(
        precision, recall, tp + fp, tp + fn, len(ids), total or len(truth), len(set(predicted[i] for i in ids))
    )


# -- the logic run ---------------------------------------------------------------------------------------------
def load_alerts_module(path: Path | None) -> ModuleType:
    """treatywatch.alerts, or another copy of it loaded as a module of the treatywatch package."""
    if path is None:
        from treatywatch import alerts

        return alerts
    spec = importlib.util.spec_from_file_location("treatywatch._alerts_under_test", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def example_watchlist() -> Any:
    from treatywatch.config import load_config
    from treatywatch.matching import Watchlist

    return Watchlist(load_config(ROOT / "config", {}))


def to_report(mod: ModuleType, r: Labeled, watchlist: Any = None) -> Any:
    """The Report matching would produce if it were perfect: one Match per labeled watch, with the labeled
    agreements; the term hits (what a fingerprint leaves out) come from the real engine when it fires."""
    from treatywatch.items import Item
    from treatywatch.matching import AgreementHit, Match

    hits = tuple(AgreementHit(a, a, 1.0, ("labeled",), True) for a in r.subjects) + tuple(
        AgreementHit(a, a, 0.5, ("labeled, in passing",), False) for a in r.mentions
    )
    severity = {"frozen-assets": "medium"}
    item = Item(r.source, r.id, r.title, f"https://example.org/{r.id}", r.summary, r.at, r.lang)
    fired = {m.watch_id: m.hits for m in watchlist.match(item)} if watchlist is not None else {}
    matches = tuple(
        Match(w, w, severity.get(w, "high"), fired.get(w, ()), hits if w == "agreement-terminated" else ())
        for w in r.watches
    )
    return mod.Report(item, matches)


@dataclass
class _Row:
    """An alert row as the store keeps it."""

    id: int
    created_at: datetime
    watches: frozenset[str]
    agreements: frozenset[str]
    title: str
    fingerprint: frozenset[str]


def _open_alert(mod: ModuleType, row: _Row) -> Any:
    """What Store.open_alerts builds from a row: whichever of these fields the module's OpenAlert has."""
    have = {f.name for f in fields(mod.OpenAlert)}
    values: dict[str, Any] = {"id": row.id, "watches": row.watches, "agreements": row.agreements}
    if hasattr(mod, "stored_fingerprint"):
        values["fingerprint"] = mod.stored_fingerprint(" ".join(sorted(row.fingerprint)), row.title)
    else:
        values["fingerprint"] = mod.fingerprint(row.title)
    if "created_at" in have:
        values["created_at"] = row.created_at
    return mod.OpenAlert(**{k: v for k, v in values.items() if k in have})


def run_logic(labeled: list[Labeled], mod: ModuleType, watchlist: Any = None) -> dict[str, int]:
    """Each poll (same source, same minute) planned against the alerts opened within the window before it."""
    rows: list[_Row] = []
    where: dict[str, int] = {}
    for _key, group in itertools.groupby(labeled, key=lambda r: (r.at, r.source)):
        batch = list(group)
        now = batch[0].at
        open_alerts = [_open_alert(mod, row) for row in rows if row.created_at >= now - WINDOW]
        reports = [to_report(mod, r, watchlist) for r in batch if r.watches]
        plan = mod.plan_alerts(reports, open_alerts)
        for new in plan.new:
            row = _Row(
                len(rows) + 1, now, frozenset(new.watches), frozenset(new.agreements), new.title, new.fingerprint
            )
            rows.append(row)
            for rep in new.reports:
                where[rep.item.key] = row.id
        for attach in plan.attach:
            where[attach.report.item.key] = attach.alert_id
            if getattr(attach, "fingerprint", None):
                rows[attach.alert_id - 1].fingerprint = attach.fingerprint
    return where


# -- the pipeline run ------------------------------------------------------------------------------------------
def _feed(items: Iterable[Labeled]) -> bytes:
    body = "".join(
        f"<item><title>{escape(r.title)}</title><link>https://example.org/{r.id}</link><guid>{r.id}</guid>"
        f"<description>{escape(r.summary)}</description><pubDate>{format_datetime(r.at)}</pubDate></item>"
        for r in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>' + body + "</channel></rss>"
    ).encode()


def run_pipeline(labeled: list[Labeled], log: Callable[[str], None] = lambda _: None) -> dict[str, int]:
    """Every report served as a feed item and polled at its own time through the real pipeline."""
    from treatywatch.app import build_app
    from treatywatch.config import load_config
    from treatywatch.config.models import ConfigFile, Settings
    from treatywatch.localserve import FixtureServer
    from treatywatch.matching import Watchlist

    operator = load_config(ROOT / "config", {})
    now = [labeled[0].at]
    served: dict[str, list[Labeled]] = defaultdict(list)
    with tempfile.TemporaryDirectory() as tmp, FixtureServer() as http:
        specs = []
        for source in sorted({r.source for r in labeled}):
            http.routes[f"/{source}.xml"] = lambda h, s=source: (  # type: ignore[misc]
                200,
                {"Content-Type": "application/rss+xml"},
                _feed(served[s]),
            )
            lang = next(r.lang for r in labeled if r.source == source)
            spec: dict[str, Any] = {"id": source, "type": "feed", "url": f"{http.base}/{source}.xml", "language": lang}
            if source in PORTAL_SOURCES:
                spec["implies"] = ["russia"]
            specs.append(spec)
        sources = ConfigFile.model_validate({"sources": specs}).sources
        config = operator.model_copy(
            update={
                "sources": sources,
                "subscribers": [],
                "settings": Settings(state_dir=Path(tmp), web_port=0, per_host_delay=0.0),
            }
        )
        app = build_app(config, Watchlist(config), clock=lambda: now[0], echo=log)
        try:
            for r in labeled:
                served[r.source].append(r)
                now[0] = r.at + timedelta(minutes=1)
                app.runner.poll(r.source)
            where: dict[str, int] = {}
            for alert in app.store.recent_alerts(10_000):
                for rep in alert.reports:
                    where[rep.item.key.rsplit("/", 1)[-1]] = alert.id
        finally:
            app.store.close()
    return where


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--alerts-module", type=Path, default=None, help="another alerts.py to run the logic with")
    ap.add_argument("--pipeline", action="store_true", help="also run the real pipeline with config/")
    ap.add_argument("--show", action="store_true", help="print each alert's reports")
    args = ap.parse_args(argv)
    labeled = load(args.data)
    truth = {r.id: r.cluster for r in labeled}
    mod = load_alerts_module(args.alerts_module)
    runs = {"logic": run_logic(labeled, mod, example_watchlist())}
    if args.pipeline:
        runs["pipeline"] = run_pipeline(labeled)
    agreement_ids = {r.id for r in labeled if r.subjects}
    print(f"{len(labeled)} reports, {len(set(truth.values()))} events, languages {sorted({r.lang for r in labeled})}")
    for name, where in runs.items():
        print(pairwise(truth, where, len(labeled)).line(name))
        with_agreements = {k: v for k, v in where.items() if k in agreement_ids}
        without = {k: v for k, v in where.items() if k not in agreement_ids}
        print(pairwise(truth, with_agreements, len(agreement_ids)).line("  reports with agreements"))
        print(pairwise(truth, without, len(labeled) - len(agreement_ids)).line("  reports without"))
        if args.show:
            by_alert: dict[int, list[str]] = defaultdict(list)
            for r in labeled:
                if r.id in where:
                    by_alert[where[r.id]].append(f"{r.id} [{r.cluster}]")
            for alert_id, members in sorted(by_alert.items()):
                print(f"    alert {alert_id}: {', '.join(members)}")
            missing = [r.id for r in labeled if r.id not in where]
            if missing:
                print(f"    no alert: {', '.join(missing)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
