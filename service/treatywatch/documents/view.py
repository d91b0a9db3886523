"""A stored document as people and scripts see it: one line for the CLI, JSON for the API, a state label for the
console. The same words everywhere: queued, read, OCR, unreadable (with the note)."""

from __future__ import annotations

from typing import Any

from ..store.documents import StoredDocument

STATE_LABELS = {"queued": "queued", "read": "read", "ocr": "read by OCR", "unreadable": "unreadable"}


def state_label(doc: StoredDocument) -> str:
    """`queued (2 failed fetches: HTTP 503 …)`, `read by OCR`, `unreadable: document unreadable: encrypted PDF`."""
    label = STATE_LABELS.get(doc.state, doc.state)
    if doc.state == "queued" and doc.attempts:
        return f"{label} ({doc.attempts} failed fetch{'es' if doc.attempts > 1 else ''}: {doc.note})"
    if doc.state == "unreadable":
        return f"{label}: {doc.note or (doc.text.note if doc.text else '')}"
    return label


def page_link(url: str, number: int) -> str:
    """A link to one page of a PDF (viewers honour #page=N); an article's page is the page itself."""
    return f"{url}#page={number}"


def document_line(doc: StoredDocument) -> str:
    """One line for `treatywatch documents`: state, kind, pages, seconds, URL."""
    parts = [state_label(doc), doc.kind]
    if doc.text is not None and doc.text.page_count:
        parts.append(f"{len(doc.text.pages)}/{doc.text.page_count} pages")
        if doc.text.note and doc.state != "unreadable":
            parts.append(doc.text.note)
    if doc.text is not None and doc.text.seconds:
        parts.append(f"{doc.text.seconds:.1f} s")
    return " · ".join(parts) + f"\n    {doc.url}"


def document_json(doc: StoredDocument, with_text: bool = True) -> dict[str, Any]:
    """The API's and the CLI's form: ISO times in UTC, pages with their number, method and text."""
    text = doc.text
    out: dict[str, Any] = {
        "url": doc.url,
        "kind": doc.kind,
        "state": doc.state,
        "label": state_label(doc),
        "note": doc.note or (text.note if text else ""),
        "sha256": text.sha256 if text else None,
        "page_count": text.page_count if text else None,
        "seconds": text.seconds if text else None,
        "attempts": doc.attempts,
        "queued_at": doc.queued_at.isoformat(),
        "next_try": doc.next_try.isoformat() if doc.next_try and doc.state == "queued" else None,
        "fetched_at": doc.fetched_at.isoformat() if doc.fetched_at else None,
        "read_at": doc.read_at.isoformat() if doc.read_at else None,
    }
    if with_text:
        out["pages"] = [
            {
                "number": p.number,
                "method": p.method,
                "text": p.text,
                "note": p.note,
                "link": page_link(doc.url, p.number),
            }
            for p in (text.pages if text else ())
        ]
    return out
