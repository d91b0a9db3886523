"""A labeled dev set (items.jsonl, the format of tests/devset/) through the real pipeline, scored.

The items become what a deployment polls: one RSS feed per language and a legal-portal API page for Russian
portal acts, served on loopback; `poll` fetches, parses, stores and matches them as it would in production, and
the matches are read back from SQLite. Watch ids are compared without case (W1 = w1), agreement ids likewise.
"""

from __future__ import annotations

import html
import json
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import ConfigError
from .evaluation import Score
from .matching.text import LANGUAGES

if TYPE_CHECKING:
    from .matching import Watchlist


@dataclass(frozen=True)
class DevItem:
    id: str
    lang: str
    source: str
    title: str
    summary: str
    published: datetime
    watches: frozenset[str]
    agreements: frozenset[str]


def _line(t: Score) -> str:
    return f"P {t.precision:.2f} R {t.recall:.2f} (tp {t.tp} fp {t.fp} fn {t.fn})"


@dataclass
class DevReport:
    items: int
    overall: Score = field(default_factory=Score)
    by_watch: dict[str, Score] = field(default_factory=dict)
    by_language: dict[str, Score] = field(default_factory=dict)
    attribution: tuple[int, int] = (0, 0)
    misses: list[str] = field(default_factory=list)
    errors: str = ""  # with errors=True: each false alarm and miss diagnosed (evaluation.errors_text)

    def text(self) -> str:
        lines = [f"{w}: {_line(t)}" for w, t in sorted(self.by_watch.items())]
        lines += [f"  {lang}: {_line(t)}" for lang, t in self.by_language.items()]
        exact, caught = self.attribution
        lines.append(f"agreement attribution on caught agreement-watch items: exact set {exact}/{caught}")
        lines += [f"    {m}" for m in self.misses]
        lines.append(f"detection devset: {_line(self.overall)} over {self.items} items")
        return "\n".join(lines)


