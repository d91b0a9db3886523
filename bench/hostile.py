"""Hostile-input bench: every corpus document and generated bomb, one subprocess each, time and peak RSS.

Run: .venv/bin/python bench/hostile.py [--timeout 10] [--only SUBSTRING]
Each child serves one document on a loopback FixtureServer, fetches it with the real Fetcher (caps, inflation)
and parses it with the real source plug-in, then reports its own wall time and peak RSS (VmHWM, which psutil
cannot read after the fact on Linux). The parent runs the children with psutil and kills any past the timeout.
Targets from issue 10: under 10 s and under 300 MB per document.

Issue "Nothing lost" adds: bad dates (one of five items dated year 10000, 0 or 99999, 31 February, an epoch past
9999, year 1 or 9999 pushed out of the calendar by its zone) for each source type, where the outcome counts the
undated items; odd redirects (a 302 to javascript:, data:, file:, ftp: or garbage); and long text (a title of one
20,000-character word, a 200 kB title, a 1 MB summary), whose items are also matched against the example watchlist
(config/), the matching timed with the rest.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import tempfile
import time
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "tests" / "data" / "hostile" / "feedparser"
MIB = 1024 * 1024


@dataclass(frozen=True)
class Case:
    """One document: the source type reading it, the answer's headers, body and status, and whether its items are
    matched too."""

    kind: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    status: int = 200
    match: bool = False


def _bombs() -> dict[str, Case]:
    """name -> case; generated, never committed."""
    refs = "&a;" * 10_000
    quadratic = (
        f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "{"x" * 10_000}">]><rss version="2.0"><channel>'
        f"<title>t</title><item><title>{refs}</title></item></channel></rss>"
    ).encode()
    lols = ['<!ENTITY lol0 "lol">'] + [f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)]
    laughs = f"<!DOCTYPE rss [{''.join(lols)}]><rss><channel><title>&lol9;</title></channel></rss>".encode()
    deflate = zlib.compressobj(9)
    nested = "".join(f"<ul><li><a href='/x{i}'>item {i}</a> " for i in range(5000)) + "</li></ul>" * 5000
    return {
        "bomb/xml-quadratic-blowup": Case("feed", {}, quadratic),
        "bomb/xml-billion-laughs": Case("feed", {}, laughs),
        "bomb/gzip-in-gzip-10MiB": Case(
            "feed",
            {"Content-Encoding": "gzip"},
            gzip.compress(gzip.compress(b"\0" * 10 * MIB)),
        ),
        "bomb/gzip-in-gzip-1GiB": Case(
            "feed",
            {"Content-Encoding": "gzip"},
            gzip.compress(b"".join(gzip.compress(b"\0" * 64 * MIB) for _ in range(16))),
        ),
        "bomb/deflate-200MiB": Case(
            "feed",
            {"Content-Encoding": "deflate"},
            deflate.compress(b"\0" * 200 * MIB) + deflate.flush(),
        ),
        "bomb/gzip-body-no-header-100MiB": Case("feed", {}, gzip.compress(b"<rss>" + b" " * 100 * MIB)),
        "bomb/html-5000-nested-items": Case(
            "html",
            {"Content-Type": "text/html"},
            f"<html><body>{nested}</body></html>".encode(),
        ),
        "bomb/html-200000-nested-divs": Case("html", {}, b"<html><body>" + b"<div>" * 200_000 + b"</body></html>"),
        "bomb/html-9MB-flat-page": Case(
            "html",
            {},
            b"<html><body>" + b"<div><ul><li><a href=/x>t</a> <p>x</ul></div>" * 200_000,
        ),
        "bomb/json-100000-nested-arrays": Case("json", {}, b'{"items": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"),
        "bomb/jsonfeed-100000-nested": Case(
            "feed",
            {},
            b'{"version": "https://jsonfeed.org/version/1", "items": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        ),
        "bomb/random-5MB-binary": Case("feed", {}, bytes((i * 7919 + (i >> 8)) & 0xFF for i in range(5_000_000))),
    }


# -- bad dates: five items, the third dated as below, for each source type ---------------------------------------
BAD_DATES = {
    "year-10000": "10000-01-01T00:00:00Z",
    "year-0": "0000-01-01T00:00:00Z",
    "year-99999": "99999-01-01T00:00:00Z",
    "31-february": "Tue, 31 Feb 2026 10:00:00 +0000",
    "31.02.2026": "31.02.2026",
    "year-1-at-+05:00": "0001-01-01T00:00:00+05:00",
    "9999-12-31-at--05:00": "9999-12-31T23:59:59-05:00",
    "year-10000-rfc2822": "Sat, 01 Jan 10000 00:00:00 GMT",
}
BAD_EPOCHS = {"epoch-1e20": 1e20, "epoch--1e20": -1e20, "epoch-10^400": 10**400}


def _dated(kind: str, dates: list[object]) -> bytes:
    """Five items of `kind` (rss, rss-feedparser, atom, jsonfeed, html, json, pravo) with these dates."""
    n5 = list(enumerate(dates))
    if kind in ("rss", "rss-feedparser"):
        odd = "<source url='http://x.example/'>x</source>" if kind == "rss-feedparser" else ""  # not the fast path
        items = "".join(
            f"<item><title>Item {n}</title><link>/a/{n}</link>{odd}<pubDate>{d}</pubDate></item>" for n, d in n5
        )
        return f'<rss version="2.0"><channel><title>t</title>{items}</channel></rss>'.encode()
    if kind == "atom":
        entries = "".join(
            f"<entry><id>urn:{n}</id><title>Item {n}</title><updated>{d}</updated></entry>" for n, d in n5
        )
        return f'<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>{entries}</feed>'.encode()
    if kind == "jsonfeed":
        entries_ = [{"id": str(n), "title": f"Item {n}", "url": f"/a/{n}", "date_published": d} for n, d in n5]
        return json.dumps({"version": "https://jsonfeed.org/version/1.1", "items": entries_}).encode()
    if kind == "html":
        return "".join(f"<li><a href='/a/{n}'>Item {n}</a><time>{d}</time></li>" for n, d in n5).encode()
    if kind == "json":
        return json.dumps({"items": [{"title": f"Item {n}", "url": f"/a/{n}", "date": d} for n, d in n5]}).encode()
    docs = [{"eoNumber": f"000120251205{n:04d}", "name": f"Item {n}", "publishDateShort": d} for n, d in n5]
    return json.dumps({"items": docs, "pagesTotalCount": 1}).encode()


def _bad_dates() -> dict[str, Case]:
    good = [datetime(2025, 12, d, 9, 30, tzinfo=UTC) for d in range(1, 6)]
    source_type = {"rss": "feed", "rss-feedparser": "feed", "atom": "feed", "jsonfeed": "feed"}
    cases = {}
    for kind in ("rss", "rss-feedparser", "atom", "jsonfeed", "html", "json", "pravo"):
        written = [format_datetime(t) if kind.startswith("rss") else t.isoformat() for t in good]
        bad: dict[str, object] = {**BAD_DATES, **(BAD_EPOCHS if kind == "json" else {})}
        for form, value in bad.items():
            dates: list[object] = [*written[:2], value, *written[3:]]
            cases[f"dates/{kind}/{form}"] = Case(source_type.get(kind, kind), {}, _dated(kind, dates))
        if kind in ("jsonfeed", "json", "pravo"):  # more digits than CPython's int() reads (4,300)
            body = _dated(kind, [*written[:2], 0.5, *written[3:]]).replace(b"0.5", b"1" * 5000, 1)
            cases[f"dates/{kind}/integer-of-5000-digits"] = Case(source_type.get(kind, kind), {}, body)
    return cases


# -- odd redirects: the answer is a 302 to ... --------------------------------------------------------------------
ODD_LOCATIONS = {
    "javascript": "javascript:alert(1)",
    "data": "data:text/html,x",
    "file": "file:///etc/passwd",
    "ftp": "ftp://127.0.0.1/feed.xml",
    "scheme-less-garbage": "::::",
    "http-without-slashes": "http:x",
    "control-character": "/feed\x01.xml",
    "space-in-host": "http://exa mple.org/feed",
    "broken-ipv6-host": "http://[::1/feed",
}


def _redirects() -> dict[str, Case]:
    return {f"redirect/{name}": Case("feed", {"Location": to}, b"", 302) for name, to in ODD_LOCATIONS.items()}


# -- long text, matched against the example watchlist too ---------------------------------------------------------
WORDS = (
    "Russia terminates the military cooperation agreement with France signed in 1994 while frozen assets of the "
    "central bank stay in Euroclear and ministers meet in Brussels to discuss sanctions trade energy and security"
).split()


def _words(size: int) -> str:
    out, n, i = [], 0, 0
    while n < size:
        word = WORDS[i % len(WORDS)]
        out.append(word)
        n, i = n + len(word) + 1, i + 1
    return " ".join(out)[:size]


def _long_text() -> dict[str, Case]:
    def feed(title: str, summary: str = "") -> bytes:
        item = f"<item><title>{title}</title><link>/a/1</link><description>{summary}</description></item>"
        return f'<rss version="2.0"><channel><title>t</title>{item}</channel></rss>'.encode()

    return {
        "text/title-one-20000-char-word": Case("feed", {}, feed("x" * 20_000), match=True),
        "text/title-200kB-of-words": Case("feed", {}, feed(_words(200_000)), match=True),
        "text/summary-1MB-of-words": Case("feed", {}, feed("Russia ends pact", _words(MIB)), match=True),
    }


def _corpus() -> dict[str, Case]:
    docs = {}
    for p in sorted(CORPUS.rglob("*")):
        if not p.is_file() or p.name in ("LICENSE", "README.md"):
            continue
        body = p.read_bytes()
        headers: dict[str, str] = {}
        for line in body[:2048].decode("latin-1").splitlines():
            if line.startswith("Header:"):
                name, _, value = line[len("Header:") :].strip().partition(":")
                headers[name.strip()] = value.strip()
        if p.suffix in (".gz", ".z"):
            headers["Content-Encoding"] = "gzip" if p.suffix == ".gz" else "deflate"
        docs[f"feedparser/{p.relative_to(CORPUS)}"] = Case("feed", headers, body)
    return docs


CHILD = r"""
import json, pathlib, resource, sys, time
sys.path.insert(0, sys.argv[4])
import treatywatch.config  # noqa: F401  (import order: config before sources)
from treatywatch.app import compile_config
from treatywatch.errors import SourceError
from treatywatch.localserve import FixtureServer
from treatywatch.sources.fetch import Fetcher, FetchLimits
from treatywatch.sources.registry import SOURCE_TYPES
kind, headers, body = sys.argv[1], json.loads(sys.argv[2]), open(sys.argv[3], "rb").read()
status, watchlist = int(sys.argv[5]), compile_config(pathlib.Path(sys.argv[7]))[1] if sys.argv[6] == "1" else None
fields = {"html": {"items": "li", "fields": {"title": "a", "link": "a@href", "published": "time"}},
          "json": {"items": "items", "fields": {"title": "title", "link": "url", "published": "date"}}}.get(kind, {})
