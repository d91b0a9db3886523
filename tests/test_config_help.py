"""Configuration errors an operator can act on: plain wording, what an id may hold, a guess for each typo,
and a JSON Schema so the editor catches them before `treatywatch check` does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from conftest import EXAMPLE_CONFIG, tw, write_config
from treatywatch.app import compile_config
from treatywatch.errors import ConfigError

ID_RULE = "ids are lower case: letters, digits, '-', '_', '.'"


def problems(config_dir: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        compile_config(config_dir, {})
    return info.value.problems


def test_no_pydantic_prefix_in_messages(tmp_path: Path):
    write_config(tmp_path, "terms:\n  feed:\n    xx: [a]\n")
    (p,) = problems(tmp_path)
    assert p.endswith("terms.feed: unknown language 'xx'; use one of en, ru, fr, pt, de, es")
    assert "Value error" not in p


@pytest.mark.parametrize(
    ("yaml_text", "field"),
    [
        ("watches:\n  - id: W1\n    query: x\n", "watches[0].id"),
        ("subscribers:\n  - id: Desk One\n", "subscribers[0].id"),
        ("sources:\n  - id: Feed\n    type: feed\n    url: http://127.0.0.1/x\n", "sources[0].id"),
    ],
)
def test_an_invalid_id_says_what_ids_may_hold(tmp_path: Path, yaml_text: str, field: str):
    write_config(tmp_path, yaml_text)
    (p,) = problems(tmp_path)
    bad = yaml.safe_load(yaml_text)[field.split("[")[0]][0]["id"]
    assert f"{field}: {ID_RULE}" in p and p.endswith(f"got '{bad}'")
    assert "^[a-z0-9]" not in p  # not the raw regex


@pytest.mark.parametrize(
    ("yaml_text", "field", "guess"),
    [
        ("sources:\n  - id: a\n    type: feed\n    url: http://x/\n    evry: 10m\n", "sources[0].evry", "every"),
        ("sources:\n  - id: a\n    type: html\n    url: http://x/\n    item: li\n", "sources[0].item", "items"),
        ("settings:\n  log_levl: DEBUG\n", "settings.log_levl", "log_level"),
        ("watchs:\n  - id: w\n    query: x\n", "watchs", "watches"),
        ("subscribers:\n  - id: s\n    min_severty: high\n", "subscribers[0].min_severty", "min_severity"),
    ],
)
def test_a_misspelt_key_gets_a_guess(tmp_path: Path, yaml_text: str, field: str, guess: str):
    write_config(tmp_path, yaml_text)
    found = [p for p in problems(tmp_path) if f": {field}: " in p]
    assert found and found[0].endswith(f"unknown key (typo?); did you mean '{guess}'?")


def test_a_key_like_no_other_keeps_the_plain_advice(tmp_path: Path):
    write_config(tmp_path, "settings:\n  zzzqqq: 1\n")
    (p,) = problems(tmp_path)
    assert p.endswith("settings.zzzqqq: unknown key (typo?); remove it or check the spelling against the docs")


def test_a_misspelt_source_type_gets_a_guess(tmp_path: Path):
    write_config(tmp_path, "sources:\n  - id: a\n    type: fed\n    url: http://127.0.0.1/x\n")
    (p,) = problems(tmp_path)
    assert "sources[0].type: unknown source type 'fed' (did you mean 'feed'?); use one of feed, html" in p


def test_misspelt_sets_in_queries_are_all_reported_with_a_guess(config_dir: Path):
    write_config(
        config_dir,
        "watches:\n  - id: typo-a\n    query: '@militray AND x'\n  - id: typo-b\n    query: 'x AND @rusia'\n",
        "zz.yaml",
    )
    got = problems(config_dir)
    assert any(
        "watches[typo-a].query: unknown term set or entity '@militray'; did you mean '@military'?" in p
        and "position 0" in p
        for p in got
    )
    assert any("'@rusia'; did you mean '@russia'?" in p and "position 6" in p for p in got)


def test_misspelt_references_get_a_guess(config_dir: Path):
    write_config(
        config_dir,
        "sources:\n  - id: euronews-world\n    type: feed\n    url: http://127.0.0.1:9/x\n    implies: [frnace]\n"
        "subscribers:\n  - id: s\n    watches: [frozen-asets]\n"
        "watches:\n  - id: w\n    query: x\n    sources: [euronews-wrld]\n"
        "    agreements: [ru-bg-military-coperation]\n",
        "zz.yaml",
    )
    got = "\n".join(problems(config_dir))
    assert "subscribers[s].watches: no watch 'frozen-asets'; did you mean 'frozen-assets'?" in got
    assert "watches[w].sources: no source 'euronews-wrld'; did you mean 'euronews-world'?" in got
    assert "sources[euronews-world].implies: no entity 'frnace'; did you mean 'france'?" in got
    assert "no agreement 'ru-bg-military-coperation'; did you mean 'ru-bg-military-cooperation'?" in got


def test_schema_describes_the_configuration_file():
    out = tw("schema")
    assert out.returncode == 0, out.stderr
    schema = json.loads(out.stdout)
    assert schema["$schema"].startswith("https://json-schema.org/") and schema["additionalProperties"] is False
    assert {"settings", "sources", "terms", "entities", "watches", "subscribers"} <= set(schema["properties"])
    defs = schema["$defs"]
    assert defs["Settings"]["properties"]["log_format"]["enum"] == ["text", "json"]
    assert {"FeedConfig", "HtmlConfig", "JsonConfig", "PravoConfig"} <= set(defs)
    # as operators write it: intervals and durations as strings, term sets and entities keyed by language
    every = defs["FeedConfig"]["properties"]["every"]
    assert {"type": "string", "examples": ["15m", "*/10 * * * *"]} in every["anyOf"] and every["default"] == 900
    assert any(t.get("type") == "string" for t in defs["Settings"]["properties"]["http_timeout"]["anyOf"])
    assert defs["TermSet"]["additionalProperties"]["type"] == "array" and "by_language" not in json.dumps(defs)
    assert {"en", "ru", "country"} <= set(defs["Entity"]["propertyNames"]["enum"])
    # every top-level key of the shipped example is one the schema knows
    for file in EXAMPLE_CONFIG.glob("*.yaml"):
        assert set(yaml.safe_load(file.read_text(encoding="utf-8")) or {}) <= set(schema["properties"]), file


def test_a_misspelt_apprise_scheme_gets_a_guess_from_apprise(tmp_path: Path):
    write_config(
        tmp_path,
        "subscribers:\n  - id: s\n    notify: ['mailtoo://desk:${SECRET}@example.org', 'jsn://127.0.0.1/x', 'xyzzy://x']\n",
    )
    with pytest.raises(ConfigError) as info:
        compile_config(tmp_path, {"SECRET": "hunter2"})
    got = info.value.problems
    assert got[0].endswith("subscribers[s].notify[0]: unknown apprise scheme 'mailtoo://'; did you mean 'mailto://'?")
    assert got[1].endswith("notify[1]: unknown apprise scheme 'jsn://'; did you mean 'json://'?")
    assert got[2].endswith("notify[2]: unknown apprise scheme 'xyzzy://'; no apprise service uses it")
    assert "hunter2" not in "\n".join(got)  # the URL's secrets stay out of the message


def test_problems_of_every_stage_come_in_one_run(config_dir: Path):
    write_config(config_dir, "settings:\n  log_levl: DEBUG\n", "a.yaml")  # a file that does not validate
    write_config(config_dir, "watches:\n  - {id: w, query: x}\n  - {id: w, query: y}\n", "b.yaml")  # a duplicate
    write_config(config_dir, "vocabularies:\n  foo: [no-such-vocabulary]\n", "c.yaml")
    got = "\n".join(problems(config_dir))
    assert "a.yaml:2: settings.log_levl: unknown key" in got
    assert "b.yaml:3: watches: duplicate id 'w'" in got
    assert "c.yaml:2: vocabularies.foo[0]: unknown vocabulary 'no-such-vocabulary'" in got
    assert "Value error" not in got
