"""The pravo portal's dictionaries, live: `/api/DocumentTypes`, `/api/SignatoryAuthorities` and `/api/PublicBlocks`
are fetched through the fetcher at a pravo source's poll, kept in the state directory and read again a day later;
names in the configuration (a signatory: "Министерство труда и социальной защиты Российской Федерации", not in the
bundled copy) resolve through them, and list items (which carry GUIDs only) get their type's and issuer's names
from them. `check` says "did you mean" against the dictionaries kept. Offline: the portal is served on loopback at
its real paths, with the real captures of DocumentTypes and PublicBlocks (tests/data/pravo/); there is no capture
of SignatoryAuthorities, so api_signatoryauthorities_WRITTEN.json is written in the other dictionaries' shape with
the real signatory GUIDs of the captured acts."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest

from conftest import Clock, make_app, tw, write_config
from treatywatch.localserve import FixtureServer

DATA = Path(__file__).parent / "data" / "pravo"
ALL = DATA / "api_documents_all_pagesize10_2026-01-17.json"
MINTRUD = DATA / "api_documents_mintrud_pagesize10_2026-06.json"
DICTIONARIES = {
    "/api/DocumentTypes": DATA / "api_documenttypes_2026-01-19.json",
    "/api/PublicBlocks": DATA / "api_publicblocks_2026-01-19.json",
    "/api/SignatoryAuthorities": DATA / "api_signatoryauthorities_WRITTEN.json",
}
MINTRUD_ID = "2c4929b0-9323-4541-9705-76185b9e284b"
MINTRUD_NAME = "Министерство труда и социальной защиты Российской Федерации"
DICT_PATHS = set(DICTIONARIES)
JAN17 = datetime(2026, 1, 17, 9, 0, tzinfo=UTC)


class Portal:
    """The portal on loopback: its dictionaries (unless `down`) and /api/Documents, by signatory."""

    def __init__(self, http: FixtureServer) -> None:
        self.http, self.down = http, False
        for path, file in DICTIONARIES.items():
            http.routes[path] = lambda h, file=file: (
                (503, {}, b"") if self.down else (200, {"Content-Type": "application/json"}, file.read_bytes())
            )
        http.routes["/api/Documents"] = self.documents

    def documents(self, handler):
        query = dict(parse_qsl(urlsplit(handler.path).query))
        body = MINTRUD if query.get("SignatoryAuthorityId") == MINTRUD_ID else ALL
        return 200, {"Content-Type": "application/json; charset=utf-8"}, body.read_bytes()

    def asked(self) -> list[str]:
        paths = [urlsplit(p).path for p, _ in self.http.requests]
        self.http.requests.clear()
        return paths


def pravo_config(config_dir: Path, base: str, signatory: str) -> None:
    write_config(
        config_dir,
        f"""sources:
  - {{id: pravo-ministry, type: pravo, url: "{base}", block: federal_authorities, page_size: 10, max_pages: 1,
      signatory: "{signatory}", ignore_older_than: 0}}
  - {{id: pravo-all, type: pravo, url: "{base}", page_size: 10, max_pages: 1, ignore_older_than: 0}}
  - {{id: pravo-government, type: feed, url: "http://127.0.0.1:9/x", enabled: false}}
  - {{id: pravo-government-rss, type: feed, url: "http://127.0.0.1:9/y", enabled: false}}
  - {{id: government-docs, type: feed, url: "http://127.0.0.1:9/z", enabled: false}}
