"""The desk's commands: filtered alerts and items, triage, mutes, verdicts, their history, and the two checks of
a watchlist against the desk's own verdicts (`evaluate --verdicts`, `check --impact`). Registered on the `cli`
group by cli.py; errors become exit codes there (`_errors`)."""

from __future__ import annotations

import getpass
import json
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import click

from .cli import JSON_HELP, _app, _emit_json, _errors, cli, sources
from .cli_filters import FILTER_KEYS, filter_options
from .errors import FilterError
from .filters import ALERT_STATES, ITEM_STATES, DeskFilter


def _filter(kw: dict[str, Any], now: Any, states: tuple[str, ...] = ALERT_STATES) -> DeskFilter:
    return DeskFilter.parse({k: kw.pop(k) for k in FILTER_KEYS}, now, states)


def _actor(given: str | None) -> str:
    """Who the history names for a change made here: --as, else the login name (the CLI has no tokens)."""
    return given or f"{getpass.getuser()}@cli"


@cli.command()
@click.option("--limit", default=20, show_default=True)
@click.option("--offset", default=0)
@filter_options(ALERT_STATES)
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@click.pass_context
@_errors
def alerts(ctx: click.Context, limit: int, offset: int, as_json: bool, **kw: Any) -> None:
    """Recent alerts, newest first, with their triage: filtered as the console and /api/alerts filter."""
    from .web.api import alerts_page

    app = _app(ctx)
    query = {k: v for k, v in kw.items() if v} | {"limit": str(limit), "offset": str(offset)}
    _filter(dict(kw), app.clock())  # a bad filter is a usage error before anything is read
    shown, page = alerts_page(app, query)
    if as_json:
        _emit_json(page.rows)
        return
    for a, row in zip(shown, page.rows, strict=True):
        t = row["triage"]
        state = t["state"] + (f", {t['assignee']}" if t["assignee"] else "")
        state += f", muted until {t['muted_until'][:16]}" if t["muted_until"] else ""
        click.echo(
            f"#{a.id} {a.created_at:%Y-%m-%d %H:%M} [{a.severity}] {a.title}  ({len(a.reports)} reports; "
            f"{', '.join(a.watches)}{'; ' + ', '.join(a.agreements) if a.agreements else ''}) [{state}]"
        )
    if not as_json and page.total > len(shown):
        click.echo(f"{len(shown)} of {page.total} shown (--limit, --offset)")


@cli.command()
@click.option("--limit", default=20, show_default=True)
@click.option("--offset", default=0)
@filter_options(ITEM_STATES)
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@click.pass_context
@_errors
def items(ctx: click.Context, limit: int, offset: int, as_json: bool, **kw: Any) -> None:
    """Stored items, newest first, through the same filter (state: alerted, quiet, unmatched)."""
    from .web.api import items_page

    app = _app(ctx)
    page = items_page(app, {k: v for k, v in kw.items() if v} | {"limit": str(limit), "offset": str(offset)})
    if as_json:
        _emit_json(page.rows)
        return
    for r in page.rows:
        click.echo(f"#{r['id']} {r['source']} [{r['language'] or '?'}]: {r['title']}\n    {r['link']}")
    click.echo(f"{len(page.rows)} of {page.total}")


@cli.command()
@click.argument("alert_id", type=int)
@click.argument("action", type=click.Choice(["acknowledge", "assign", "resolve", "reopen", "mute", "unmute"]))
@click.option("--to", "assignee", default=None, help="assign: the person (empty: nobody).")
@click.option("--for", "span", default=None, help="mute: how long (4h, 1d; default 1d).")
@click.option("--note", default="", help="mute: why, for the history.")
@click.option("--as", "who", default=None, help="The name the history records (default: your login name@cli).")
@click.pass_context
@_errors
def triage(
    ctx: click.Context, alert_id: int, action: str, assignee: str | None, span: str | None, note: str, who: str | None
) -> None:
    """Acknowledge, assign, resolve, reopen, mute or unmute an alert."""
    from .desk import triage as run

    t = run(_app(ctx), alert_id, action, _actor(who), assignee=assignee, span=span, note=note)
    muted = f", muted until {t.muted_until:%Y-%m-%d %H:%M} UTC" if t.muted_until else ""
    click.echo(f"alert {alert_id}: {t.state}{', assigned to ' + t.assignee if t.assignee else ''}{muted}")


