"""The documents' SQL: the queue of documents behind items (an act's PDF, the article behind a headline), claims so
that two daemons never read the same one, the read text by URL with a content-hash cache (the same bytes are never
read twice), and what each item was last matched with. A mixin of SqlStore, on both engines; PostgreSQL's claim
clock and SKIP LOCKED come from the engine as for deliveries."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from ..alerts import AlertPlan, NewAlert, Report
from ..documents.models import DocumentText, Page
from ..items import Item
from ..matching import Match
from ..matching.explain import match_to_dict
from ..notify.routing import DeliverySpec
from .base import Row, Tx, dt, dt_req, ts
from .deliveries import DeliveryStore
from .models import TextName

log = logging.getLogger("treatywatch.store")
DocumentKind = str  # "document" (an act's PDF) | "article" (the page behind a headline)
QUEUED = "queued"


@dataclass(frozen=True)
class StoredDocument:
    """A document as the store keeps it: queued (not read yet, `attempts` failed fetches so far), or read (`text`,
    whose state is read, ocr or unreadable with its note)."""

    url: str
    kind: DocumentKind
    state: str  # queued | read | ocr | unreadable
    text: DocumentText | None
    attempts: int
    next_try: datetime | None
    queued_at: datetime
    fetched_at: datetime | None
    read_at: datetime | None
    note: str = ""

    @property
    def body(self) -> str:
        return self.text.body() if self.text is not None else ""


@dataclass(frozen=True)
class DocumentWant:
    """A document a poll found behind an item: queued with the poll's commit, unless its URL is known already.
    `quiet`: the item came in a baseline poll, so what its body finds opens nothing either."""

    item: Item
    url: str
    kind: DocumentKind = "document"
    quiet: bool = False


@dataclass(frozen=True)
class DocumentWork:
    """A queued document this process claimed: fetch it, read it, settle it."""

    url: str
    kind: DocumentKind
    attempts: int


@dataclass(frozen=True)
class DocumentItem:
    """An item a document belongs to, and the content hash it was last matched with (None: never with a body)."""

    item_id: int
    quiet: bool
    matched_sha256: str | None


def pages_json(text: DocumentText) -> str:
    return json.dumps(
        [{"number": p.number, "text": p.text, "method": p.method, "note": p.note} for p in text.pages],
        ensure_ascii=False,
    )


def _text(r: Row) -> DocumentText | None:
    if r["state"] == QUEUED:
        return None
    pages = tuple(
        Page(int(p["number"]), str(p["text"]), p.get("method", "none"), str(p.get("note", "")))
        for p in json.loads(r["pages"] or "[]")
    )
    return DocumentText(
        sha256=r["sha256"] or "",
        state=r["state"],
        pages=pages,
        page_count=int(r["page_count"]),
        note=r["note"] or "",
        seconds=float(r["seconds"] or 0.0),
    )


def _document(r: Row) -> StoredDocument:
    return StoredDocument(
        r["url"],
        r["kind"],
        r["state"],
        _text(r),
        int(r["attempts"]),
        dt(r["next_try"]),
        dt_req(r["queued_at"]),
        dt(r["fetched_at"]),
        dt(r["read_at"]),
        r["note"] or "",
    )


@dataclass(frozen=True)
class BodyNews:
    """What reading a document changed for an item already in an alert: the agreements its text names that the alert
    lacked (the alert gains them, and the report is news again: a follow-up), and whom to tell."""

    alert_id: int
    names: tuple[TextName, ...]
    watches: frozenset[str]
    deliveries: list[DeliverySpec]


@dataclass(frozen=True)
class BodyOutcome:
    """An item matched again with its document's text (flow.py decides; commit_document stores it all at once).

    `matches`: what fired with the body, stored on the item's revision (the console and the next follow-up explain
    with them). `news`: alerts holding the item that gain agreements. `plan`: for an item in no alert, what its
    body opens or joins, with the deliveries for each; `quiet`: matches kept without an alert (baseline, too old)."""

    item: Item
    item_id: int
    revision: int
    matches: tuple[Match, ...] = ()
    news: tuple[BodyNews, ...] = ()
    plan: AlertPlan | None = None
    for_new: list[list[DeliverySpec]] = field(default_factory=list)
    for_attach: list[list[DeliverySpec]] = field(default_factory=list)
    quiet: bool = False


@dataclass
class DocumentCommit:
    """What a document's commit did: alerts opened, follow-ups queued (news to alerts and reports joining one)."""

    opened: int = 0
    followups: int = 0


