"""The documents' store on both engines (a real SQLite file, a real PostgreSQL server): a URL queued once, claims so
two daemons never read the same document, retries and the final note, the content-hash cache, what a document's
commit does to an alert (it gains agreements, its report's version rises, one follow-up per channel, the same text
never twice), and the outbox's view of it (a channel that had the report at an older version has not had it)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from treatywatch.alerts import Report, plan_alerts
from treatywatch.documents import DocumentText, Page
from treatywatch.items import ActFields, make_item
from treatywatch.matching.explain import AgreementHit, Match
from treatywatch.notify.routing import DeliverySpec
from treatywatch.store import SourceState, SqlStore, open_store
from treatywatch.store.documents import BodyNews, BodyOutcome, DocumentWant
from treatywatch.store.models import TextName

NOW = datetime(2026, 12, 4, 9, tzinfo=UTC)
PDF = "http://portal.test/file/pdf?eoNumber=1"
CHANNEL = "c" * 64


@pytest.fixture
def store(database: str, tmp_path: Path) -> Iterator[SqlStore]:
    s = open_store(database, tmp_path / "state", lease=30.0)
    yield s
    s.close()


def act_item(key: str = "a1"):
    return make_item("s", title="О прекращении действия ряда международных договоров", guid=key,
                     act=ActFields(number="1-р", document_url=PDF))  # fmt: skip


def spec(kind: str) -> DeliverySpec:
    return DeliverySpec("desk", CHANNEL, "json://x", "instant", kind, NOW)


def alerted(store: SqlStore) -> tuple[int, int]:
    """An act alerted on its title (no agreement), its document queued in the same commit: (item id, alert id)."""
    item = act_item()
    report = Report(item, (Match("portal-decree", "Decree", "high", ()),))
    plan = plan_alerts([report], [])
    store.commit_poll(SourceState("s"), [(item, None)], [report], plan, [[spec("alert")]], [], NOW,
                      documents=[DocumentWant(item, PDF)])  # fmt: skip
    item_id = store.known_items("s", ["a1"])["a1"].id
    (alert,) = store.recent_alerts(5)
    return item_id, alert.id


def text(sha: str = "ab" * 32) -> DocumentText:
    return DocumentText(sha, "ocr", (Page(1, "ПРАВИТЕЛЬСТВО", "ocr"), Page(2, "1) Соглашение … Канады", "ocr")), 2)


def test_queue_claim_retry_and_note(store: SqlStore, database: str, tmp_path: Path):
    item_id, _ = alerted(store)
    # another item listing the same act queues nothing new: one document, serving both
    twin = act_item("a2")
    store.commit_poll(SourceState("s"), [(twin, None)], [], plan_alerts([], []), [], [], NOW,
                      documents=[DocumentWant(twin, PDF)])  # fmt: skip
    (doc,) = store.documents()
    assert doc.state == "queued" and doc.attempts == 0
    assert [d.item_id for d in store.document_items(PDF)] == [item_id, store.known_items("s", ["a2"])["a2"].id]
    other = open_store(database, tmp_path / "state", lease=30.0)
    try:
        (work,) = store.claim_documents(NOW, 4)
        assert work.url == PDF and other.claim_documents(NOW, 4) == []  # claimed: the other daemon skips it
        store.document_failed(PDF, "HTTP 503 from portal.test", NOW + timedelta(minutes=5), NOW)
        assert other.claim_documents(NOW, 4) == []  # not due before its retry time
        (again,) = other.claim_documents(NOW + timedelta(minutes=6), 4)
        assert again.attempts == 1
        other.document_failed(PDF, "document unreadable: HTTP 404 (after 2 attempts)", None, NOW)
    finally:
        other.close()
    (doc,) = store.item_documents(item_id)
    assert doc.state == "unreadable" and doc.note.startswith("document unreadable: HTTP 404")
    assert store.claim_documents(NOW + timedelta(days=1), 4) == []
    assert store.document_counts() == {"unreadable": 1}


def test_a_document_gains_the_alert_its_agreements_once(store: SqlStore):
    item_id, alert_id = alerted(store)
    (due,) = store.due_deliveries(NOW)
    assert store.claim_deliveries([due.id], NOW) == {due.id}
    store.mark_sent({due.id: {item_id: 0}}, NOW)
    assert store.carried_items(alert_id, "desk", CHANNEL) == {item_id}

    (work,) = store.claim_documents(NOW, 4)
    assert store.read_by_hash("ab" * 32) is None
    stored = store.get_item(item_id)
    canada = AgreementHit("ru-ca", "USSR–Canada visits", 2.0, ("body p. 2, l. 1",), subject=True)
    match = Match("portal-decree", "Decree", "high", (), (canada,))
    names = (TextName("ru-ca", "USSR–Canada visits", ("body p. 2, l. 1",)),)
    outcome = BodyOutcome(stored.item, item_id, stored.revision, (match,),
                          (BodyNews(alert_id, names, frozenset({"portal-decree"}), [spec("followup")]),))  # fmt: skip
    done = store.commit_document(work.url, text(), NOW, NOW, [outcome])
    assert done.followups == 1 and done.opened == 0
    assert store.read_by_hash("ab" * 32) is not None  # the same bytes under another URL are not read again
    assert store.item_body(item_id) == "ПРАВИТЕЛЬСТВО\f1) Соглашение … Канады"
    view = store.alert(alert_id)
    assert view.agreements == ("ru-ca",)
    (report,) = view.reports
    assert report.version == 1 and report.text_names == names and report.match.agreements[0].id == "ru-ca"
    # the channel had the report at version 0: it is news again, and one follow-up is pending for it
    assert store.carried_items(alert_id, "desk", CHANNEL) == frozenset()
    (followup,) = store.due_deliveries(NOW)
    assert followup.kind == "followup"
    assert store.claim_deliveries([followup.id], NOW) == {followup.id}
    store.mark_sent({followup.id: {item_id: 1}}, NOW)
    assert store.carried_items(alert_id, "desk", CHANNEL) == {item_id}
    assert store.document_items(PDF)[0].matched_sha256 == "ab" * 32


def test_what_a_message_says_of_the_acts_text(store: SqlStore):
    """The report's text names in the alert's follow-up (its subject says so) and in a digest, in every format."""
    from treatywatch.notify.render import DigestEntry, Renderer

    item_id, alert_id = alerted(store)
    stored = store.get_item(item_id)
    hit = AgreementHit("ru-ca", "USSR–Canada visits", 2.0, ("body p. 2, line 1: …",), subject=True)
    names = (TextName("ru-ca", "USSR–Canada visits", ("body p. 2, line 1: …",)),)
    news = BodyNews(alert_id, names, frozenset({"portal-decree"}), [])
    outcome = BodyOutcome(
        stored.item, item_id, stored.revision, (Match("portal-decree", "D", "high", (), (hit,)),), (news,)
    )
    store.commit_document(PDF, text(), NOW, NOW, [outcome])
    view = store.alert(alert_id)
    renderer = Renderer()
    for fmt in ("text", "markdown", "html"):
        followup = renderer.alert(view, fmt, frozenset())
        assert followup.title.startswith("[HIGH] Act's text read: ")
        said = followup.body.replace("\\", "")  # Markdown escapes the dots
        assert "USSR–Canada visits" in said and "body p. 2, line 1" in said
        first = renderer.alert(view, fmt)
        assert "Act's text read" not in first.title and "Also reported" not in first.title
        digest = renderer.digest([DigestEntry(view, view.reports)], fmt)
        assert "The act's text names" in digest.body
        assert "USSR–Canada visits" in digest.body


def test_documents_move_with_migrate(tmp_path: Path, pg_url: str):
    """`treatywatch migrate` copies the documents and which items they serve, with their text, to PostgreSQL."""
    from treatywatch.store.migrate import copy_database

    source = open_store("sqlite:///" + str(tmp_path / "tw.db"), tmp_path)
    target = open_store(pg_url, tmp_path)
    try:
        item_id, _ = alerted(source)
        (work,) = source.claim_documents(NOW, 1)  # a claim is the engine's own: not copied
        source.commit_document(work.url, text(), NOW, NOW, [])
        counts = copy_database(source, target)
        assert counts["documents"] == 1 and counts["document_items"] == 1
        (doc,) = target.item_documents(item_id)
        assert doc.state == "ocr" and doc.body == source.item_body(item_id) and target.read_by_hash("ab" * 32)
    finally:
        source.close()
        target.close()


def test_a_killed_readers_claim_is_void_at_once(tmp_path: Path):
    """A process of this machine killed while reading a document (its claim lasts minutes) does not hold it: the
    next claim takes it at once; a clean stop hands claims back."""
    import socket

    from treatywatch.store import Store

    a, b = Store(tmp_path / "tw.db"), Store(tmp_path / "tw.db")
    try:
        alerted(a)
        (work,) = a.claim_documents(NOW, 1, hold=600)
        assert b.claim_documents(NOW, 1) == []  # a lives and holds it
        with a.transaction() as tx:  # as if the holder had been a process that is gone now
            tx.execute("UPDATE documents SET claimed_by = ?", (f"{socket.gethostname()}:999999999:dead",))
        assert [w.url for w in b.claim_documents(NOW, 1)] == [work.url]
        b.close()
        assert [w.url for w in a.claim_documents(NOW, 1)] == [work.url]  # b stopped cleanly: its claim went back
    finally:
        a.close()


def test_metrics_count_documents_by_state(store: SqlStore):
    """/metrics: a gauge of documents by state, so a queue that grows (OCR falling behind) can page someone."""
    from treatywatch.config.models import Config
    from treatywatch.metrics import Metrics, StateSource

    alerted(store)
    metrics = Metrics()
    metrics.watch_state(StateSource(lambda: Config(), store))
    scraped = metrics.exposition().decode()
    assert 'treatywatch_documents{state="queued"} 1.0' in scraped
    assert 'treatywatch_documents{state="unreadable"} 0.0' in scraped


def test_a_stored_item_comes_back_with_its_body(store: SqlStore):
    """get_item and items_since (what `match --item`, back-tests, evaluations and the console's impact match again)
    give an item the text of its documents, so it fires again as it did when its document was read."""
    item_id, _ = alerted(store)
    assert store.get_item(item_id).item.body == ""  # queued, not read yet
    (work,) = store.claim_documents(NOW, 1)
    store.commit_document(work.url, text(), NOW, NOW, [])
    assert store.get_item(item_id).item.body == "ПРАВИТЕЛЬСТВО\f1) Соглашение … Канады"
    (since,) = list(store.items_since(NOW - timedelta(days=1)))
    assert since.id == item_id and since.item.body == store.get_item(item_id).item.body
