"""Hostile item text: the wall time of matching one item and the peak RSS, per shape, at the caps and at 10^6 chars.

Run: .venv/bin/python bench/hostile_items.py [--timeout 120] [--only SUBSTRING] [--service DIR] [--sizes caps 1e6]
Each (shape, size) runs in its own child process, so its peak RSS is its own: the child compiles the example
watchlist (config/) and the two dev-set watchlists, then for each watchlist times make_item (cleaning and caps),
the first match (every word new to the caches: what a hostile item costs), set_aside (what `treatywatch match`
adds when nothing fires) and a second match (warm caches). A child past the timeout is killed and says so.
`--service` points the child at another copy of the code (e.g. an old commit unpacked with `git archive`) for
before/after figures. Target (issue "Nothing lost, nothing stalled", case 3): one item under 50 ms at the caps.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import sys
from collections.abc import Callable
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent
DEVSETS = {  # watchlist file -> the source its portal watch names (a stub source makes the file load alone)
    "devset": (REPO / "tests" / "devset" / "watchlist.yaml", "devset-portal"),
    "devset2": (REPO / "tests" / "devset2" / "watchlist.yaml", "set2-portal"),
}
LATIN = "abcdefghijklmnopqrstuvwxyzäöüéèàçñõß"
CYRILLIC = "абвгдежзийклмнопрстуфхцчшщъыьэюяё"
SCRIPTS = (
    LATIN,
    CYRILLIC,
    "αβγδεζηθικλμνξοπρστυφχψω",
    "ابتثجحخدذرزسشصضطظعغفقكلمنهوي",
    "中国俄罗斯协议终止军事合作资产冻结",
    "कखगघचछजझटठडढणतथदधनपफबभमयरलवश",
)
PUNCT = ".,;:!?-–—()[]{}<>«»\"'/\\|@#$%^&*+=~`…"
BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c\u200b"
PARTICLES = "aus an auf ab ein zu mit vor nach bei fest fort zurück".split()
TERMS = (
    "frozen assets Russia terminates the military agreement with France signed 1994 anniversary not could "
    "calls on Euroclear Militärabkommen kündigt прекратить соглашение военный замороженные активы 1989 2000"
).split()


def _words(rng: random.Random, n: int, alphabet: str, lo: int = 2, hi: int = 12, sep: str = " ") -> str:
    out: list[str] = []
    size = 0
    while size < n:
        word = "".join(rng.choice(alphabet) for _ in range(rng.randint(lo, hi)))
        out.append(word)
        size += len(word) + len(sep)
    return sep.join(out)[:n]


def _chars(rng: random.Random, n: int, alphabet: str) -> str:
    return "".join(rng.choices(alphabet, k=n))


# name -> (item language, text of n characters)
SHAPES: dict[str, tuple[str | None, Callable[[random.Random, int], str]]] = {
    "single-token": (None, lambda r, n: _chars(r, n, LATIN)),
    "single-token-de": ("de", lambda r, n: _chars(r, n, LATIN)),
    "random-words": (None, lambda r, n: _words(r, n, LATIN)),
    "random-words-ru": ("ru", lambda r, n: _words(r, n, CYRILLIC)),
    "words-of-64-de": ("de", lambda r, n: _words(r, n, LATIN, 64, 64)),
    "no-spaces": (None, lambda r, n: _words(r, n, LATIN, sep=".")),
    "punctuation": (None, lambda r, n: _chars(r, n, PUNCT)),
    "digits": (None, lambda r, n: _chars(r, n, "0123456789")),
    "years": (None, lambda r, n: " ".join(str(r.randint(1900, 2100)) for _ in range(n // 5 + 1))[:n]),
    "mixed-scripts": (None, lambda r, n: _words(r, n, "".join(SCRIPTS))),
    "combining-marks": (None, lambda r, n: ("a" + "\u0301\u0316" * n)[:n]),
    "bidi-controls": (None, lambda r, n: _words(r, n, LATIN + BIDI)),
    "open-tags": (None, lambda r, n: "<" * n),
    "long-charref": (None, lambda r, n: ("&#" + "9" * n)[:n]),
    "particles-de": ("de", lambda r, n: _words(r, n, LATIN).replace(" ", f" {r.choice(PARTICLES)} ")[:n]),
    "repeated-terms": (None, lambda r, n: " ".join(r.choice(TERMS) for _ in range(n // 6 + 1))[:n]),
}

CHILD = r"""
import json, resource, shutil, sys, tempfile, time, random
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from treatywatch.app import compile_config
from treatywatch.items import make_item
sys.path.insert(0, sys.argv[2])
from hostile_items import SHAPES, DEVSETS
shape, title_n, summary_n = sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
lang, make = SHAPES[shape]
rng = random.Random(7)
title, summary = make(rng, title_n), make(rng, summary_n)
lists = {"config": compile_config(Path(sys.argv[6]) / "config", {})[1]}
for name, (path, portal) in DEVSETS.items():
    if not path.exists():
        continue
    folder = Path(tempfile.mkdtemp())
    shutil.copy(path, folder / "watchlist.yaml")
    (folder / "stub.yaml").write_text(f"sources:\n  - {{id: {portal}, type: feed, url: 'http://127.0.0.1:9/x'}}\n")
    lists[name] = compile_config(folder, {})[1]
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
out = {"base_mb": base}
for name, wl in lists.items():
    t0 = time.perf_counter()
    item = make_item("news", title=title, summary=summary, language=lang)
    t1 = time.perf_counter()
    fired = wl.match(item)
    t2 = time.perf_counter()
    wl.set_aside(item)
    t3 = time.perf_counter()
    wl.match(item)
    t4 = time.perf_counter()
    out[name] = {"clean": t1 - t0, "cold": t2 - t1, "set_aside": t3 - t2, "warm": t4 - t3, "fired": len(fired),
                 "chars": len(item.title) + len(item.summary)}