class DocumentStore(DeliveryStore):
    if TYPE_CHECKING:  # SqlStore's and DeskStore's, used inside one transaction with a poll's own code

        def _store_reports(
            self,
            conn: Tx,
            ids: Mapping[tuple[str, str], tuple[int, int]],
            plan: AlertPlan,
            deliveries_for_new: list[list[DeliverySpec]],
            deliveries_for_attach: list[list[DeliverySpec]],
            now: datetime,
            quiet: list[Report],
        ) -> int: ...

        def _before_new_alerts(self, conn: Tx, new: list[NewAlert], now: datetime) -> None: ...

        def _queue(self, conn: Tx, alert_id: int, specs: list[DeliverySpec], now: datetime) -> None: ...

        def muted_reason(
            self,
            conn: Tx,
            now: datetime,
            alert_id: int | None,
            watches: Iterable[str],
            agreements: Iterable[str],
            sources: Iterable[str],
        ) -> str | None: ...

    def item_alerts(self, item_id: int) -> dict[int, frozenset[str]]:
        """The alerts holding this item, with the agreements each is about."""
        rows = self._rows(
            "SELECT a.id, a.agreements FROM alert_reports ar JOIN alerts a ON a.id = ar.alert_id WHERE ar.item_id = ?"
            " ORDER BY a.id",
            [item_id],
        )
        return {int(r["id"]): frozenset(json.loads(r["agreements"])) for r in rows}

    def commit_document(
        self, url: str, text: DocumentText, fetched_at: datetime, now: datetime, outcomes: list[BodyOutcome]
    ) -> DocumentCommit:
        """The document's text and everything it changed, in one transaction: each item's matches with the body,
        the agreements alerts gain (their reports are news again: a follow-up per channel), the alerts a body opens.
        Each item is marked matched with this content hash, so the same text never acts twice."""
        done = DocumentCommit()
        with self.transaction() as conn:
            plans = [o.plan for o in outcomes if o.plan is not None]
            if any(p.new for p in plans):
                self._before_new_alerts(conn, [n for p in plans for n in p.new], now)
            self._save_document(conn, url, text, fetched_at, now)
            for o in outcomes:
                if o.plan is not None:
                    ids = {(o.item.source_id, o.item.key): (o.item_id, o.revision)}
                    quiet = [Report(o.item, o.matches)] if o.quiet and o.matches else []
                    done.followups += self._store_reports(conn, ids, o.plan, o.for_new, o.for_attach, now, quiet)
                    done.opened += len(o.plan.new)
                else:
                    home = o.news[0].alert_id if o.news else None
                    for m in o.matches:
                        self._upsert_match(conn, o.item_id, o.revision, m, home, now)
                for news in o.news:
                    done.followups += self._body_news(conn, o.item_id, o.item.source_id, news, now)
                conn.execute(
                    "UPDATE document_items SET matched_sha256 = ? WHERE url = ? AND item_id = ?",
                    (text.sha256, url, o.item_id),
                )
        return done

    def _upsert_match(
        self, conn: Tx, item_id: int, revision: int, m: Match, alert_id: int | None, now: datetime
    ) -> None:
        """The revision's match as the body explains it; a watch the body alone fired joins the item's alert."""
        conn.execute(
            "INSERT INTO matches (item_id, revision, watch_id, severity, explanation, alert_id, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (item_id, revision, watch_id) DO UPDATE SET"
            " explanation = excluded.explanation, alert_id = COALESCE(matches.alert_id, excluded.alert_id)",
            (item_id, revision, m.watch_id, m.severity, json.dumps(match_to_dict(m), ensure_ascii=False), alert_id,
             ts(now)),
        )  # fmt: skip

    def _body_news(self, conn: Tx, item_id: int, source_id: str, news: BodyNews, now: datetime) -> int:
        """The alert gains the agreements the act's text names; its report's version goes up (news to every channel
        again) and a follow-up is queued per channel unless muted. Returns 1 when one was queued."""
        row = conn.execute("SELECT agreements FROM alerts WHERE id = ?", (news.alert_id,)).fetchone()
        agreements = sorted(set(json.loads(row["agreements"])) | {n.id for n in news.names})
        conn.execute(
            "UPDATE alerts SET agreements = ?, updated_at = ? WHERE id = ?",
            (json.dumps(agreements), ts(now), news.alert_id),
        )
        conn.execute(
            "UPDATE alert_reports SET version = version + 1, text_names = ? WHERE alert_id = ? AND item_id = ?",
            (text_names_json(news.names), news.alert_id, item_id),
        )
        ids = {n.id for n in news.names}
        muted = self.muted_reason(conn, now, news.alert_id, news.watches, ids, {source_id})
        if muted:
            log.info("alert %d: no follow-up for the act's text queued: %s", news.alert_id, muted)
            return 0
        self._queue(conn, news.alert_id, news.deliveries, now)
        return 1 if news.deliveries else 0

    def _queue_documents(self, conn: Tx, wanted: Iterable[tuple[int, DocumentWant]], now: datetime) -> None:
        """Inside a poll's transaction: queue each document (for the item of that id) whose URL is not known yet, and
        tie the item to it. A URL already queued or read is never queued again: a re-poll reads nothing twice."""
        for item_id, want in wanted:
            url, kind, quiet = want.url, want.kind, want.quiet
            conn.execute(
                "INSERT INTO documents (url, kind, state, queued_at, next_try) VALUES (?, ?, 'queued', ?, ?)"
                " ON CONFLICT (url) DO NOTHING",
                (url, kind, ts(now), ts(now)),
            )
            conn.execute(
                "INSERT INTO document_items (url, item_id, quiet) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                (url, item_id, int(quiet)),
            )

    def claim_documents(self, now: datetime, limit: int, hold: float | None = None) -> list[DocumentWork]:
        """Up to `limit` queued documents that are due, claimed for this process for `hold` seconds (default: the
        lease; reading one may take minutes): another daemon (or `poll --once` beside the daemon) skips them until
        the claim is settled or expires."""
        self._void_dead_claims("documents")  # a process killed while reading: its documents are not left waiting
        until, until_params = self._claim_until(now, hold)
        expired, now_params = self._claim_now(now)
        with self.transaction() as conn:
            rows = conn.execute(
                f"UPDATE documents SET claimed_by = ?, claim_expires = {until} WHERE url IN (SELECT c.url FROM"
                " documents c WHERE c.state = 'queued' AND (c.next_try IS NULL OR c.next_try <= ?) AND"
                f" (c.claimed_by IS NULL OR c.claimed_by = ? OR c.claim_expires < {expired})"
                f" ORDER BY c.queued_at, c.url LIMIT ?{self._skip_locked}) RETURNING url, kind, attempts",
                [self.owner, *until_params, ts(now), self.owner, *now_params, limit],
            ).fetchall()
        return [DocumentWork(r["url"], r["kind"], int(r["attempts"])) for r in rows]

    def document_failed(self, url: str, error: str, next_try: datetime | None, now: datetime) -> None:
        """A fetch failed: tried again at `next_try`, or with none, the document is unreadable for good."""
        with self.transaction() as conn:
            if next_try is not None:
                conn.execute(
                    "UPDATE documents SET attempts = attempts + 1, next_try = ?, note = ?, claimed_by = NULL,"
                    " claim_expires = NULL WHERE url = ? AND state = 'queued'",
                    (ts(next_try), error[:1000], url),
                )
            else:
                conn.execute(
                    "UPDATE documents SET attempts = attempts + 1, state = 'unreadable', next_try = NULL, note = ?,"
                    " read_at = ?, claimed_by = NULL, claim_expires = NULL WHERE url = ? AND state = 'queued'",
                    (error[:1000], ts(now), url),
                )

    def read_by_hash(self, sha256: str) -> DocumentText | None:
        """A document with these bytes read before (under any URL): its text, so the same bytes are never read
        twice. Only a reading that gave text counts: an unreadable one may read once Tesseract is installed or a
        bound is raised (`treatywatch documents --retry`), and reading it again costs a bounded process at most."""
        rows = self._rows("SELECT * FROM documents WHERE sha256 = ? AND state IN ('read', 'ocr') LIMIT 1", [sha256])
        return _text(rows[0]) if rows else None

    def retry_documents(self, urls: list[str] | None, now: datetime) -> int:
        """Queue unreadable documents again (all, or these URLs) with a fresh count of attempts: after installing
        Tesseract's languages, raising a bound, or when a portal put up a PDF it had not. Returns how many."""
        sql = (
            "UPDATE documents SET state = 'queued', attempts = 0, next_try = ?, note = '', claimed_by = NULL,"
            " claim_expires = NULL WHERE state = 'unreadable'"
        )
        params: list[object] = [ts(now)]
        if urls:
            sql += f" AND url IN ({', '.join('?' * len(urls))})"
            params += urls
        with self.transaction() as conn:
            return int(conn.execute(sql, params).rowcount)

    def _save_document(self, conn: Tx, url: str, text: DocumentText, fetched_at: datetime, now: datetime) -> None:
        conn.execute(
            "UPDATE documents SET state = ?, sha256 = ?, pages = ?, page_count = ?, note = ?, seconds = ?,"
            " attempts = attempts + 1, next_try = NULL, fetched_at = ?, read_at = ?, claimed_by = NULL,"
            " claim_expires = NULL WHERE url = ?",
            (
                text.state,
                text.sha256,
                pages_json(text),
                text.page_count,
                text.note,
                text.seconds,
                ts(fetched_at),
                ts(now),
                url,
            ),
        )

    def document_items(self, url: str) -> list[DocumentItem]:
        rows = self._rows("SELECT * FROM document_items WHERE url = ? ORDER BY item_id", [url])
        return [DocumentItem(int(r["item_id"]), bool(r["quiet"]), r["matched_sha256"]) for r in rows]

    def document(self, url: str) -> StoredDocument | None:
        rows = self._rows("SELECT * FROM documents WHERE url = ?", [url])
        return _document(rows[0]) if rows else None

    def item_documents(self, item_id: int) -> list[StoredDocument]:
        """The documents of one item (its act's PDF, its article), for its page and the JSON API."""
        rows = self._rows(
            "SELECT d.* FROM documents d JOIN document_items di ON di.url = d.url WHERE di.item_id = ?"
            " ORDER BY d.kind, d.url",
            [item_id],
        )
        return [_document(r) for r in rows]

    def item_body(self, item_id: int) -> str:
        """The text of the item's documents that were read, page texts joined by form feeds: its body field."""
        return self.item_bodies([item_id]).get(item_id, "")

    def item_bodies(self, item_ids: list[int]) -> dict[int, str]:
        """item_body of many items in one query (a back-test's batch); items without a read document are left out."""
        if not item_ids:
            return {}
        rows = self._rows(
            "SELECT di.item_id, d.* FROM document_items di JOIN documents d ON d.url = di.url WHERE di.item_id IN"
            f" ({', '.join('?' * len(item_ids))}) AND d.state <> 'queued' ORDER BY di.item_id, d.kind, d.url",
            item_ids,
        )
        texts: dict[int, list[str]] = {}
        for r in rows:
            text = _text(r)
            if text is not None and text.body():
                texts.setdefault(int(r["item_id"]), []).append(text.body())
        return {item_id: "\f".join(parts) for item_id, parts in texts.items()}

    def documents(self, state: str | None = None, limit: int = 100, offset: int = 0) -> list[StoredDocument]:
        """Newest first; `state` one of queued, read, ocr, unreadable."""
        sql, params = "SELECT * FROM documents", list[object]()
        if state:
            sql += " WHERE state = ?"
            params.append(state)
        rows = self._rows(sql + " ORDER BY queued_at DESC, url LIMIT ? OFFSET ?", [*params, limit, offset])
        return [_document(r) for r in rows]

    def document_counts(self) -> dict[str, int]:
        rows = self._rows("SELECT state, count(*) AS n FROM documents GROUP BY state")
        return {r["state"]: int(r["n"]) for r in rows}

    def release_documents(self) -> None:
        """A clean stop: this process's claims on documents go back at once."""
        with self.transaction() as conn:
            conn.execute(
                "UPDATE documents SET claimed_by = NULL, claim_expires = NULL WHERE claimed_by = ?", (self.owner,)
            )


def text_names(raw: str | None) -> tuple[TextName, ...]:
    """alert_reports.text_names (JSON) as values."""
    return tuple(TextName(n["id"], n["title"], tuple(n.get("reasons", ()))) for n in json.loads(raw or "[]"))


def text_names_json(names: Iterable[TextName]) -> str:
    return json.dumps([{"id": n.id, "title": n.title, "reasons": list(n.reasons)} for n in names], ensure_ascii=False)