def load_items(folder: Path) -> list[DevItem]:
    path = folder / "items.jsonl"
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
            out.append(
                DevItem(
                    d["id"],
                    d["lang"],
                    d["source"],
                    d["title"],
                    d.get("summary") or "",
                    datetime.fromisoformat(d["published"].replace("Z", "+00:00")),
                    frozenset(w.lower() for w in d["expect"]["watches"]),
                    frozenset(a.lower() for a in d["expect"]["agreements"]),
                )
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError([f"{path}:{n}: not a dev-set item ({exc})"]) from exc
    return out


def _link(base: str, item: DevItem) -> str:
    return f"{base}/news/{item.lang}/{item.id}.html"


def _feed(base: str, lang: str, items: list[DevItem]) -> bytes:
    entries = "".join(
        f"<item><title>{html.escape(i.title)}</title><link>{_link(base, i)}</link><guid>{_link(base, i)}</guid>"
        f"<pubDate>{format_datetime(i.published)}</pubDate><description>{html.escape(i.summary)}</description></item>"
        for i in items
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{lang}</title>'
        f"<link>{base}/</link><description>devset</description>{entries}</channel></rss>"
    ).encode()


def _portal(items: list[DevItem]) -> tuple[bytes, dict[str, str]]:
    """The shape of publication.pravo.gov.ru's /api/Documents; the act's quoted name is its `name`."""
    docs, eo_to_id = [], {}
    for n, i in enumerate(items):
        eo = f"0001{i.published:%Y%m%d}{n:04d}"
        eo_to_id[eo] = i.id
        head, _, rest = i.title.partition(' "')
        name = rest.rstrip('"') if rest else ""
        docs.append(
            {
                "eoNumber": eo,
                "publishDateShort": f"{i.published.date()}T00:00:00",
                "complexName": head + (f'\n "{name}"' if name else ""),
                "name": name,
                "number": str(100 + n),
            }
        )
    body = {"items": docs, "itemsTotalCount": len(docs), "currentPage": 1, "pagesTotalCount": 1}
    return json.dumps(body, ensure_ascii=False).encode(), eo_to_id


def _static(body: bytes, content_type: str) -> Callable[[object], tuple[int, dict[str, str], bytes]]:
    return lambda _handler: (200, {"Content-Type": content_type}, body)


def run(
    folder: Path,
    watchlist_file: Path,
    build: Callable[[Path, Path], object],
    errors: bool = False,
) -> DevReport:
    """Serve the items, poll them through the app `build(config_dir, state_dir)` returns, and score; with
    `errors`, diagnose each wrong outcome on the item as the runner read it (its language identified)."""
    from .localserve import FixtureServer

    items = load_items(folder)
    by_id = {i.id: i for i in items}
    with FixtureServer() as server, tempfile.TemporaryDirectory(prefix="treatywatch-devset-") as tmp:
        work = Path(tmp)
        portal = [i for i in items if i.source == "portal" and i.lang == "ru"]
        news = [i for i in items if i not in portal]
        sources = []
        for lang in sorted({i.lang for i in news}):
            body = _feed(server.base, lang, [i for i in news if i.lang == lang])
            server.routes[f"/news-{lang}.xml"] = _static(body, "application/rss+xml")
            sources.append(
                f"  - {{id: devset-news-{lang}, type: feed, url: '{server.base}/news-{lang}.xml', language: {lang}}}"
            )
        api, eo_to_id = _portal(portal)
        server.routes["/api/Documents"] = _static(api, "application/json")
        sources.append(f"  - {{id: devset-portal, type: pravo, url: '{server.base}', block: government}}")
        config_dir = work / "config"
        config_dir.mkdir()
        shutil.copy(watchlist_file, config_dir / "watchlist.yaml")
        (config_dir / "sources.yaml").write_text("sources:\n" + "\n".join(sources) + "\n", encoding="utf-8")
        # the settings eval.sh writes, nothing more: a baseline or an age limit must not hide a match from scoring
        (config_dir / "settings.yaml").write_text("settings:\n  per_host_delay: 0s\n", encoding="utf-8")
        app = build(config_dir, work / "state")
        for source in ("devset-portal", *(f"devset-news-{lang}" for lang in LANGUAGES)):
            if any(source in s for s in sources):
                app.runner.poll(source)  # type: ignore[attr-defined]
        found = app.store.matches_by_link()  # type: ignore[attr-defined]
        app.store.close()  # type: ignore[attr-defined]
        watchlist = app.watchlist  # type: ignore[attr-defined]
    got: dict[str, dict[str, frozenset[str]]] = {}
    for link, matches in found.items():
        item_id = link.rsplit("/", 1)[-1].removesuffix(".html")
        item_id = eo_to_id.get(item_id, item_id)
        if item_id in by_id:
            got[item_id] = matches
    report = score(items, got)
    if errors:
        report.errors = _diagnose(items, got, watchlist)
    return report


def _diagnose(items: list[DevItem], got: dict[str, dict[str, frozenset[str]]], watchlist: Watchlist) -> str:
    """Each item whose watches differ from its labels, matched again as the runner read it, diagnosed."""
    from .evaluation import errors_text
    from .items import make_item
    from .matching.diagnose import diagnose
    from .matching.language import LanguageStage

    stage = LanguageStage()
    ids = {w.id.lower(): w.id for w in watchlist.watches}
    rows = []
    for i in items:
        fired = {w.lower() for w in got.get(i.id, {})}
        wrong = (fired ^ {w.lower() for w in i.watches}) & set(ids)
        if not wrong:
            continue
        portal = i.source == "portal" and i.lang == "ru"  # the portal's API gives the act's title, no summary
        source, summary = ("devset-portal", "") if portal else (f"devset-news-{i.lang}", i.summary)
        item = stage.apply(make_item(source, title=i.title, summary=summary, published=i.published, language=i.lang))
        matches = {m.watch_id.lower(): m for m in watchlist.match(item)}
        for w in sorted(wrong):
            d = diagnose(watchlist, item, ids[w], matches.get(w) if w in fired else None, i.lang, i.agreements)
            rows.append((i.id, i.title, d))
    return errors_text(rows)


def score(items: list[DevItem], got: dict[str, dict[str, frozenset[str]]]) -> DevReport:
    """`got`: item id → watch id (lower case) → agreement ids (lower case) its match named."""
    report = DevReport(len(items))
    watches = sorted({w for i in items for w in i.watches})
    # the watch about agreements: the one most items that name agreements carry
    with_agreements = [w for i in items if i.agreements for w in i.watches]
    agreement_watch = max(set(with_agreements), key=with_agreements.count) if with_agreements else ""
    exact = caught = 0
    for i in items:
        fired = {w.lower(): {a.lower() for a in agr} for w, agr in got.get(i.id, {}).items()}
        for w in watches:
            hit, wanted = w in fired, w in i.watches
            for t in (
                report.overall,
                report.by_watch.setdefault(w, Score()),
                report.by_language.setdefault(i.lang, Score()),
            ):
                t.tp += hit and wanted
                t.fp += hit and not wanted
                t.fn += wanted and not hit
        if agreement_watch in i.watches and agreement_watch in fired:
            caught += 1
            exact += fired[agreement_watch] == set(i.agreements)
        if set(fired) & set(watches) != i.watches:
            report.misses.append(
                f"miss {i.id} [{i.lang}] expected {sorted(i.watches)} got {sorted(set(fired) & set(watches))}: "
                f"{i.title[:90]}"
            )
    report.attribution = (exact, caught)
    return report
