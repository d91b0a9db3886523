"""A compiled watchlist kept between starts (matching/watchcache.py): read back, it matches as the watchlist
compiled afresh does; any change to what decides it names another file; what cannot be read, written or must not
be written costs only the cache."""

from __future__ import annotations

import json
import os
import pickle
import re
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import pytest

from conftest import EXAMPLE_CONFIG
from treatywatch.app import compile_config
from treatywatch.config import load_config
from treatywatch.items import make_item
from treatywatch.matching import Watchlist, watchcache
from treatywatch.matching.explain import match_to_dict
from treatywatch.matching.text import Analyzer
from treatywatch.matching.watchcache import WATCHLIST_INPUTS, KeptWatchlist, WatchlistFile

TESTS = Path(__file__).parent


def _served(devset: Path, into: Path) -> tuple[Path, str]:
    """The set's watchlist as served, beside the portal source its portal watch names (its sources are built
    from the items by its own script); returns the folder and that source's id."""
    text = (devset / "watchlist.yaml").read_text(encoding="utf-8")
    portal = re.search(r"sources: \[([\w-]+)\]", text)
    assert portal is not None
    into.mkdir()
    (into / "watchlist.yaml").write_text(text, encoding="utf-8")
    (into / "sources.yaml").write_text(
        f"sources:\n  - {{id: {portal.group(1)}, type: pravo, url: 'http://127.0.0.1:9/', block: government}}\n"
        "  - {id: news, type: feed, url: 'http://127.0.0.1:9/news.xml'}\n",
        encoding="utf-8",
    )
    return into, portal.group(1)


