"""The thin CLI over the library: match, backtest, evaluate, deliveries, exit codes."""

from __future__ import annotations

from pathlib import Path

from conftest import EXAMPLE_CONFIG, local_sources, tw, write_config
from treatywatch.localserve import FixtureServer


def test_match_explains(tmp_path: Path):
    out = tw("match", "Moscow scraps 1994 pact with Paris", state=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[0] == "agreement-terminated [high]"
    assert "  hit @termination: scrap (en): «scraps» in title at 7-13" in out.stdout
    assert (
        "  agreement ru-fr-1994-military-cooperation (score 0.7): names all parties: russia, france; "
        "nothing of its subject; year 1994 mentioned" in out.stdout
    )
    assert "  snippet: [Moscow] [scraps] 1994 [pact] with [Paris]" in out.stdout
    none = tw("match", "Snow in the Alps", state=tmp_path)
    assert none.stdout.strip() == "no watch fires"
    talk = tw("match", "Senators call on Moscow to scrap the 1994 military pact with Paris", state=tmp_path)
    assert talk.stdout.splitlines() == [
        "no watch fires",
        "  agreement-terminated: its words are there, but as talk, not a decision: «call on»",
    ]


def test_match_file(tmp_path: Path):
    f = tmp_path / "item.txt"
    f.write_text(
        "Медведев назвал изъятие замороженных российских активов поводом для войны\nПодробности.", encoding="utf-8"
    )
    out = tw("match", "--file", str(f), state=tmp_path)
    assert out.stdout.startswith("frozen-assets [medium]")


def test_backtest_and_match_item(config_dir: Path, tmp_path: Path, http: FixtureServer):
    write_config(config_dir, local_sources(http.base), "sources.yaml")
    state = tmp_path / "state"
    assert tw("poll", "--once", config=config_dir, state=state).returncode == 0
    out = tw("backtest", "frozen-assets", "--since", "30d", config=config_dir, state=state)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1].startswith("3 of 23 items since")
    assert "EU leaders clash over reparations loan" in out.stdout
    item = tw("match", "--item", "1", config=config_dir, state=state)
    assert item.stdout.startswith("agreement-terminated [high]")
    missing = tw("backtest", "nope", config=config_dir, state=state)
    assert missing.returncode == 4 and missing.stderr.startswith("error: no watch 'nope'; known: ")
    typo = tw("backtest", "frozen-asets", config=config_dir, state=state)
    assert typo.returncode == 4
    assert typo.stderr.startswith("error: no watch 'frozen-asets'; did you mean 'frozen-assets'?")


def test_evaluate_command(tmp_path: Path):
    out = tw("evaluate", str(Path(__file__).parent / "cases"), "--min", "0.95", state=tmp_path)
    assert out.returncode == 0, out.stdout
    assert out.stdout.splitlines()[2].startswith("overall")
    strict = tw("evaluate", str(Path(__file__).parent / "cases"), "--min", "0.999", state=tmp_path)
    assert strict.returncode == 6


def test_deliveries_listing_and_retry(config_dir: Path, tmp_path: Path, http: FixtureServer):
    write_config(config_dir, local_sources(http.base), "sources.yaml")
    write_config(
        config_dir,
        "subscribers:\n  - id: hook\n    notify: ['json://127.0.0.1:9/down']\nsettings:\n  delivery_max_attempts: 1\n",
        "subs.yaml",
    )
    state = tmp_path / "state"
    tw("poll", "euronews-world", "--once", config=config_dir, state=state)
    dead = tw("deliveries", "--status", "dead", config=config_dir, state=state)
    # the first delivery died; the second, to the same failing channel, was postponed without an attempt
    assert dead.stdout.count(" dead ") == 1 and "hook → json://127.0.0.1:9/down" in dead.stdout
    assert "last error: A Connection error occurred sending JSON notification to 127.0.0.1." in dead.stdout
    pending = tw("deliveries", "--status", "pending", config=config_dir, state=state)
    assert pending.stdout.count(" pending ") == 1
    retry = tw("deliveries", "retry", config=config_dir, state=state)
    assert retry.stdout.strip() == "re-queued: 1"
    assert tw("deliveries", "--status", "dead", config=config_dir, state=state).stdout == ""


def test_unknown_source_exit_code(tmp_path: Path):
    out = tw("poll", "nope", "--once", state=tmp_path)
    assert out.returncode == 4 and out.stderr.startswith("error: no source 'nope'; known: euronews-world")


