"""Tuning a watchlist: which watches fire on a text and why (match), what a watch would have caught in the stored
items (backtest), and precision and recall on labeled cases or a dev set (evaluate). Registered on the `cli` group
by cli.py; errors become exit codes there (`_errors`)."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .cli import JSON_HELP, _app, _emit_json, _errors, _item_json, _since, cli
from .errors import NotFoundError
from .items import make_item

if TYPE_CHECKING:
    from .app import App


@cli.command()
@click.argument("text", required=False)
@click.option("--file", "file_", type=click.File("r", encoding="utf-8"), help="Read the text from a file.")
@click.option("--item", "item_id", type=int, help="Match a stored item by id.")
@click.option(
    "--source", default="cli", help="Pretend the text came from this source (its filters, its declared language)."
)
@click.option(
    "--body",
    "body_file",
    type=click.File("r", encoding="utf-8"),
    help="The item's body from a file: a document's text, pages separated by form feeds (\\f).",
)
@click.pass_context
@_errors
def match(
    ctx: click.Context, text: str | None, file_: Any, item_id: int | None, source: str, body_file: Any = None
) -> None:
    """Which watches fire on TEXT (first line: title, rest: summary), and why; with --body, the body too."""
    app = _app(ctx)
    if item_id is not None:
        item = app.store.get_item(item_id).item
    else:
        raw = file_.read() if file_ else text
        if not raw:
            raise NotFoundError("give TEXT, --file or --item")
        title, _, summary = raw.strip().partition("\n")
        declared = next((s.language for s in app.config.sources if s.id == source), None)
        item = make_item(source, title=title, summary=summary, language=declared)
    item = app.runner.languages.apply(item)  # as the runner reads it (a stored item has been read already)
    if body_file is not None:
        item = item.with_(body=body_file.read())
    matches = app.watchlist.match(item)
    if not matches:
        click.echo("no watch fires")
        for watch_id, cues in app.watchlist.set_aside(item):
            click.echo(f"  {watch_id}: its words are there, but as talk, not a decision: «{'», «'.join(cues)}»")
    for m in matches:
        click.echo(f"{m.watch_id} [{m.severity}]")
        for h in m.hits:
            click.echo(f"  hit {h.label}: «{h.text}» in {h.where()}" + ("" if h.page else f" at {h.start}-{h.end}"))
        for a in m.agreements:
            click.echo(f"  agreement {a.id} (score {a.score}): {'; '.join(a.reasons)}")
        click.echo(f"  snippet: {m.snippet.marked('[', ']')}" + (f" ({m.snippet.link})" if m.snippet.link else ""))
        if m.language is not None:
            click.echo(f"  {m.language.text()}")


@cli.command()
@click.argument("watch")
@click.option("--since", default="30d", show_default=True, callback=_since, help="How far back (30d, 12h).")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@click.pass_context
@_errors
def backtest(ctx: click.Context, watch: str, since: float, as_json: bool) -> None:
    """Run WATCH over stored items and list what it would have caught."""
    app = _app(ctx)
    app.watchlist.watch(watch)
    start = app.clock() - timedelta(seconds=since)
    total = caught = 0
    rows: list[dict[str, Any]] = []
    for stored in app.store.items_since(start):
        total += 1
        for m in app.watchlist.match(stored.item, only=[watch]):
            caught += 1
            if as_json:
                rows.append(
                    _item_json(stored.id, stored.item, stored.first_seen)
                    | {"watch": m.watch_id, "severity": m.severity, "why": m.why()}
                )
            else:
                click.echo(f"#{stored.id} {stored.item.source_id}: {stored.item.title}\n    {m.why()[:300]}")
    if as_json:
        _emit_json(rows)
        return
    click.echo(f"{caught} of {total} items since {start:%Y-%m-%d %H:%M} would have fired {watch}")


@cli.command()
@click.argument("cases", type=click.Path(path_type=Path, exists=True), required=False)
@click.option("--verdicts", is_flag=True, help="Instead of CASES: the desk's verdicts in the database (cli_desk.py).")
@click.option("--json", "as_json", is_flag=True, help="--verdicts: one JSON document.")
@click.option("--min", "minimum", type=float, default=0.0, help="Exit 6 if overall precision or recall is below.")
@click.option(
    "--errors",
    is_flag=True,
    help="Each false alarm and miss with its hits, the rule that decided and its class, and a count by class.",
)
@click.option(
    "--watchlist",
    "watchlist_file",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    default=None,
    help="Dev set only: this watchlist instead of the set's own watchlist.yaml.",
)
@click.pass_context
@_errors
def evaluate(
    ctx: click.Context,
    cases: Path | None,
    verdicts: bool,
    as_json: bool,
    minimum: float,
    errors: bool,
    watchlist_file: Path | None,
) -> None:
    """Precision and recall of the watchlists on labeled cases, per watch and per language.

    CASES is a folder of YAML cases (matched directly), or a dev set: a folder with items.jsonl, which is served
    on loopback as feeds and a portal page and polled through the whole pipeline, with the folder's
    watchlist.yaml (or --watchlist). --verdicts: on the desk's verdicts instead (the database's labels)."""
    from .app import build_app, compile_config

    if verdicts or cases is None:
        if not verdicts:
            raise click.UsageError("give CASES, or --verdicts")
        from .cli_desk import evaluate_verdicts

        evaluate_verdicts(ctx, minimum, as_json)
        return

    if (cases / "items.jsonl").exists():
        from .devset import run as run_devset

        def build(config_dir: Path, state_dir: Path) -> App:
            config, watchlist = compile_config(config_dir)
            settings = config.settings.model_copy(update={"state_dir": state_dir})
            return build_app(config.model_copy(update={"settings": settings}), watchlist, echo=lambda _: None)

        dev = run_devset(cases, watchlist_file or cases / "watchlist.yaml", build, errors=errors)
        click.echo(dev.text())
        if errors:
            click.echo(dev.errors)
        if min(dev.overall.precision, dev.overall.recall) < minimum:
            sys.exit(6)
        return
    from .evaluation import evaluate as run
    from .evaluation import load_cases

    _, watchlist = compile_config(ctx.obj["config_path"])
    report = run(watchlist, load_cases(cases), errors=errors)
    click.echo(f"{report.cases} cases\n{report.table()}")
    if errors:
        click.echo(report.errors())
    if min(report.overall.precision, report.overall.recall) < minimum:
        sys.exit(6)