def _items(devset: Path, portal: str) -> list:
    out = []
    for line in (devset / "items.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        published = datetime.fromisoformat(row["published"].replace("Z", "+00:00")) if row.get("published") else None
        out.append(
            make_item(
                portal if row.get("source") == "portal" else "news",
                title=row["title"],
                summary=row.get("summary", ""),
                published=published,
                language=row.get("lang"),
                link=f"https://x.example/{row['id']}",
            )
        )
    return out


@pytest.mark.parametrize("devset", ["devset", "devset2"])
def test_a_watchlist_read_back_matches_every_dev_item_as_one_compiled_afresh(tmp_path: Path, devset: str):
    folder, portal = _served(TESTS / devset, tmp_path / "config")
    config = load_config(folder, {})
    fresh = Watchlist(config, Analyzer())
    WatchlistFile(config, tmp_path).save(Watchlist(config, Analyzer()))
    kept = WatchlistFile(config, tmp_path).load(analyzer := Analyzer())
    assert kept is not None and kept.analyzer is analyzer
    assert kept is not fresh and kept.mood.analyzer is analyzer  # every reference to the analyzer is the new one
    matched = 0
    for item in _items(TESTS / devset, portal):
        want = [match_to_dict(m) for m in fresh.match(item)]
        assert [match_to_dict(m) for m in kept.match(item)] == want, item.title
        matched += bool(want)
    assert matched > 20  # the comparison covered matches, not only silence


def test_a_second_start_reads_the_watchlist_and_does_not_compile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TREATYWATCH_CACHE", str(tmp_path))
    _, first = compile_config(EXAMPLE_CONFIG, {})
    files = list(tmp_path.glob("watchlist-*.pickle"))
    assert len(files) == 1 and os.stat(files[0]).st_mode & 0o077 == 0  # the user's alone

    def refuse(self: Watchlist, *args: object) -> None:
        raise AssertionError("compiled again")

    monkeypatch.setattr(Watchlist, "__init__", refuse)
    _, second = compile_config(EXAMPLE_CONFIG, {})
    text = "Russia terminates the 1996 agreement with Germany on military-technical cooperation"
    item = make_item("s", title=text, link="https://x.example/1", language="en")
    assert [m.watch_id for m in second.match(item)] == [m.watch_id for m in first.match(item)] != []
    with pytest.raises(AssertionError, match="compiled again"):
        compile_config(EXAMPLE_CONFIG, {}, keep=False)


def test_any_change_to_what_decides_the_watchlist_names_another_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    config = load_config(EXAMPLE_CONFIG, {})
    before = watchcache.fingerprint(config)
    assert before == watchcache.fingerprint(load_config(EXAMPLE_CONFIG, {}))
    watch = config.watches[0].model_copy(update={"query": config.watches[0].query + " OR @military"})
    assert watchcache.fingerprint(config.model_copy(update={"watches": [watch, *config.watches[1:]]})) != before
    settings = config.settings.model_copy(update={"state_dir": tmp_path})  # not read by the compile
    assert watchcache.fingerprint(config.model_copy(update={"settings": settings})) == before
    code = tmp_path / "code"
    shutil.copytree(watchcache.PACKAGE, code, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(watchcache, "PACKAGE", code)
    assert watchcache.fingerprint(config) == before
    with (code / "matching" / "compiler.py").open("a", encoding="utf-8") as f:
        f.write("\n# changed\n")
    assert watchcache.fingerprint(config) != before
    changed = watchcache.fingerprint(config)
    monkeypatch.setattr(watchcache, "_distributions", lambda: b"simplemma-9.9.dist-info")
    assert watchcache.fingerprint(config) != changed


def test_the_compile_reads_no_part_of_the_configuration_the_fingerprint_leaves_out():
    """The fingerprint covers WATCHLIST_INPUTS only: a compile that read settings or subscribers would be kept
    under a fingerprint blind to them. This fails when Watchlist starts reading another part."""
    config = load_config(EXAMPLE_CONFIG, {})
    read: set[str] = set()

    class Recording:
        def __getattr__(self, name: str) -> object:
            read.add(name)
            return getattr(config, name)

    Watchlist(Recording(), Analyzer())  # type: ignore[arg-type]
    assert read - {"where"} <= WATCHLIST_INPUTS, read  # where(): a query error's place, never kept


def test_a_corrupt_or_foreign_file_is_passed_over_and_compiled_again(tmp_path: Path):
    config = load_config(EXAMPLE_CONFIG, {})
    file = WatchlistFile(config, tmp_path)
    for junk in (b"not a pickle", pickle.dumps({"a": 1}), pickle.dumps(Watchlist)):
        file.path.parent.mkdir(parents=True, exist_ok=True)
        file.path.write_bytes(junk)
        assert file.load(Analyzer()) is None
    file.save(Watchlist(config, Analyzer()))
    assert file.load(Analyzer()) is not None


def test_a_folder_that_cannot_be_written_costs_nothing_but_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("", encoding="utf-8")  # the cache folder's place is taken by a file
    monkeypatch.setenv("TREATYWATCH_CACHE", str(blocked / "cache"))
    _, watchlist = compile_config(EXAMPLE_CONFIG, {})
    assert watchlist.watches


def test_a_watchlist_holding_configuration_or_secrets_is_never_written(tmp_path: Path):
    config = load_config(EXAMPLE_CONFIG, {})
    watchlist = Watchlist(config, Analyzer())
    watchlist.settings = config.settings  # type: ignore[attr-defined]  # a model, and a web_token with it
    file = WatchlistFile(config, tmp_path)
    file.save(watchlist)
    assert not file.path.exists()


def test_the_folder_keeps_the_most_recently_used_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(watchcache, "MAX_FILES", 2)
    config = load_config(EXAMPLE_CONFIG, {})
    watchlist = Watchlist(config, Analyzer())
    for n in range(3):
        old = tmp_path / f"watchlist-old{n}.pickle"
        old.write_bytes(b"x")
        os.utime(old, (1_000_000 + n, 1_000_000 + n))
    WatchlistFile(config, tmp_path).save(watchlist)
    assert sorted(p.name for p in tmp_path.glob("watchlist-*.pickle")) == sorted(
        [WatchlistFile(config, tmp_path).path.name, "watchlist-old2.pickle"]
    )


def test_a_kept_watchlist_is_read_when_first_used_and_once_whichever_thread_asks_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """A start that finds its watchlist kept reads nothing of it until it is used (the daemon's poll workers may
    do all the matching); then one thread reads it while the others asking meanwhile wait for that read."""
    monkeypatch.setenv("TREATYWATCH_CACHE", str(tmp_path))
    _, first = compile_config(EXAMPLE_CONFIG, {})
    reads: list[int] = []
    reading, go = threading.Event(), threading.Event()
    load = WatchlistFile.load

    def held(self: WatchlistFile, analyzer: Analyzer) -> Watchlist | None:
        reads.append(threading.get_ident())
        reading.set()
        assert go.wait(10)
        return load(self, analyzer)

    monkeypatch.setattr(WatchlistFile, "load", held)
    _, second = compile_config(EXAMPLE_CONFIG, {})
    assert isinstance(second, KeptWatchlist) and not second.read and reads == []
    text = "Russia terminates the 1996 agreement with Germany on military-technical cooperation"
    item = make_item("s", title=text, link="https://x.example/1", language="en")
    with ThreadPoolExecutor(6) as pool:
        answers = [pool.submit(lambda: [m.watch_id for m in second.match(item)]) for _ in range(6)]
        assert reading.wait(10)  # one thread is reading the file; the five others ask meanwhile
        time.sleep(0.2)
        go.set()
        got = [a.result() for a in answers]
    assert len(reads) == 1 and second.read
    assert got == [[m.watch_id for m in first.match(item)]] * 6 and got[0] != []


def test_a_kept_file_gone_before_the_first_use_is_compiled_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TREATYWATCH_CACHE", str(tmp_path))
    _, first = compile_config(EXAMPLE_CONFIG, {})
    _, second = compile_config(EXAMPLE_CONFIG, {})
    assert isinstance(second, KeptWatchlist)
    for path in tmp_path.glob("watchlist-*.pickle"):
        path.unlink()  # another process pruned it, a desk cleared the cache
    text = "Russia terminates the 1996 agreement with Germany on military-technical cooperation"
    item = make_item("s", title=text, link="https://x.example/1", language="en")
    assert [m.watch_id for m in second.match(item)] == [m.watch_id for m in first.match(item)] != []
    assert len(list(tmp_path.glob("watchlist-*.pickle"))) == 1  # kept again for the next start


def test_a_start_with_its_watchlist_kept_loads_no_dictionary_or_model_until_it_matches(tmp_path: Path):
    """The CLI's start (configuration, kept watchlist, store) imports none of the matching's libraries: pymorphy3,
    simplemma, numpy (which sqlite-utils would import: store/sqlitelib.py); matching loads them."""
    script = f"""
import sys
from pathlib import Path
from treatywatch.app import build_app, compile_config
from treatywatch.items import make_item
config, watchlist = compile_config(Path({str(EXAMPLE_CONFIG)!r}), {{}})
settings = config.settings.model_copy(update={{"state_dir": Path({str(tmp_path / "state")!r})}})
app = build_app(config.model_copy(update={{"settings": settings}}), watchlist)
heavy = ("numpy", "pymorphy3", "simplemma", "py3langid")
print(sorted(m for m in heavy if m in sys.modules))
item = make_item("s", title="Russia terminates its 1996 agreement with Germany on military cooperation",
                 link="https://x.example/1", language="en")
print(bool(app.watchlist.match(item)), sorted(m for m in heavy if m in sys.modules))
app.close()
"""
    env = {**os.environ, "TREATYWATCH_CACHE": str(tmp_path / "cache")}
    runs = [subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True) for _ in range(2)]
    for run in runs:
        assert run.returncode == 0, run.stderr
    # the first start compiled (and so loaded the analyzer's libraries); the second found it kept
    assert runs[0].stdout.splitlines()[0] != "[]"
    assert runs[1].stdout.splitlines() == ["[]", "True ['pymorphy3', 'simplemma']"]
