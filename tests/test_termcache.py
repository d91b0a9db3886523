"""Term keys kept on disk between processes (matching/termcache.py): read back, they are the keys the analyzer
works out; a file of another analyzer, or one that cannot be read or written, is passed over."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conftest import EXAMPLE_CONFIG
from treatywatch.app import compile_config
from treatywatch.items import make_item
from treatywatch.matching import termcache
from treatywatch.matching.cachefiles import replaced_atomically
from treatywatch.matching.termcache import TermKeyFile
from treatywatch.matching.text import Analyzer


def test_a_second_start_reads_the_keys_the_first_worked_out_and_they_are_the_same(tmp_path: Path):
    file = TermKeyFile(tmp_path)
    first = Analyzer(term_file=file)
    _, watchlist = compile_config(EXAMPLE_CONFIG, {}, first, keep=False)
    assert file.path.exists() and len(file.load()) > 1000  # the example watchlist's terms
    second = Analyzer(term_file=TermKeyFile(tmp_path))
    assert second._term_cache == file.load()
    _, again = compile_config(EXAMPLE_CONFIG, {}, second, keep=False)
    fresh = Analyzer()  # no file: every key worked out
    for (lang, word), keys in second._term_cache.items():
        assert fresh.term_keys(lang, word) == keys
    text = "Russia terminates the 1996 agreement with Germany on military-technical cooperation"
    item = make_item("s", title=text, link="https://x.example/1", language="en")
    assert [m.watch_id for m in again.match(item)] == [m.watch_id for m in watchlist.match(item)] != []


def test_a_compile_that_found_every_key_in_the_file_does_not_write_it_again(tmp_path: Path):
    file = TermKeyFile(tmp_path)
    compile_config(EXAMPLE_CONFIG, {}, Analyzer(term_file=file), keep=False)
    written = file.path.stat().st_mtime_ns
    compile_config(EXAMPLE_CONFIG, {}, Analyzer(term_file=TermKeyFile(tmp_path)), keep=False)
    assert file.path.stat().st_mtime_ns == written


def test_an_unreadable_or_foreign_file_is_passed_over(tmp_path: Path):
    file = TermKeyFile(tmp_path)
    file.path.write_text("{not json", encoding="utf-8")
    assert file.load() == {}
    file.path.write_text('{"a": 1}', encoding="utf-8")  # JSON, but not rows of [lang, word, keys]
    assert file.load() == {}
    _, watchlist = compile_config(
        EXAMPLE_CONFIG, {}, Analyzer(term_file=file), keep=False
    )  # worked out, and written whole
    assert len(file.load()) > 1000 and watchlist.watches


def test_a_folder_that_cannot_be_written_costs_nothing_but_the_cache(tmp_path: Path):
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("", encoding="utf-8")  # the cache folder's place is taken by a file
    _, watchlist = compile_config(EXAMPLE_CONFIG, {}, Analyzer(term_file=TermKeyFile(blocked / "cache")), keep=False)
    assert watchlist.watches


def test_the_file_is_named_by_the_analyzer_s_code_and_packages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Keys worked out by other code or other dictionaries are never read: each has its own file."""
    code = tmp_path / "code"
    code.mkdir()
    for name in termcache.CODE:
        shutil.copy(termcache.HERE / name, code / name)
    monkeypatch.setattr(termcache, "HERE", code)
    before = termcache.fingerprint()
    assert before == termcache.fingerprint()
    with (code / "text.py").open("a", encoding="utf-8") as f:
        f.write("\n# changed\n")
    assert termcache.fingerprint() != before
    changed = termcache.fingerprint()
    monkeypatch.setattr(termcache, "version", lambda package: "9.9" if package == "simplemma" else "1.0")
    assert termcache.fingerprint() != changed


def test_a_write_that_fails_midway_leaves_the_old_file_and_no_temporary(tmp_path: Path):
    """Every cache file goes through cachefiles.replaced_atomically: readers see the old file or the whole new one."""
    target = tmp_path / "cache" / "kept.bin"
    with replaced_atomically(target) as tmp:
        tmp.write_bytes(b"old, whole")
    with pytest.raises(RuntimeError), replaced_atomically(target) as tmp:
        tmp.write_bytes(b"new, half")
        raise RuntimeError("disk gone")
    assert target.read_bytes() == b"old, whole"
    assert [p.name for p in target.parent.iterdir()] == ["kept.bin"]
