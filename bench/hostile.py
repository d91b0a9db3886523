"""Hostile-input bench: every corpus document and generated bomb, one subprocess each, time and peak RSS.

Run: .venv/bin/python bench/hostile.py [--timeout 10] [--only SUBSTRING]
Each child serves one document on a loopback FixtureServer, fetches it with the real Fetcher (caps, inflation)
and parses it with the real source plug-in, then reports its own wall time and peak RSS (VmHWM, which psutil
cannot read after the fact on Linux). The parent runs the children with psutil and kills any past the timeout.
Targets from issue 10: under 10 s and under 300 MB per document.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import tempfile
import time
import zlib
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "tests" / "data" / "hostile" / "feedparser"
MIB = 1024 * 1024


def _bombs() -> dict[str, tuple[str, dict[str, str], bytes]]:
    """name -> (source type, headers, body); generated, never committed."""
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
        "bomb/xml-quadratic-blowup": ("feed", {}, quadratic),
        "bomb/xml-billion-laughs": ("feed", {}, laughs),
        "bomb/gzip-in-gzip-10MiB": (
            "feed",
            {"Content-Encoding": "gzip"},
            gzip.compress(gzip.compress(b"\0" * 10 * MIB)),
        ),
        "bomb/gzip-in-gzip-1GiB": (
            "feed",
            {"Content-Encoding": "gzip"},
            gzip.compress(b"".join(gzip.compress(b"\0" * 64 * MIB) for _ in range(16))),
        ),
        "bomb/deflate-200MiB": (
            "feed",
            {"Content-Encoding": "deflate"},
            deflate.compress(b"\0" * 200 * MIB) + deflate.flush(),
        ),
        "bomb/gzip-body-no-header-100MiB": ("feed", {}, gzip.compress(b"<rss>" + b" " * 100 * MIB)),
        "bomb/html-5000-nested-items": (
            "html",
            {"Content-Type": "text/html"},
            f"<html><body>{nested}</body></html>".encode(),
        ),
        "bomb/html-200000-nested-divs": ("html", {}, b"<html><body>" + b"<div>" * 200_000 + b"</body></html>"),
        "bomb/html-9MB-flat-page": (
            "html",
            {},
            b"<html><body>" + b"<div><ul><li><a href=/x>t</a> <p>x</ul></div>" * 200_000,
        ),
        "bomb/json-100000-nested-arrays": ("json", {}, b'{"items": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"),
        "bomb/jsonfeed-100000-nested": (
            "feed",
            {},
            b'{"version": "https://jsonfeed.org/version/1", "items": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        ),
        "bomb/random-5MB-binary": ("feed", {}, bytes((i * 7919 + (i >> 8)) & 0xFF for i in range(5_000_000))),
    }


def _corpus() -> dict[str, tuple[str, dict[str, str], bytes]]:
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
        docs[f"feedparser/{p.relative_to(CORPUS)}"] = ("feed", headers, body)
    return docs


CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, sys.argv[4])
import treatywatch.config  # noqa: F401  (import order: config before sources)
from treatywatch.errors import SourceError
from treatywatch.localserve import FixtureServer
from treatywatch.sources.fetch import Fetcher, FetchLimits
from treatywatch.sources.registry import SOURCE_TYPES
kind, headers, body = sys.argv[1], json.loads(sys.argv[2]), open(sys.argv[3], "rb").read()
fields = {"html": {"items": "li", "fields": {"title": "a", "link": "a@href"}},
          "json": {"items": "items", "fields": {"title": "title", "link": "url"}}}.get(kind, {})
with FixtureServer() as server:
    server.routes["/doc"] = lambda h: (200, headers, body)
    plugin = SOURCE_TYPES[kind]
    cfg = plugin.config_model(id="s", type=kind, url=server.base + "/doc", **fields)
    start = time.perf_counter()
    try:
        request = plugin.first_request(cfg)
        page = plugin.parse(cfg, request, Fetcher(user_agent="bench", per_host_delay=0).fetch(request, FetchLimits()))
        outcome = f"{len(page.items)} items"
    except SourceError as exc:
        outcome = f"{type(exc).__name__}: {exc}"[:90]
    except Exception as exc:
        outcome = f"UNEXPECTED {type(exc).__name__}: {exc}"[:90]
    took = time.perf_counter() - start
print(json.dumps({"seconds": took, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "outcome": outcome}))
"""


def run(name: str, kind: str, headers: dict[str, str], body: bytes, timeout: float, tmp: Path) -> dict[str, object]:
    path = tmp / "body"
    path.write_bytes(body)
    args = [sys.executable, "-c", CHILD, kind, json.dumps(headers), str(path), str(REPO / "service")]
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
    docs = {**_bombs(), **_corpus()}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, (kind, headers, body) in docs.items():
            if args.only not in name:
                continue
            row = run(name, kind, headers, body, args.timeout, Path(tmp))
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