""",
        "sources.yaml",
    )


@pytest.fixture
def portal():
    with FixtureServer() as http:
        yield Portal(http)


def portal_app(portal: Portal, config_dir: Path, tmp_path: Path, clock: Clock, now=JAN17, signatory=MINTRUD_NAME):
    """The app with the two pravo sources on the loopback portal, at `now`, its state in tmp_path/state."""
    clock.now = now
    pravo_config(config_dir, portal.http.base, signatory)
    return make_app(config_dir, tmp_path / "state", clock)


def test_a_signatory_by_name_resolves_through_the_portals_dictionary(
    portal: Portal, config_dir: Path, tmp_path: Path, clock: Clock
):
    app = portal_app(portal, config_dir, tmp_path, clock, datetime(2026, 6, 10, 9, 0, tzinfo=UTC))
    try:
        r = app.runner.poll("pravo-ministry")
        assert r.error is None and len(r.items) == 2
        (documents,) = [p for p, _ in portal.http.requests if p.startswith("/api/Documents")]
        assert dict(parse_qsl(urlsplit(documents).query))["SignatoryAuthorityId"] == MINTRUD_ID
        asked = portal.asked()
        assert set(asked[:3]) == DICT_PATHS and asked[3:] == ["/api/Documents"]
    finally:
        app.close()
    assert all(i.act is not None and i.act.issuer == MINTRUD_NAME for i in r.items)


def test_issuers_and_types_by_their_guids_and_the_dictionaries_kept_a_day(
    portal: Portal, config_dir: Path, tmp_path: Path, clock: Clock
):
    app = portal_app(portal, config_dir, tmp_path, clock)
    try:
        r = app.runner.poll("pravo-all")
        asked = portal.asked()
        assert set(asked[:3]) == DICT_PATHS and asked[3:] == ["/api/Documents"]
        issuers = {i.key: i.act.issuer for i in r.items if i.act is not None}
        # every issuer by its GUID in the dictionary (the written one names them as the titles do)
        assert issuers["2800202601170004"] == "Губернатор Амурской области"
        assert issuers["2801202601170001"] == "Министерство социальной защиты населения Амурской области"
        assert issuers["0001202601170001"] == "Правительство Российской Федерации"
        # the other source and the next polls of the day read the dictionaries kept, not the portal
        app.runner.poll("pravo-ministry")
        clock.advance(hours=23)
        app.runner.poll("pravo-all")
        assert portal.asked() == ["/api/Documents", "/api/Documents"]
        clock.advance(hours=2)
        app.runner.poll("pravo-all")
        assert set(portal.asked()) == DICT_PATHS | {"/api/Documents"}
    finally:
        app.close()
    kept = list((tmp_path / "state" / "reference").glob("*.json"))
    assert len(kept) == 3 and all(json.loads(k.read_text())["url"].startswith(portal.http.base) for k in kept)
    # a restart on the same state directory reads the kept copy: no dictionary request within the day
    clock.advance(hours=1)
    app = make_app(config_dir, tmp_path / "state", clock)
    try:
        assert app.runner.poll("pravo-ministry").error is None
        assert portal.asked() == ["/api/Documents"]
    finally:
        app.close()


def test_a_portal_without_its_dictionaries_falls_back_and_says_so(
    portal: Portal, config_dir: Path, tmp_path: Path, clock: Clock, caplog
):
    """The dictionaries do not answer: the bundled copy serves (the acts still poll, types and issuers named), a
    signatory only the portal's dictionary knows is the source's error, and the next try is an hour later."""
    portal.down = True
    app = portal_app(portal, config_dir, tmp_path, clock)
    try:
        everything = app.runner.poll("pravo-all")
        assert everything.error is None and len(everything.items) == 10
        first = everything.items[0]
        assert first.act is not None and first.act.issuer == "Правительство Российской Федерации"
        assert "the bundled copy serves meanwhile" in caplog.text
        ministry = app.runner.poll("pravo-ministry")
        assert ministry.error == (
            f"signatory '{MINTRUD_NAME}' is not in the bundled dictionary (the portal's is not read yet)"
        )
        assert app.store.source_state("pravo-ministry").last_error == ministry.error
        portal.asked()
        clock.advance(minutes=30)
        app.runner.poll("pravo-all")
        assert portal.asked() == ["/api/Documents"]  # not asked again within the hour
        portal.down = False
        clock.advance(minutes=31)
        assert app.runner.poll("pravo-ministry").error is None
    finally:
        app.close()


def test_a_misspelt_signatory_did_you_mean_at_the_poll_and_in_check(
    portal: Portal, config_dir: Path, tmp_path: Path, clock: Clock
):
    misspelt = "Министерство труда и соцзащиты Российской Федерации"
    app = portal_app(portal, config_dir, tmp_path, clock, signatory=misspelt)
    try:
        r = app.runner.poll("pravo-ministry")
    finally:
        app.close()
    assert r.error == (
        "signatory 'Министерство труда и соцзащиты Российской Федерации' is not in the portal's dictionary; "
        f"did you mean '{MINTRUD_NAME}'?"
    )
    # check, offline, against the dictionaries the poll kept in the state directory
    out = tw("check", config=config_dir, state=tmp_path / "state")
    assert out.returncode == 2, out.stdout
    assert "sources.yaml:2: sources pravo-ministry: signatory 'Министерство труда и соцзащиты" in out.stderr
    assert f"did you mean '{MINTRUD_NAME}'?" in out.stderr
    pravo_config(config_dir, portal.http.base, MINTRUD_NAME)
    assert tw("check", config=config_dir, state=tmp_path / "state").returncode == 0


def test_kept_dictionaries_are_refetched_when_unreadable(portal: Portal, config_dir: Path, tmp_path: Path, clock):
    app = portal_app(portal, config_dir, tmp_path, clock)
    try:
        app.runner.poll("pravo-all")
    finally:
        app.close()
    for kept in (tmp_path / "state" / "reference").glob("*.json"):
        kept.write_text("{not json", encoding="utf-8")
    portal.asked()
    app = make_app(config_dir, tmp_path / "state", clock)
    try:
        assert app.runner.poll("pravo-ministry").error is None
        assert set(portal.asked()) == DICT_PATHS | {"/api/Documents"}
    finally:
        app.close()
