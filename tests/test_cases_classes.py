"""The labeled cases of issue 19's classes (tests/cases/classes-*.yaml): at least 15 items per class across
languages, written from the label rules, and the example watchlist holds precision and recall >= 0.97 on them."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from treatywatch.app import compile_config
from treatywatch.evaluation import evaluate, load_cases

REPO = Path(__file__).resolve().parent.parent
CASES = REPO / "tests" / "cases"
CLASSES = ("modality", "signing years", "ownership", "historical ends", "vocabulary", "domestic or international")


def class_counts() -> Counter[str]:
    """Items under each `# -- class` comment; the portal file's items are all of the domestic/international class."""
    counts: Counter[str] = Counter()
    for path in sorted(CASES.glob("classes-*.yaml")):
        current = "domestic or international" if path.stem == "classes-portal" else ""
        for line in path.read_text(encoding="utf-8").splitlines():
            marker = re.match(r"\s*# -- ([a-z ]+?)(?::|$)", line)
            if marker:
                current = marker.group(1)
            elif re.match(r"\s*- title:", line):
                counts[current] += 1
    return counts


def test_every_class_has_fifteen_items_across_languages():
    counts = class_counts()
    assert {c: counts[c] for c in CLASSES} == {c: counts[c] for c in CLASSES if counts[c] >= 15}, counts
    languages = {load_cases(p)[0].language for p in CASES.glob("classes-*.yaml")}
    assert languages == {"en", "ru", "fr", "de", "pt", "es"}


def test_the_example_watchlist_holds_on_the_class_cases(tmp_path: Path):
    for path in CASES.glob("classes-*.yaml"):
        (tmp_path / path.name).write_bytes(path.read_bytes())
    _, watchlist = compile_config(REPO / "config")
    report = evaluate(watchlist, load_cases(tmp_path))
    print(f"\n{report.cases} class cases\n{report.table()}")
    assert report.overall.precision >= 0.97 and report.overall.recall >= 0.97
    assert all(report.attribution), "every caught agreement case names exactly its agreements"
