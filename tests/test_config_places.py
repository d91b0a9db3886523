"""Configuration errors at the right place: a reference, a query or a URL is the faulty key's line, not its entry's
`id:` line; a YAML syntax error names the line, the column, the keys around it and a hint; a file with a faulty key
does not hide the other files' errors. Through `treatywatch check` as an operator runs it: output and exit code."""

from __future__ import annotations

from pathlib import Path

from conftest import tw, write_config

WATCH = "watches:\n  - id: w\n    title: t\n    severity: high\n    query: 'accord'\n"


def check(config_dir: Path) -> tuple[int, list[str]]:
    out = tw("check", config=config_dir)
    return out.returncode, [line.removeprefix("error: ") for line in out.stderr.splitlines()]


def test_an_unknown_agreement_an_unbalanced_query_and_a_bad_url_point_at_their_own_lines(tmp_path: Path):
    f = write_config(tmp_path, "watches:\n  - id: w\n    title: t\n    agreements: [ok, ghost]\n    query: accord\n"
                     "agreements:\n  - id: ok\n    title: An accord\n    parties: [a, b]\n"
                     "entities:\n  a: {en: [alpha]}\n  b: {en: [beta]}\n"
                     "subscribers:\n  - id: s\n    notify:\n      - 'json://127.0.0.1:9/x'\n"
                     "      - 'nosuchscheme://x'\n", "a.yaml") / "a.yaml"  # fmt: skip
    code, errors = check(tmp_path)
    assert code == 2
    assert f"{f}:4: watches[w].agreements: no agreement 'ghost'" in errors  # the agreements: line, not id: (2)
    assert any(e.startswith(f"{f}:17: subscribers[s].notify[1]: unknown apprise scheme") for e in errors), errors

    write_config(tmp_path, "watches:\n  - id: w\n    title: t\n\n    query: '(accord OR treaty'\n", "a.yaml")
    code, errors = check(tmp_path)
    (error,) = errors
    assert code == 2 and error.startswith(f"watch 'w' ({f}:5): missing ')'")  # query: is line 5, id: line 2


def test_a_yaml_syntax_error_names_line_column_keys_and_a_hint(tmp_path: Path):
    f = write_config(tmp_path, "settings:\n  log_level: INFO\n\tweb_port: 8080\n", "a.yaml") / "a.yaml"
    code, (error,) = check(tmp_path)
    assert code == 2 and error.startswith(f"{f}:3: YAML syntax error at column 1 (in settings")
    assert "a tab at column 1: YAML indents with spaces only" in error

    unclosed = "watches:\n  - id: a\n    query: b\n  - id: x\n    agreements: [a, b\n    query: q\n"
    write_config(tmp_path, unclosed, "a.yaml")
    code, (error,) = check(tmp_path)
    assert code == 2 and error.startswith(f"{f}:5: YAML syntax error at column 17 (in watches[1].agreements)")
    assert "not closed" in error

    write_config(tmp_path, "sources:\n  - id: a\n    url: http://x: y\n", "a.yaml")
    code, (error,) = check(tmp_path)
    assert error.startswith(f"{f}:3: YAML syntax error at column 18 (in sources[0].url)") and "quote it" in error


def test_an_unknown_key_in_one_file_does_not_hide_the_errors_of_the_others(tmp_path: Path):
    a = write_config(tmp_path, WATCH.replace("severity: high", "severty: high"), "a.yaml") / "a.yaml"
    b = write_config(tmp_path, "subscribers:\n  - id: s\n    watches: [w, nope]\n    notify: ['json://127.0.0.1:9/x']\n"
                     "sources:\n  - {id: f, type: feed, url: 'http://127.0.0.1:9/f', implies: [ghost]}\n",
                     "b.yaml") / "b.yaml"  # fmt: skip
    code, errors = check(tmp_path)
    assert code == 2
    assert any(e.startswith(f"{a}:4: watches[0].severty: unknown key") for e in errors), errors
    # b.yaml's own errors come in the same run; `w` (whose entry failed in a.yaml) is not said to be missing
    assert f"{b}:3: subscribers[s].watches: no watch 'nope'" in errors
    assert f"{b}:6: sources[f].implies: no entity 'ghost'" in errors
    assert not any("no watch 'w'" in e for e in errors)
    assert len(errors) == 3

    # a query's syntax error (the matcher's parser) comes in the same run as another file's unknown key
    write_config(tmp_path, "watches:\n  - id: v\n    title: t\n    query: '(accord OR treaty'\n", "b.yaml")
    code, errors = check(tmp_path)
    assert code == 2 and len(errors) == 2, errors
    assert errors[1].startswith(f"watch 'v' ({b}:4): missing ')' at position 17")
