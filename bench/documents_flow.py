"""Poll -> the body's follow-up: a pravo-like portal on loopback lists the ten-state act under its generic title and
serves it as a 5-page scanned PDF (the act's three pages and a two-page annex, drawn by tests/docgen.py); the time
from the start of the poll until the follow-up "the act's text names: …" is in a local SMTP sink (aiosmtpd).

The work is what the daemon does: the poll (the title's alert, sent at once), then the documents' job (fetch, read
the scan in its child process with Tesseract, match again, queue the follow-up) and a delivery pass. The process and
its reading child are pinned to one core. In the daemon the job starts at its next turn (settings.documents_every,
30 s by default): add up to that much waiting. Goal: under 60 s on one core.

Usage: python bench/documents_flow.py [--runs 3] [--pages 5]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from docgen import DOMESTIC_ACT, TEN_STATE_ACT, TEN_STATE_TITLE, scanned_pdf  # noqa: E402
from treatywatch.app import build_app, compile_config  # noqa: E402
from treatywatch.documents.flow import DocumentJob  # noqa: E402
from treatywatch.localserve import FixtureServer, SmtpSink  # noqa: E402

REAL = ROOT / "tests" / "data" / "pravo" / "api_documents_all_pagesize10_2026-01-17.json"
WATCHLIST = ("terms.yaml", "entities.yaml", "agreements.yaml", "watches.yaml", "vocabularies.yaml")
EO = "0001202611120001"


def listing(base_item: dict) -> bytes:
    head, _, name = TEN_STATE_TITLE.partition(' "')
    item = {**base_item, "eoNumber": EO, "complexName": f'{head}\n "{name}', "name": name.rstrip('"'),
            "number": head.split("№ ")[1],
            "publishDateShort": "2026-11-12T00:00:00", "documentDate": "2026-11-12T00:00:00"}  # fmt: skip
    return json.dumps({"items": [item], "itemsTotalCount": 1, "itemsPerPage": 10, "currentPage": 1,
                       "pagesTotalCount": 1}, ensure_ascii=False).encode()  # fmt: skip


def one_run(pdf: bytes, work: Path) -> dict[str, float]:
    config_dir = work / "config"
    config_dir.mkdir()
    for name in WATCHLIST:
        shutil.copy(ROOT / "config" / name, config_dir / name)
    base_item = json.loads(REAL.read_text(encoding="utf-8"))["items"][0]
    with FixtureServer() as portal, SmtpSink() as smtp:
        answer = listing(base_item)
        portal.routes["/api/Documents"] = lambda h: (200, {"Content-Type": "application/json"}, answer)
        portal.routes["/file/pdf"] = lambda h: (
            (200, {"Content-Type": "application/pdf"}, pdf)
            if parse_qs(urlsplit(h.path).query).get("eoNumber") == [EO]
            else (404, {}, b"")
        )
        (config_dir / "local.yaml").write_text(
            f"""settings:
  state_dir: {work / "state"}
  web_port: 0
  per_host_delay: 0s
  baseline: false
  ignore_older_than: 0
  followup_delay: 0
sources:
  - {{id: pravo-government, type: pravo, url: "{portal.base}", page_size: 10, max_pages: 1, implies: [russia]}}
  - {{id: pravo-government-rss, type: feed, url: "http://127.0.0.1:9/x", enabled: false}}
  - {{id: government-docs, type: feed, url: "http://127.0.0.1:9/y", enabled: false}}
subscribers:
  - id: desk
    notify: ["{smtp.url()}"]
""",
            encoding="utf-8",
        )
        config, watchlist = compile_config(config_dir)
        app = build_app(config, watchlist, config_path=config_dir, echo=lambda _: None)
        try:
            started = time.perf_counter()
            app.runner.poll("pravo-government")
            app.outbox.run_once()
            alerted = time.perf_counter() - started
            read_started = time.perf_counter()
            stats = DocumentJob(app.runner).run_once()
            read = time.perf_counter() - read_started
            app.outbox.run_once()
            total = time.perf_counter() - started
            followups = [m for m in smtp.messages if "Act's text read" in str(m["Subject"])]
            if len(smtp.messages) != 2 or not followups:
                raise SystemExit(f"expected the alert and its follow-up, got {[m['Subject'] for m in smtp.messages]}")
            doc = app.store.documents()[0]
            pages = len(doc.text.pages) if doc.text else 0
            ocr = doc.text.seconds if doc.text else 0.0
        finally:
            app.close()
    assert stats.read == 1
    return {"alert": alerted, "job": read, "total": total, "ocr_per_page": ocr / max(1, pages), "pages": pages}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--pages", type=int, default=5, help="pages of the scanned act (3 of the act, then annex)")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # the reading child inherits it
    pages = (list(TEN_STATE_ACT) + list(DOMESTIC_ACT) * args.pages)[: args.pages]
    pdf = scanned_pdf(pages, dpi=200)  # the portal's scans: ~170 KB a page (3.7 MB for 22), 200-300 dpi grayscale
    print(f"a {args.pages}-page scanned act ({len(pdf):,} bytes), one core, {args.runs} runs")
    results = []
    for n in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            r = one_run(pdf, Path(tmp))
        results.append(r)
        print(
            f"  run {n + 1}: alert {r['alert']:.2f} s after the poll started; documents' job {r['job']:.1f} s;"
            f" follow-up in the mailbox {r['total']:.1f} s after the poll started; OCR {r['ocr_per_page']:.1f} s/page"
        )
    totals = [r["total"] for r in results]
    print(f"poll -> body's follow-up: median {statistics.median(totals):.1f} s, max {max(totals):.1f} s (goal < 60 s);"
          f" OCR {statistics.median(r['ocr_per_page'] for r in results):.1f} s per page;"
          " the daemon adds its wait for the job's next turn (documents_every, 30 s default)")  # fmt: skip


if __name__ == "__main__":
    main()