@cli.command()
@click.argument("kind", type=click.Choice(["watch", "agreement", "source", "alert"]))
@click.argument("target")
@click.option("--for", "span", default=None, help="How long (4h, 1d, 1w; default 1d).")
@click.option("--end", is_flag=True, help="End the mute now instead.")
@click.option("--note", default="", help="Why, for the history.")
@click.option("--as", "who", default=None, help="The name the history records.")
@click.pass_context
@_errors
def mute(ctx: click.Context, kind: str, target: str, span: str | None, end: bool, note: str, who: str | None) -> None:
    """Mute a watch, an agreement, a source or an alert for a while: nothing is sent for it meanwhile."""
    from .desk import mute as run
    from .desk import unmute

    app = _app(ctx)
    if end:
        done = unmute(app, kind, target, _actor(who))
        click.echo(f"{kind} {target}: {'unmuted' if done else 'was not muted'}")
        return
    until = run(app, kind, target, span, _actor(who), note)
    click.echo(f"{kind} {target} muted until {until:%Y-%m-%d %H:%M} UTC")


@cli.command()
@click.argument("said", type=click.Choice(["correct", "false-alarm", "miss"]))
@click.option("--alert", "alert_id", type=int, default=None, help="correct / false-alarm: the alert.")
@click.option("--item", "item_id", type=int, default=None, help="The report (with --alert), or the missed item.")
@click.option("--watch", default=None, help="miss: the watch the item should have fired.")
@click.option("--note", default="", help="Why, shown in the evaluation.")
@click.option("--as", "who", default=None, help="The name the history records.")
@click.pass_context
@_errors
def verdict(
    ctx: click.Context, said: str, alert_id: int | None, item_id: int | None, watch: str | None, note: str,
    who: str | None,
) -> None:  # fmt: skip
    """Say an alert (or one report) was correct or a false alarm, or that an item should have fired a watch."""
    from .desk import verdict as run

    v = run(_app(ctx), said, _actor(who), alert_id=alert_id, item_id=item_id, watch=watch, note=note)
    click.echo(f"{v.subject}: {v.verdict.replace('_', ' ')} ({v.watch_id}) by {v.actor}")


def _source_command(action: str, doc: str) -> None:
    """`treatywatch sources ACTION ID`: the console's buttons (desk.source_action), recorded under --as."""

    @click.argument("source_id")
    @click.option("--as", "who", default=None, help="The name the history records (default: your login name@cli).")
    @click.pass_context
    @_errors
    def command(ctx: click.Context, source_id: str, who: str | None) -> None:
        from .desk import source_action

        click.echo(source_action(_app(ctx), source_id, action, _actor(who)))

    command.__doc__ = doc
    sources.command(action)(command)


_source_command("pause", "Pause a source: not polled (by the daemon or poll --once) until resumed.")
_source_command("resume", "Resume a paused source; it is due at once.")
_source_command("poll-now", "Make a source due now (its backoff too): the daemon polls it at its next look.")


@cli.command()
@click.argument("kind", type=click.Choice(["alert", "watch", "agreement", "source", "item"]))
@click.argument("target")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@click.pass_context
@_errors
def history(ctx: click.Context, kind: str, target: str, as_json: bool) -> None:
    """Who did what to an alert (or a watch, agreement, source, item), oldest first."""
    from .desk import event_json

    events = _app(ctx).store.history(kind, target)
    if as_json:
        _emit_json([event_json(e) for e in events])
        return
    for e in events:
        click.echo(f"{e.at:%Y-%m-%d %H:%M} {e.actor}: {e.action}{' ' + e.detail if e.detail else ''}")


def evaluate_verdicts(ctx: click.Context, minimum: float, as_json: bool) -> None:
    """`evaluate --verdicts`: the running watchlist against the desk's verdicts."""
    from .evaluation import evaluate_verdicts as run

    app = _app(ctx)
    report = run(app.store, app.watchlist)
    click.echo(json.dumps(report.to_json(), ensure_ascii=False, indent=1) if as_json else report.table())
    if report.judged and min(report.overall.precision, report.overall.recall) < minimum:
        sys.exit(6)


def check_impact(ctx: click.Context, days: float, current: Path | None, as_json: bool) -> None:
    """`check --impact`: the configuration given (--config, the edited one) beside the one running, whose files
    the daemon keeps in the state directory (applied.py), or `--current DIR`."""
    from .app import compile_config
    from .applied import applied_dir
    from .impact import changed_watches, impact

    app = _app(ctx)  # the store, and the candidate configuration
    running = current or applied_dir(app.config.settings.state_dir)
    if not running.exists():
        raise FilterError(f"no running configuration to compare with at {running}: start the daemon, or --current DIR")
    config, watchlist = compile_config(running, analyzer=app.watchlist.analyzer)
    since = app.clock() - timedelta(days=days)
    result = impact(app.store, watchlist, app.watchlist, since, only=changed_watches(config, app.config))
    click.echo(json.dumps(result.to_json(), ensure_ascii=False, indent=1) if as_json else result.text())