def test_an_unknown_name_among_thousands_gets_a_guess_and_a_short_list(tmp_path: Path):
    """A desk of 5,000 sources: a typo is named with its likely meaning, and the error is a line, not 5,000 ids."""
    sources = "sources:\n" + "".join(
        f"  - {{id: farm-{i}, type: feed, url: 'http://127.0.0.1:9/f{i}.xml'}}\n" for i in range(5000)
    )
    config = tmp_path / "config"
    config.mkdir()
    (config / "sources.yaml").write_text(sources, encoding="utf-8")
    out = tw("poll", "farm-12o", "--once", config=config, state=tmp_path / "state")
    assert out.returncode == 4
    assert out.stderr.strip() == (
        "error: no source 'farm-12o'; did you mean 'farm-12'?; known: farm-0, farm-1, farm-2, farm-3, farm-4, farm-5, "
        "farm-6, farm-7, farm-8, farm-9, farm-10, farm-11, … (5000 in all)"
    )


def test_configuration_reference_is_current():
    from treatywatch.reference import reference

    committed = (Path(__file__).parent.parent / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert committed == reference(), "docs/configuration.md is stale: run `treatywatch docs > docs/configuration.md`"
    assert "| `delivery_max_attempts` | `8` | Attempts before a delivery is dead. |" in committed


def test_example_config_keys_are_documented():
    import yaml

    reference = (Path(__file__).parent.parent / "docs" / "configuration.md").read_text(encoding="utf-8")
    for file in EXAMPLE_CONFIG.glob("*.yaml"):
        data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
        for section in ("sources", "watches", "subscribers", "agreements"):
            for entry in data.get(section) or []:
                for key in entry:
                    assert f"| `{key}` |" in reference, (file.name, section, key)


def test_run_takes_its_web_host_from_the_environment(tmp_path: Path):
    """A container sets TREATYWATCH_WEB_HOST; a config folder mounted over the image's cannot hide it."""
    import os
    import signal
    import socket
    import subprocess
    import sys
    import time

    with socket.socket() as sock:
        sock.bind(("127.0.0.2", 0))
        port = sock.getsockname()[1]
    cfg = tmp_path / "c"
    cfg.mkdir()
    source = "{id: s, type: feed, url: 'http://127.0.0.1:9/x', every: 1h}"
    (cfg / "s.yaml").write_text(f"settings: {{web_port: {port}}}\nsources:\n  - {source}\n", encoding="utf-8")
    env = {**os.environ, "TREATYWATCH_WEB_HOST": "127.0.0.2"}
    log = tmp_path / "log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "treatywatch", "--config", str(cfg), "--state-dir", str(tmp_path / "st"), "run"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
        try:
            deadline = time.monotonic() + 60
            while "status page on" not in log.read_text() and time.monotonic() < deadline and proc.poll() is None:
                time.sleep(0.2)
            assert "status page on http://127.0.0.2:" in log.read_text(), log.read_text()[-500:]
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)


def test_start_up_pauses_the_cyclic_collector_and_gives_it_back(tmp_path: Path, monkeypatch):
    """The collector is off while the app is built (start-up allocates and frees almost nothing) and on again
    afterwards, also when the configuration is refused: a command must not run with it off."""
    import gc

    from click.testing import CliRunner

    import treatywatch.app
    from treatywatch.cli import cli

    seen: list[bool] = []
    compile_config = treatywatch.app.compile_config

    def spy(*args, **kwargs):
        seen.append(gc.isenabled())
        return compile_config(*args, **kwargs)

    monkeypatch.setattr(treatywatch.app, "compile_config", spy)
    try:
        ok = CliRunner().invoke(cli, ["--config", str(EXAMPLE_CONFIG), "--state-dir", str(tmp_path), "sources"], obj={})
        assert ok.exit_code == 0, ok.output
        assert seen == [False] and gc.isenabled()
        broken = tmp_path / "broken"
        broken.mkdir()
        (broken / "settings.yaml").write_text("settings: {nope: 1}\n", encoding="utf-8")
        bad = CliRunner().invoke(cli, ["--config", str(broken), "--state-dir", str(tmp_path), "sources"], obj={})
        assert bad.exit_code != 0 and seen == [False, False] and gc.isenabled()
    finally:
        gc.unfreeze()
        gc.enable()