with FixtureServer() as server:
    server.routes["/doc"] = server.routes["/doc/api/Documents"] = lambda h: (status, headers, body)
    plugin = SOURCE_TYPES[kind]
    cfg = plugin.config_model(id="s", type=kind, url=server.base + "/doc", **fields)
    start = time.perf_counter()
    try:
        request = plugin.first_request(cfg)
        page = plugin.parse(cfg, request, Fetcher(user_agent="bench", per_host_delay=0).fetch(request, FetchLimits()))
        undated = sum(i.published is None for i in page.items)
        outcome = f"{len(page.items)} items" + (f", {undated} undated" if undated else "")
        if watchlist is not None:
            outcome += f", {sum(bool(watchlist.match(i)) for i in page.items)} matched"
    except SourceError as exc:
        outcome = f"{type(exc).__name__}: {exc}"[:90]
    except Exception as exc:
        outcome = f"UNEXPECTED {type(exc).__name__}: {exc}"[:90]
    took = time.perf_counter() - start
print(json.dumps({"seconds": took, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "outcome": outcome}))
"""


def run(name: str, case: Case, timeout: float, tmp: Path) -> dict[str, object]:
    path = tmp / "body"
    path.write_bytes(case.body)
    args = [sys.executable, "-c", CHILD, case.kind, json.dumps(case.headers), str(path), str(REPO / "service")]
    args += [str(case.status), "1" if case.match else "0", str(REPO / "config")]
    started = time.perf_counter()
    proc = psutil.Popen(args, stdout=-1, stderr=-1)
    try:
        out, err = proc.communicate(timeout=timeout + 20)  # + interpreter start-up and imports
    except Exception:
        proc.kill()
        return {"name": name, "seconds": time.perf_counter() - started, "peak_mb": 0.0, "outcome": "KILLED (timeout)"}
    if proc.returncode != 0:
        return {"name": name, "seconds": 0.0, "peak_mb": 0.0, "outcome": f"CRASHED rc={proc.returncode} {err[-200:]!r}"}
    return {"name": name, **json.loads(out)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--timeout", type=float, default=10.0)
    ap.add_argument("--only", default="")
    args = ap.parse_args()
    docs = {**_bombs(), **_bad_dates(), **_redirects(), **_long_text(), **_corpus()}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, case in docs.items():
            if args.only not in name:
                continue
            row = run(name, case, args.timeout, Path(tmp))
            rows.append(row)
            print(f"{row['seconds']:7.2f}s {row['peak_mb']:7.1f}MB  {name:55.55} {row['outcome']}", flush=True)
    worst_t = max(rows, key=lambda r: float(r["seconds"]))  # type: ignore[arg-type]
    worst_m = max(rows, key=lambda r: float(r["peak_mb"]))  # type: ignore[arg-type]
    bad = [r for r in rows if str(r["outcome"]).startswith(("UNEXPECTED", "CRASHED", "KILLED"))]
    print(
        f"\n{len(rows)} documents; max time {worst_t['seconds']:.2f}s ({worst_t['name']}); "
        f"max peak RSS {worst_m['peak_mb']:.1f} MB ({worst_m['name']}); unexpected/crashed/killed: {len(bad)}"
    )
    over = [r for r in rows if float(r["seconds"]) > args.timeout or float(r["peak_mb"]) > 300]  # type: ignore[arg-type]
    return 1 if bad or over else 0


if __name__ == "__main__":
    raise SystemExit(main())
