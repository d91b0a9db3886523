"""`treatywatch documents`: the documents behind items (acts' PDFs, articles), queued, read, OCR'd or unreadable, and
`--read` to fetch and read what is due now (the daemon does it every settings.documents_every; `poll --once` does it
after its polls). Registered on the `cli` group by cli.py; errors become exit codes there (`_errors`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from .cli import JSON_HELP, _app, _emit_json, _errors, cli

if TYPE_CHECKING:
    from .app import App

STATES = ("queued", "read", "ocr", "unreadable")


def read_due_documents(app: App, echo: bool = True) -> None:
    """Fetch, read and match again every due document; one line of what it did."""
    from .documents.flow import DocumentJob

    stats = DocumentJob(app.runner).run_all()
    if echo and stats.urls:
        click.echo(
            f"documents: {stats.read} read, {stats.cached} from the cache, {stats.unreadable} unreadable, "
            f"{stats.failed} to retry; {stats.opened} alerts opened, {stats.followups} follow-ups"
        )


@cli.command()
@click.option("--state", type=click.Choice(STATES), help="Only documents in this state.")
@click.option("--limit", default=50, show_default=True)
@click.option(
    "--retry",
    "retry",
    is_flag=True,
    help="First queue unreadable documents again (all, or those given with --url): after installing Tesseract's "
    "languages or raising a bound.",
)
@click.option("--url", "urls", multiple=True, help="With --retry: only this document (repeat for more).")
@click.option("--read", "read_now", is_flag=True, help="First fetch and read the documents that are due, then list.")
@click.option("--text", "with_text", is_flag=True, help="With --json: each document's text by page.")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@click.pass_context
@_errors
def documents(
    ctx: click.Context,
    state: str | None,
    limit: int,
    retry: bool,
    urls: tuple[str, ...],
    read_now: bool,
    with_text: bool,
    as_json: bool,
) -> None:
    """Documents behind items (acts' PDFs, articles): queued, read, read by OCR, unreadable with the reason."""
    from .documents.view import document_json, document_line

    app = _app(ctx)
    if retry:
        n = app.store.retry_documents(list(urls) or None, app.clock())
        if not as_json:
            click.echo(f"queued again: {n}")
    if read_now:
        read_due_documents(app, echo=not as_json)
        if not as_json:
            stats = app.outbox.run_once()
            click.echo(f"deliveries: {stats.sent} sent, {stats.failed} failed, {stats.dead} dead")
    docs = app.store.documents(state, limit)
    if as_json:
        _emit_json([document_json(d, with_text) for d in docs])
        return
    counts = app.store.document_counts()
    click.echo(", ".join(f"{counts.get(s, 0)} {s}" for s in STATES))
    for d in docs:
        click.echo(f"- {document_line(d)}")
