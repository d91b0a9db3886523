"""Fuzzing the operator-facing parsers: configuration files, queries, and the matcher on arbitrary text.

The promise: no traceback and no hang, whatever the input; every configuration error names file:line and every
query error a position. The default run is a few hundred examples per test (seconds). The long run:

    TREATYWATCH_FUZZ=10000 .venv/bin/pytest -q -s tests/test_fuzz.py

fuzzes N configurations (half as mutated text of config/*.yaml, half as mutated data dumped back to YAML), N
queries and N/5 texts, and prints the count and the slowest example of each. Hangs are caught by pytest-timeout.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import EXAMPLE_CONFIG, make_app, write_config
from treatywatch.app import compile_config
from treatywatch.config import load_config
from treatywatch.config.models import Config, TermSet, Watch
from treatywatch.errors import ConfigError, QueryError
from treatywatch.items import make_item
from treatywatch.matching.engine import Watchlist
from treatywatch.matching.query import MAX_DEPTH, parse_query
from treatywatch.matching.text import Analyzer
from treatywatch.notify.channels import channel

LONG = int(os.environ.get("TREATYWATCH_FUZZ", "0") or 0)
N_CONFIG = max(LONG // 2, 100)  # per config test (text mutations, data mutations)
N_QUERY = max(LONG, 300)
N_TEXT = max(LONG // 5, 200)
TIMEOUT = 300 + LONG // 5  # seconds for a whole test: a hang guard, not a speed assertion
FUZZ = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)
EXAMPLE_FILES = tuple(sorted(p.name for p in EXAMPLE_CONFIG.glob("*.yaml")))
FILE_LINE = re.compile(r"\.ya?ml:\d+")

HOSTILE_VALUES = (
    "99999999999999999999",
    "-99999999999999999999",
    "0",
    "-1",
    "1.0e+999",
    ".nan",
    "~",
    "[]",
    "{}",
    "'",
    '"',
    "&a x",
    "*a",
    "*undefined",
    "!!python/object/apply:os.system ['true']",
    "!!binary a",
    "!!set {a, b}",
    "2025-02-30",
    "yes",
    "NO",
    "[" * 300,
    "[" * 5000 + "]" * 5000,
    "{a: " * 100,
    "\x0c",
    "\x1b[31m",
    "\x00",
    "${UNSET_VAR}",
    "${X:-}",
    "a" * 20000,
    "@nope",
    "(a OR",
    "x" + " NEAR/1 x" * 50,
    "NOT " * 200 + "x",
    "(" * 3000 + "x",
    "http://",
    "javascript:alert(1)",
    "file:///etc/passwd",
    "10x",
    "1h30",
    "* * * * *",
    "99 99 99 99 99",
    "<<: *a",
    "? complex",
    "- - -",
    "| \n  block",
    "%YAML 1.1",
    "---",
    "...",
)
LAUGHS = "l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]\n" for i in range(1, 9)
)


# -- helpers ---------------------------------------------------------------------------------------------------


def check_config_dir(d: Path) -> str:
    """What `treatywatch check` does, minus compiling the term sets (covered by the query fuzz): load, parse
    every query, read every notification URL. Returns the outcome; raises on any unexpected exception."""
    try:
        config = load_config(d, {})
    except ConfigError as exc:
        assert exc.problems, "a ConfigError without problems"
        for p in exc.problems:
            assert FILE_LINE.search(p), f"config error without file:line: {p!r}"
        return "error"
    for w in config.watches:
        try:
            parse_query(w.query)
        except QueryError as exc:
            assert 0 <= exc.position <= len(w.query) and "at position" in str(exc)
    for sub in config.subscribers:
        for url in sub.notify:
            try:
                channel(url)
            except ConfigError as exc:
                assert exc.problems
    return "ok"


@pytest.fixture(scope="module")
def timings() -> Iterator[dict[str, list[float]]]:
    """Per-test durations of single examples, printed after a long run (for docs/reliability.md)."""
    got: dict[str, list[float]] = {}
    yield got
    if LONG:
        for name, values in got.items():
            values.sort()
            print(
                f"\nFUZZ {name}: {len(values)} examples, total {sum(values):.1f} s, "
                f"median {values[len(values) // 2] * 1000:.1f} ms, slowest {values[-1] * 1000:.0f} ms"
            )


def timed(timings: dict[str, list[float]], name: str, fn: Callable[[], Any]) -> Any:
    start = time.perf_counter()
    try:
        return fn()
    finally:
        timings.setdefault(name, []).append(time.perf_counter() - start)


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzzcfg")


def write_example_with(d: Path, name: str, content: bytes) -> None:
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir()
    for other in EXAMPLE_FILES:
        if other != name:
            shutil.copy(EXAMPLE_CONFIG / other, d / other)
    (d / name).write_bytes(content)


# -- configuration: text-level mutations ---------------------------------------------------------------------


@st.composite
def mutated_text(draw: st.DrawFn) -> tuple[str, bytes]:
    name = draw(st.sampled_from(EXAMPLE_FILES))
    lines = (EXAMPLE_CONFIG / name).read_text(encoding="utf-8").splitlines(keepends=True) or ["\n"]
    for _ in range(draw(st.integers(1, 4))):
        lines = lines or ["\n"]
        i = draw(st.integers(0, len(lines) - 1))
        line = lines[i]
        op = draw(st.sampled_from(["value", "value", "delete", "dup", "indent", "insert", "truncate", "laughs"]))
        value = draw(st.one_of(st.sampled_from(HOSTILE_VALUES), st.text(max_size=30)))
        if op == "value" and ":" in line:
            key, _, _ = line.partition(":")
            lines[i] = f"{key}: {value}\n"
        elif op == "value":
            lines[i] = line[: len(line) - len(line.lstrip())] + value + "\n"
        elif op == "delete":
            del lines[i]
        elif op == "dup":
            lines.insert(i, line)
        elif op == "indent":
            lines[i] = draw(st.sampled_from(["  ", "\t", " "])) + line if draw(st.booleans()) else line.lstrip()
        elif op == "insert":
            col = draw(st.integers(0, len(line)))
            lines[i] = line[:col] + value + line[col:]
        elif op == "truncate":
            lines = lines[:i]
        else:
            lines.insert(i, LAUGHS)
    data = "".join(lines).encode("utf-8", "surrogatepass")
    if draw(st.integers(0, 9)) == 0:  # now and then, bytes that are not UTF-8
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.binary(min_size=1, max_size=4)) + data[at:]
    return name, data


@pytest.mark.timeout(TIMEOUT)
@settings(FUZZ, max_examples=N_CONFIG)
@given(case=mutated_text())
def test_fuzz_config_text(case: tuple[str, bytes], fuzz_dir: Path, timings: dict[str, list[float]]):
    name, content = case
    write_example_with(fuzz_dir, name, content)
    timed(timings, "config-text", lambda: check_config_dir(fuzz_dir))


# -- configuration: data-level mutations dumped back to YAML -------------------------------------------------

LEAF = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.sampled_from(HOSTILE_VALUES),
)
VALUE = st.recursive(
    LEAF, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
)


def paths(data: Any, at: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield at
    if isinstance(data, dict):
        for k, v in data.items():
            yield from paths(v, (*at, k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            yield from paths(v, (*at, i))


@st.composite
def mutated_data(draw: st.DrawFn) -> tuple[str, bytes]:
    name = draw(st.sampled_from(EXAMPLE_FILES))
    data = yaml.safe_load((EXAMPLE_CONFIG / name).read_text(encoding="utf-8"))
    for _ in range(draw(st.integers(1, 3))):
        all_paths = list(paths(data))
        at = draw(st.sampled_from(all_paths))
        if not at:
            continue
        parent = data
        for part in at[:-1]:
            parent = parent[part]
        op = draw(st.sampled_from(["replace", "replace", "delete", "add"]))
        if op == "replace":
            parent[at[-1]] = draw(VALUE)
        elif op == "delete":
            del parent[at[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.text(max_size=10))] = draw(VALUE)
        else:
            parent.append(draw(VALUE))
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    return name, text.encode("utf-8", "surrogatepass")


@pytest.mark.timeout(TIMEOUT)
@settings(FUZZ, max_examples=N_CONFIG)
@given(case=mutated_data())
def test_fuzz_config_data(case: tuple[str, bytes], fuzz_dir: Path, timings: dict[str, list[float]]):
    name, content = case
    write_example_with(fuzz_dir, name, content)
    timed(timings, "config-data", lambda: check_config_dir(fuzz_dir))


def test_mutated_examples_still_compile_when_valid(tmp_path: Path):
    """The fuzz checks what `check` checks minus term-set compilation; this runs the full compile once on a
    mutated but valid file, so the shortcut above hides nothing the compiler would add."""
    d = tmp_path / "c"
    write_example_with(d, "watches.yaml", (EXAMPLE_CONFIG / "watches.yaml").read_bytes().replace(b"high", b"low"))
    _, watchlist = compile_config(d, {})
    assert {w.severity for w in watchlist.watches} <= {"low", "medium"}


# -- queries ---------------------------------------------------------------------------------------------------

QUERY_TOKENS = (
    "(",
    ")",
    "NOT",
    "AND",
    "OR",
    "NEAR/1",
    "NEAR/0",
    "NEAR/3",
    "NEAR/99999",
    "NEAR/" + "9" * 5000,
    "title:",
    "body:",
    '"',
    '"frozen assets"',
    '""',
    "@termination",
    "@russia",
    "@nope",
    "@",
    "x",
    "assets",
    "y*",
    "*",
    "a*b*",
    "военн*",
    "\u202e",
    "\x00",
    ":",
    "NEAR/",
    "title:(",
    "Россия",
)
TERMS = {
    "termination": TermSet.model_validate({"en": ["terminate", "end"], "ru": ["прекратить"]}),
    "russia": TermSet.model_validate({"en": ["Russia", "Moscow"], "ru": ["Россия"]}),
}


def repeated() -> st.SearchStrategy[str]:
    unit = st.sampled_from(["(", "NOT ", " NEAR/1 x", "title:", "x AND ", '"', "(x OR ", "x NEAR/2 (", "@"])
    return st.builds(
        lambda u, n, close: ("x" if u.startswith(" ") else "") + u * n + "x" + (")" * n if close else ""),
        unit,
        st.integers(1, 6000),
        st.booleans(),
    )


QUERIES = st.one_of(
    st.lists(st.sampled_from(QUERY_TOKENS), max_size=80).map(" ".join),
    st.lists(st.sampled_from(QUERY_TOKENS), max_size=40).map("".join),
    repeated(),
    st.text(max_size=200),
)


@pytest.fixture(scope="module")
def analyzer() -> Analyzer:
    return Analyzer()


def check_query(query: str, analyzer: Analyzer) -> None:
    try:
        parse_query(query)
    except QueryError as exc:
        assert 0 <= exc.position <= len(query), (query[:80], exc.position)
        assert f"at position {exc.position}" in str(exc)
        return
    # Parsed: compile it against small term sets (unknown @sets answer with a position too), then match.
    try:
        wl = Watchlist(Config(terms=TERMS, watches=[Watch(id="w", query=query)]), analyzer)
    except QueryError as exc:
        assert 0 <= exc.position <= len(query), (query[:80], exc.position)
        return
    if query.count("NEAR/") <= 2:  # longer chains exhaust memory today: see test_near_chain_hits_stay_linear
        wl.match(make_item("s", title="x assets Russia x terminate x", summary="frozen assets x Россия x"))


@pytest.mark.timeout(TIMEOUT)
@settings(FUZZ, max_examples=N_QUERY)
@given(query=QUERIES)
def test_fuzz_query(query: str, analyzer: Analyzer, timings: dict[str, list[float]]):
    timed(timings, "query", lambda: check_query(query, analyzer))


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("(" * 3000 + "x", "nested deeper"),
        ("NOT " * 900 + "x", "nested deeper"),
        ("x" + " NEAR/1 x" * 400, "nested deeper"),
        ("title:" * 600 + "x", "nested deeper"),
        ("x" + " NEAR/1 x" * 5000, "longer than"),
        ("a NEAR/" + "9" * 3000 + " b", "NEAR/n needs n from 1 to"),
    ],
)
def test_query_bombs_answer_with_a_position(query: str, message: str):
    with pytest.raises(QueryError) as info:
        parse_query(query)
    assert message in str(info.value) and 0 <= info.value.position <= len(query)


def test_query_depth_limit_leaves_real_queries_alone():
    parse_query("(" * (MAX_DEPTH - 1) + "x" + ")" * (MAX_DEPTH - 1))
    parse_query("a NEAR/3 b NEAR/3 c AND NOT (d OR title:(e NEAR/5 f))")


def test_near_chain_hits_stay_linear(analyzer: Analyzer):
    wl = Watchlist(Config(watches=[Watch(id="w", query="x NEAR/1 x NEAR/1 x")]), analyzer)
    doc = wl.doc("x x x x", "", None)
    hits = wl.watches[0].node.eval(doc, None) or []
    assert len(set(hits)) == len(hits) <= 4


# -- the matcher on arbitrary text -----------------------------------------------------------------------------

WORDS = (
    "Russia",
    "terminates",
    "terminated",
    "France",
    "1994",
    "military",
    "agreement",
    "cooperation",
    "Россия",
    "прекращает",
    "соглашение",
    "военном",
    "Францией",
    "Canada",
    "Portugal",
    "Euroclear",
    "frozen",
    "assets",
    "ratify",
    "Moscow",
    "\u0301",
    "\u200b",
    "ǅ",
    "ﬁ",
    "İ",
    "9" * 400,
    "-" * 50,
    "\u202e",
    "\x00",
    "\ud800",
)
TEXTS = st.one_of(
    st.lists(st.one_of(st.sampled_from(WORDS), st.text(max_size=12)), max_size=400).map(" ".join),
    st.text(max_size=2000),
    st.builds(lambda w, n: (w + " ") * n, st.sampled_from(WORDS), st.integers(1, 3000)),
)


@pytest.fixture(scope="module")
def example_watchlist() -> Watchlist:
    return compile_config(EXAMPLE_CONFIG, {})[1]


@pytest.mark.timeout(TIMEOUT)
@settings(FUZZ, max_examples=N_TEXT)
@given(title=TEXTS, summary=TEXTS, language=st.sampled_from([None, "en", "ru", "fr", "de", "xx"]))
def test_fuzz_matcher(
    title: str, summary: str, language: str | None, example_watchlist: Watchlist, timings: dict[str, list[float]]
):
    item = make_item("news", title=title, summary=summary, language=language, guid="fuzz")  # no hashing: see below

    def run() -> None:
        for m in example_watchlist.match(item):
            assert m.why() is not None
            for s, e in m.snippet.marks:
                assert 0 <= s < e <= len(m.snippet.text)

    timed(timings, "matcher", run)


def test_lone_surrogate_from_a_json_feed_is_stored_not_a_traceback(config_dir: Path, tmp_path: Path, clock, http):
    body = json.dumps(
        {
            "version": "https://jsonfeed.org/version/1.1",
            "title": "t",
            "items": [{"id": "a\ud800", "title": "Russia ends a pact \ud800", "url": "https://e.org/\ud800"}],
        }
    ).encode()
    http.routes["/h"] = lambda h: (200, {"Content-Type": "application/feed+json"}, body)
    standins = "".join(
        f"  - {{id: {sid}, type: feed, url: 'http://127.0.0.1:9/', enabled: false}}\n"
        for sid in ("pravo-government", "pravo-government-rss", "government-docs")
    )
    write_config(config_dir, f"sources:\n  - {{id: h, type: feed, url: '{http.base}/h'}}\n" + standins, "sources.yaml")
    app = make_app(config_dir, tmp_path / "state", clock)
    try:
        r = app.runner.poll("h")
        assert r.error is None and r.new == 1
    finally:
        app.close()
