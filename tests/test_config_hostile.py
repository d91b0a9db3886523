"""Hostile or broken operator input (YAML files, command-line values) ends in a clear error, never a hang or a
traceback: YAML problems name file:line, command-line typos are usage errors (exit 2)."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest

from conftest import WebhookSink, local_sources, tw, write_config
from treatywatch.config import load_config
from treatywatch.config.yamlfile import MAX_ALIAS_NODES, MAX_DEPTH, load_yaml
from treatywatch.errors import ConfigError
from treatywatch.localserve import FixtureServer


def laughs(levels: int, width: int = 9) -> str:
    """The YAML 'billion laughs': each level repeats the one before `width` times (9**9 values at 9 levels)."""
    names = [f"l{i}" for i in range(levels)]
    out = [f"{names[0]}: &{names[0]} [" + ", ".join(['"lol"'] * width) + "]"]
    for prev, name in itertools.pairwise(names):
        out.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * width) + "]")
    return "\n".join(out) + "\n"


def refused(tmp_path: Path, content: str | bytes, name: str = "bad.yaml") -> list[str]:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path, {})
    problems = info.value.problems
    assert problems, "a ConfigError carries its problems"
    for p in problems:
        assert re.match(rf"{re.escape(str(path))}:\d+: ", p), p
    return problems


@pytest.mark.timeout(20)
@pytest.mark.parametrize("levels", [7, 8, 9])
def test_billion_laughs_is_refused_quickly(tmp_path: Path, levels: int):
    (p,) = refused(tmp_path, laughs(levels))
    assert f"aliases expand to more than {MAX_ALIAS_NODES} values" in p
    assert re.search(r"bad\.yaml:[3-9]: ", p)  # the line that uses the alias, not the first list


@pytest.mark.timeout(60)
def test_billion_laughs_check_exits_2_not_hang(tmp_path: Path):
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "laughs.yaml").write_text(laughs(9), encoding="utf-8")
    out = tw("check", config=tmp_path / "c")
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr and "laughs.yaml:" in out.stderr


def test_a_few_aliases_still_work(tmp_path: Path):
    path = tmp_path / "ok.yaml"
    path.write_text(
        "entities:\n  x:\n    en: &names [Xland, Xish]\n  y:\n    en: [Yland]\n    de: *names\n", encoding="utf-8"
    )
    doc = load_yaml(path, {})
    assert doc.data["entities"]["y"]["de"] == ["Xland", "Xish"]


@pytest.mark.parametrize(
    "text",
    ["a: &a [*a]\n", "settings: &s\n  nested: *s\n", "a: &a {b: [1, {c: *a}]}\n"],
)
def test_recursive_alias_is_refused(tmp_path: Path, text: str):
    (p,) = refused(tmp_path, text)
    assert "recursive alias" in p


@pytest.mark.parametrize("opener", ["[", "{a: ", "- "])
def test_deep_nesting_is_refused_with_line(tmp_path: Path, opener: str):
    n = 5000
    if opener == "- ":
        text = "".join("  " * i + "-\n" for i in range(200)) + "  " * 200 + "- x\n"
        line = MAX_DEPTH + 1
    else:
        closer = "]" if opener == "[" else "}"
        text = "watches: " + opener * n + "x" + closer * n + "\n"
        line = 1
    (p,) = refused(tmp_path, text)
    assert f"nested deeper than {MAX_DEPTH} levels" in p and f"bad.yaml:{line}:" in p


def test_nesting_through_aliases_is_bounded(tmp_path: Path):
    deep = "[" * 60 + "x" + "]" * 60
    text = f"a: &a {deep}\n" + "".join(
        f"b{i}: &b{i} " + "[" * 60 + f"*{'a' if i == 0 else f'b{i - 1}'}" + "]" * 60 + "\n" for i in range(5)
    )
    (p,) = refused(tmp_path, text)
    assert "through aliases" in p


@pytest.mark.parametrize(("char", "name"), [("\x0c", "FORM FEED"), ("\x1b", "ESCAPE"), ("\x00", "NUL")])
def test_control_character_names_line(tmp_path: Path, char: str, name: str):
    (p,) = refused(tmp_path, f'settings:\n  log_level: INFO\nwatches:\n  - id: w\n    query: "a{char}b"\n')
    assert p.startswith(f"{tmp_path / 'bad.yaml'}:5: control character") and name in p


def test_huge_integer_is_a_clear_error(tmp_path: Path):
    (p,) = refused(tmp_path, "settings:\n  max_response_bytes: 99999999999999999999\n")
    assert ":2: number 99999999999999999999 is too large" in p


@pytest.mark.parametrize("value", [".inf", "-.inf", ".nan", "1.0e+999"])
def test_non_finite_number_is_a_clear_error(tmp_path: Path, value: str):
    (p,) = refused(tmp_path, f"settings:\n  http_timeout: {value}\n")
    assert ":2: number" in p and "not finite" in p


def test_not_utf8_names_line_of_bad_byte(tmp_path: Path):
    (p,) = refused(tmp_path, b"settings:\n  log_level: INFO\n# caf\xe9 au lait\n")
    assert p == f"{tmp_path / 'bad.yaml'}:3: not UTF-8 (byte 0xe9 at column 6); save the file as UTF-8"


def test_utf16_file_is_not_utf8(tmp_path: Path):
    (p,) = refused(tmp_path, "settings:\n  log_level: INFO\n".encode("utf-16"))
    assert ":1: not UTF-8" in p


def test_utf8_bom_is_accepted(tmp_path: Path):
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbfsettings:\n  log_level: DEBUG\n")
    assert load_yaml(path, {}).data == {"settings": {"log_level": "DEBUG"}}


@pytest.mark.parametrize(
    ("text", "expect"),
    [
        ("settings:\n  log_level: 2025-02-30\n", ":2: cannot read value '2025-02-30'"),
        ("settings: !custom x\n", ":1: cannot read value 'x'"),
        ("settings:\n  x: !!binary a\n", ":2: cannot read value 'a'"),
        ("? [a, b]\n: 1\n", ":1: a key must be a plain word"),
        ("a: 1\n---\nb: 2\n", ":2: YAML syntax error"),
        ("settings:\n\tlog_level: INFO\n", ":2: YAML syntax error"),
        ("- just\n- a list\n", ":1: expected a mapping of sections"),
    ],
)
def test_odd_yaml_names_line(tmp_path: Path, text: str, expect: str):
    (p,) = refused(tmp_path, text)
    assert expect in p


def test_unreadable_path_names_file(tmp_path: Path):
    (tmp_path / "dir.yaml").mkdir()
    with pytest.raises(ConfigError) as info:
        load_yaml(tmp_path / "dir.yaml", {})
    assert info.value.problems[0].startswith(f"{tmp_path / 'dir.yaml'}:1: cannot read")


def test_check_reports_each_hostile_file_and_exits_2(tmp_path: Path):
    d = tmp_path / "c"
    d.mkdir()
    (d / "a.yaml").write_bytes(b"settings:\n  log_level: \x1b[31mINFO\n")
    (d / "b.yaml").write_bytes(b"watches:\n  - id: w\n    query: \xff\n")
    (d / "c.yaml").write_text("s: " + "[" * 5000 + "]" * 5000 + "\n", encoding="utf-8")
    out = tw("check", config=d)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "a.yaml:2: control character U+001B" in out.stderr
    assert "b.yaml:3: not UTF-8" in out.stderr
    assert "c.yaml:1: refused: nested deeper" in out.stderr


@pytest.mark.parametrize("args", [["alerts", "--since", "5x"], ["backtest", "agreement-terminated", "--since", "5x"]])
def test_since_typo_is_a_usage_error(tmp_path: Path, args: list[str]):
    out = tw(*args, state=tmp_path / "state")
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    assert "Invalid value for '--since': '5x' is not a duration" in out.stderr
    assert "90s, 30m, 12h, 7d, 2w" in out.stderr


def test_since_good_forms_still_work(tmp_path: Path):
    for since in ("12h", "7d", "1d12h", "90s", "99999999999999d"):
        out = tw("alerts", "--since", since, state=tmp_path / "state")
        assert out.returncode == 0, out.stderr


def test_notify_test_exits_1_when_a_channel_fails(config_dir: Path, tmp_path: Path, http: FixtureServer):
    with WebhookSink() as good, WebhookSink(fail_with=500) as bad:
        write_config(config_dir, local_sources(http.base), "sources.yaml")
        write_config(config_dir, f'subscribers:\n  - id: desk\n    notify: ["{good.url}", "{bad.url}"]\n', "s.yaml")
        out = tw("notify", "--test", "desk", config=config_dir, state=tmp_path / "state")
        assert out.returncode == 1, out.stderr
        lines = out.stdout.splitlines()
        assert lines[0] == f"{good.url}: OK" and lines[1].startswith(f"{bad.url}: FAILED")
        assert len(good.bodies) == 1


def test_a_duration_beyond_ten_years_is_a_config_error(tmp_path):
    cfg = tmp_path / "c"
    cfg.mkdir()
    (cfg / "s.yaml").write_text("settings:\n  ignore_older_than: 1000000000000000\n", encoding="utf-8")
    out = tw("check", config=cfg)
    assert out.returncode == 2 and "s.yaml:2" in out.stderr and "longer than 10 years" in out.stderr, out.stderr