out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(out))
"""


def caps(service: Path) -> tuple[int, int]:
    """The item caps of the code under test; an old tree without them is measured at today's values."""
    sys.path.insert(0, str(service))
    try:
        from treatywatch import items

        return getattr(items, "TITLE_MAX_CHARS", 2_000), getattr(items, "SUMMARY_MAX_CHARS", 8_000)
    finally:
        sys.path.pop(0)


def run(service: Path, shape: str, title_n: int, summary_n: int, timeout: float) -> dict[str, object]:
    args = [sys.executable, "-c", CHILD, str(service), str(REPO / "bench"), shape, str(title_n), str(summary_n)]
    args.append(str(REPO))
    proc = psutil.Popen(args, stdout=-1, stderr=-1, text=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except Exception:
        peak = 0.0
        with contextlib.suppress(psutil.Error):
            peak = proc.memory_info().rss / 2**20
        proc.kill()
        proc.communicate()
        return {"outcome": f"KILLED after {timeout:.0f} s (RSS then {peak:.0f} MB)"}
    if proc.returncode != 0:
        return {"outcome": f"CRASHED rc={proc.returncode}: {err.strip().splitlines()[-1][:120] if err else ''}"}
    return json.loads(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--timeout", type=float, default=120.0)
    ap.add_argument("--only", default="")
    ap.add_argument("--service", type=Path, default=REPO / "service")
    ap.add_argument("--sizes", nargs="+", default=["caps", "1e6"])
    args = ap.parse_args()
    title_cap, summary_cap = caps(args.service)
    print(f"caps: title {title_cap:,} chars, summary {summary_cap:,} chars; code: {args.service}")
    print("times in ms: clean = make_item, cold = first match, aside = set_aside, warm = second match")
    worst = 0.0
    for size in args.sizes:
        title_n, summary_n = (title_cap, summary_cap) if size == "caps" else (int(float(size)),) * 2
        for shape in SHAPES:
            if args.only not in shape:
                continue
            row = run(args.service, shape, title_n, summary_n, args.timeout)
            label = f"{shape:<17} {size:>5}"
            if "outcome" in row:
                print(f"{label}  {row['outcome']}", flush=True)
                continue
            parts = []
            for name in ("config", *DEVSETS):
                f = row.get(name)
                if not isinstance(f, dict):
                    continue
                total = f["clean"] + f["cold"] + f["set_aside"]
                worst = max(worst, total) if size == "caps" else worst
                parts.append(
                    f"{name} clean {f['clean'] * 1e3:6.1f} cold {f['cold'] * 1e3:7.1f} "
                    f"aside {f['set_aside'] * 1e3:6.1f} warm {f['warm'] * 1e3:6.1f}"
                )
            print(
                f"{label}  peak {row['peak_mb']:6.1f} MB (base {row['base_mb']:.0f})  " + " | ".join(parts), flush=True
            )
    print(f"slowest item at the caps (clean + cold match + set_aside): {worst * 1e3:.1f} ms (target 50 ms)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
