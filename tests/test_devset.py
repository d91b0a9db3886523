"""The dev set written by others (tests/devset/, copied unchanged from the shared set) through the real pipeline:
feeds and a portal page on loopback, `poll`, matches read back from SQLite. Floors sit just under the last run
(README "Detection quality"), so a change that loses detection fails here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import tw

DEVSET = Path(__file__).parent / "devset"


def _figures(stdout: str) -> tuple[float, float]:
    m = re.search(r"detection devset: P ([\d.]+) R ([\d.]+)", stdout.splitlines()[-1])
    assert m, stdout[-500:]
    return float(m.group(1)), float(m.group(2))


@pytest.mark.parametrize(
    ("watchlist", "min_precision", "min_recall"),
    [("watchlist.yaml", 0.97, 0.85), ("watchlist-vocab.yaml", 0.97, 0.94)],
)
def test_devset_through_the_pipeline(watchlist: str, min_precision: float, min_recall: float):
    out = tw("evaluate", str(DEVSET), "--watchlist", str(DEVSET / watchlist))
    assert out.returncode == 0, out.stderr
    precision, recall = _figures(out.stdout)
    assert precision >= min_precision and recall >= min_recall, out.stdout
    assert "items" in out.stdout and "w1:" in out.stdout


def test_devset_minimum_sets_the_exit_code():
    out = tw("evaluate", str(DEVSET), "--min", "0.99")
    assert out.returncode == 6, out.stdout[-300:]
