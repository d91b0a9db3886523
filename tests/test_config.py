"""Configuration errors name file, line and field, and `treatywatch check` turns them into one line and exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import EXAMPLE_CONFIG, tw, write_config
from treatywatch.app import compile_config
from treatywatch.config import load_config
from treatywatch.config.common import parse_duration
from treatywatch.errors import ConfigError


def problems(config_dir: Path, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        compile_config(config_dir, env or {})
    return info.value.problems


def test_example_config_is_valid():
    config, watchlist = compile_config(EXAMPLE_CONFIG, {})
    assert {s.type for s in config.sources} == {"feed", "pravo", "html"}
    assert len(config.agreements) == 14
    assert [w.id for w in watchlist.watches] == ["agreement-terminated", "frozen-assets", "portal-decree"]


def test_unknown_key_names_file_line_and_field(tmp_path: Path):
    write_config(tmp_path, "sources:\n  - id: a\n    type: feed\n    url: http://127.0.0.1/x\n    evry: 10m\n")
    (p,) = problems(tmp_path)
    assert p.startswith(f"{tmp_path / 'local.yaml'}:5: sources[0].evry: unknown key")


def test_yaml_syntax_error_has_line(tmp_path: Path):
    write_config(tmp_path, "watches:\n  - id: x\n    query: [unclosed\n")
    (p,) = problems(tmp_path)
    assert f"{tmp_path / 'local.yaml'}:" in p and "YAML syntax error" in p


def test_bad_values_are_reported_together(tmp_path: Path):
    write_config(
        tmp_path,
        "sources:\n  - id: a\n    type: rss\n    url: http://x/\n"
        "watches:\n  - id: w\n    query: x\n    severity: urgent\n",
    )
    got = problems(tmp_path)
    assert any(":3: sources[0].type" in p and "unknown source type 'rss'" in p for p in got)
    assert any(":8: watches[0].severity" in p for p in got)


def test_duplicate_ids_across_files_name_both(tmp_path: Path):
    write_config(tmp_path, "watches:\n  - id: w\n    query: a\n", "a.yaml")
    write_config(tmp_path, "watches:\n  - id: w\n    query: b\n", "b.yaml")
    (p,) = problems(tmp_path)
    assert "b.yaml:2" in p and "duplicate id 'w'" in p and "a.yaml:2" in p


def test_query_error_names_watch_file_and_position(tmp_path: Path):
    write_config(tmp_path, 'watches:\n  - id: w\n    query: "(a OR b"\n')
    (p,) = problems(tmp_path)
    assert "watch 'w'" in p and "local.yaml:3" in p and "missing ')'" in p and "position 7" in p  # the query's line


def test_unknown_reference_in_query(tmp_path: Path):
    write_config(tmp_path, 'watches:\n  - id: w\n    query: "@nope AND x"\n')
    (p,) = problems(tmp_path)
    assert "unknown term set or entity '@nope'" in p and "position 0" in p


def test_env_substitution_and_missing_variable(tmp_path: Path):
    write_config(tmp_path, "subscribers:\n  - id: s\n    notify: ['json://${HOOK_HOST}/x']\n")
    (p,) = problems(tmp_path)
    assert p.startswith(f"{tmp_path / 'local.yaml'}:3:") and "HOOK_HOST is not set" in p
    config = load_config(tmp_path, {"HOOK_HOST": "127.0.0.1:9"})
    assert config.subscribers[0].notify == ["json://127.0.0.1:9/x"]


def test_bad_apprise_url_is_a_config_error(tmp_path: Path):
    write_config(tmp_path, "subscribers:\n  - id: s\n    notify: ['nosuchscheme://x']\n")
    (p,) = problems(tmp_path)
    assert p.endswith("subscribers[s].notify[0]: unknown apprise scheme 'nosuchscheme://'; no apprise service uses it")


def test_references_are_checked(tmp_path: Path):
    write_config(
        tmp_path,
        "subscribers:\n  - id: s\n    watches: [ghost]\nagreements:\n  - id: a\n    title: t\n    parties: [x, y]\n",
    )
    got = problems(tmp_path)
    assert any("no watch 'ghost'" in p for p in got) and any("no entity 'x'" in p for p in got)


@pytest.mark.parametrize(("text", "seconds"), [("30s", 30), ("10m", 600), ("1h30m", 5400), ("2d", 172800), (5, 5)])
def test_durations(text: object, seconds: float):
    assert parse_duration(text) == seconds


def test_bad_duration():
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration("ten minutes")


def test_cli_check_exit_codes(tmp_path: Path):
    write_config(tmp_path, "sources:\n  - id: a\n    type: feed\n    url: http://127.0.0.1/x\n    evry: 10m\n")
    bad = tw("check", config=tmp_path)
    assert bad.returncode == 2
    assert (
        bad.stderr.strip() == f"error: {tmp_path / 'local.yaml'}:5: sources[0].evry: unknown key (typo?); "
        "did you mean 'every'?"
    )
    good = tw("check")
    assert good.returncode == 0, good.stderr
    assert good.stdout.startswith("OK: 7 sources")


def test_locations_inside_a_source_and_a_term_set(tmp_path: Path):
    write_config(
        tmp_path,
        "terms:\n  feed:\n    xx: [a]\nsources:\n  - id: a\n    type: html\n    url: http://x/\n"
        "    items: li\n    fields: {titel: a}\n",
    )
    where = tmp_path / "local.yaml"
    assert problems(tmp_path) == [
        f"{where}:9: sources[0].fields: unknown field 'titel'; did you mean 'title'? (fields: id, title, link, "
        "published, summary, act_date, number, doc_type, issuer, published_on, document_url; any other name is "
        "kept with the item)",
        f"{where}:2: terms.feed: unknown language 'xx'; use one of en, ru, fr, pt, de, es",
    ]


def test_every_module_of_the_sources_and_the_configuration_imports_first():
    """A library user imports what they need, in any order: `import treatywatch.sources.fetch` as a program's first
    import of the package failed (the configuration package imported its loader, which imports the source types,
    which were half built), and tests carried a "config before sources" import to dodge it."""
    import pkgutil
    import subprocess
    import sys

    import treatywatch.config
    import treatywatch.sources

    names = [
        info.name
        for package in (treatywatch.sources, treatywatch.config)
        for info in pkgutil.iter_modules(package.__path__, package.__name__ + ".")
    ]
    script = (
        "import importlib, sys\n"
        "failed = []\n"
        f"for name in {names!r}:\n"
        "    for loaded in [m for m in sys.modules if m.startswith('treatywatch')]:\n"
        "        del sys.modules[loaded]\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except ImportError as exc:\n"
        "        failed.append(f'{name}: {exc}')\n"
        "print('\\n'.join(failed))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    assert len(names) > 15 and done.stdout.strip() == ""
