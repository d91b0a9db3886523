"""The command line: a thin layer over the library. Errors become messages and exit codes here, and only here."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .cli_filters import filter_options
from .errors import TreatyWatchError
from .filters import ALERT_STATES
from .items import Item
from .logs import setup_logging

if TYPE_CHECKING:
    from .app import App

# Start-up is paid by every command, and `poll --once` from cron pays it on every pass: the configuration, matching,
# store, notification (apprise) and metrics modules are imported inside the commands that use them, so --help,
# --version, docs and schema start in a fraction of the time, and check skips the store and the outbox.

CONFIG_HELP = "Folder (or file) of YAML configuration. Default: config/ or $TREATYWATCH_CONFIG."


def _app(ctx: click.Context) -> App:
    obj = ctx.ensure_object(dict)
    if "app" not in obj:
        from .app import built_for_good

        # start-up (importing the pipeline, compiling the configuration and the six-language watchlist) builds what
        # the process keeps as long as it lives
        with built_for_good():
            obj["app"] = _build(obj)
        ctx.call_on_close(obj["app"].close)
    return obj["app"]


def _build(obj: dict[str, Any]) -> App:
    from .app import build_app, compile_config

    config, watchlist = compile_config(obj["config_path"])
    overrides: dict[str, Any] = {"state_dir": Path(obj["state_dir"])} if obj.get("state_dir") else {}
    if obj.get("database"):
        overrides["database"] = obj["database"]
    if overrides:  # --state-dir and --database over the YAML's settings
        config = config.model_copy(update={"settings": config.settings.model_copy(update=overrides)})
    setup_logging(
        obj.get("log_level") or config.settings.log_level, obj.get("log_format") or config.settings.log_format
    )
    return build_app(config, watchlist, config_path=obj["config_path"])


def _since(ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
    """--since as seconds; a typo is a usage error (exit 2) naming the accepted forms, not a traceback.
    More than a century back means "everything" (and keeps the date arithmetic in range)."""
    if value is None:
        return None
    from .config.common import parse_duration

    try:
        return min(parse_duration(value), 100 * 365 * 86400.0)
    except ValueError:
        raise click.BadParameter(
            f"'{value}' is not a duration; use a number and a unit: 90s, 30m, 12h, 7d, 2w or combined (1d12h)"
        ) from None


def _emit_json(rows: list[dict[str, Any]]) -> None:
    """One JSON document on stdout and nothing else, so `| jq` and json.loads work."""
    click.echo(json.dumps(rows, ensure_ascii=False, indent=1))


def _item_json(item_id: int, item: Item, first_seen: datetime | None) -> dict[str, Any]:
    from .views import iso

    return {
        "id": item_id,
        "source": item.source_id,
        "title": item.title,
        "link": item.link,
        "published": iso(item.published),
        "first_seen": iso(first_seen),
        "language": item.language,
    }


JSON_HELP = "One JSON document (a list of objects) on stdout, for scripts."


def _errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The one place exceptions become exit codes."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except TreatyWatchError as exc:
            for line in str(exc).splitlines():
                click.echo(f"error: {line}", err=True)
            sys.exit(exc.exit_code)

    return wrapper


@click.group()
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    envvar="TREATYWATCH_CONFIG",
    default=Path("config"),
    show_default=True,
    help=CONFIG_HELP,
)
@click.option(
    "--state-dir",
    type=click.Path(path_type=Path),
    envvar="TREATYWATCH_STATE_DIR",
    help="Override settings.state_dir (where the database lives).",
)
@click.option(
    "--database",
    envvar="TREATYWATCH_DATABASE",
    default=None,
    help="Override settings.database: sqlite:///path or postgresql://user@host:5432/db (password from PGPASSWORD "
    "or TREATYWATCH_DATABASE_PASSWORD).",
)
@click.option("--log-level", type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"]), default=None)
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default=None,
    help="Override settings.log_format: json writes one JSON object per line on stderr.",
)
@click.version_option(package_name="treatywatch")
@click.pass_context
def cli(
    ctx: click.Context,
    config_path: Path,
    state_dir: Path | None,
    database: str | None,
    log_level: str | None,
    log_format: str | None,
) -> None:
    """TreatyWatch: alerts when tracked agreements are terminated, decrees published or frozen assets move."""
    ctx.ensure_object(dict).update(
        config_path=config_path, state_dir=state_dir, database=database, log_level=log_level, log_format=log_format,
        invoked=datetime.now(UTC),  # before the config is compiled: see poll's `started`
    )  # fmt: skip


@cli.command()
@click.option("--from", "source", required=True, help="The database to copy: sqlite:///state/treatywatch.db")
@click.option("--to", "target", required=True, help="Where to: postgresql://user@host:5432/db (must be empty)")
@click.option("--force", is_flag=True, help="Replace whatever the target holds.")
@_errors
def migrate(source: str, target: str, force: bool) -> None:
    """Copy every table from one database to another (SQLite to PostgreSQL), checking the counts after.
    Stop the daemons first; then point settings.database at the target."""
    from .store import open_store
    from .store.migrate import copy_database

    src, dst = open_store(source, Path(".")), open_store(target, Path("."))
    try:
        counts = copy_database(src, dst, force=force)
    finally:
        src.close()
        dst.close()
    click.echo("copied " + ", ".join(f"{table} {n}" for table, n in counts.items()) + f" to {dst.path}")


@cli.command()
@click.option("--impact", is_flag=True, help="Also: what this configuration would change over the stored items.")
@click.option("--days", default=30.0, show_default=True, help="--impact: items of the last so many days.")
@click.option("--current", type=click.Path(path_type=Path, exists=True), default=None,
              help="--impact: the running configuration (default: the daemon's copy in the state directory).")
@click.option("--json", "as_json", is_flag=True, help="--impact: " + JSON_HELP)
@click.pass_context
@_errors
def check(ctx: click.Context, impact: bool, days: float, current: Path | None, as_json: bool) -> None:
    """Validate the configuration (YAML, references, queries, notification URLs) without running; --impact sets
    it beside the running one over the stored items (cli_desk.py)."""
    from .app import compile_config

    if impact:
        from .cli_desk import check_impact

        check_impact(ctx, days, current, as_json)
        return
    config, watchlist = compile_config(ctx.obj["config_path"])
    from .errors import ConfigError
    from .sources.refcache import reference_problems

    state_dir = Path(ctx.obj["state_dir"]) if ctx.obj.get("state_dir") else config.settings.state_dir
    problems = reference_problems(config, state_dir)  # names the portals' dictionaries, as last read, do not hold
    if problems:
        raise ConfigError(problems)
    click.echo(
        f"OK: {len(config.sources)} sources, {len(config.terms)} term sets, {len(config.entities)} entities, "
        f"{len(config.agreements)} agreements, {len(watchlist.watches)} watches, "
        f"{len(config.subscribers)} subscribers"
    )


@cli.command()
@click.option(
    "--web-host",
    envvar="TREATYWATCH_WEB_HOST",
    default=None,
    help="Status page address instead of settings.web_host (a container sets 0.0.0.0 here, not in the YAML).",
)
@click.pass_context
@_errors
def run(ctx: click.Context, web_host: str | None) -> None:
    """Run the daemon: poll every source on its schedule, match, alert, deliver. Ctrl-C stops it."""
    from .daemon import Daemon

    app = _app(ctx)
    if web_host:
        settings = app.config.settings.model_copy(update={"web_host": web_host})
        app.config = app.config.model_copy(update={"settings": settings})
    Daemon(app).run()


@cli.command()
@click.argument("source", required=False)
@click.option("--once", is_flag=True, help="One pass, then exit (the only mode for now; the daemon is `run`).")
@click.option("--dry-run", is_flag=True, help="Print the items the source yields; store and send nothing.")
@click.pass_context
@_errors
def poll(ctx: click.Context, source: str | None, once: bool, dry_run: bool) -> None:
    """Poll SOURCE (or every source) once, then deliver what is due."""
    from .once import run_pass

    app = _app(ctx)
    ids = [source] if source else [s.id for s in app.config.sources if s.enabled]
    paused = app.store.paused_sources() if not dry_run else set()  # a dry run stores nothing: it may try one
    if not dry_run:  # claims of passes or daemons of this machine that were killed go back now
        app.store.forget_dead_claims()
    # what was polled since this command was invoked is skipped, not only since its pass began: two passes started
    # together reach their first poll a second or two apart (compiling the config), and the first may have polled a
    # source and ended before the second's pass began
    invoked = ctx.ensure_object(dict).get("invoked")
    failed, started = 0, min(app.clock(), invoked) if invoked is not None else app.clock()
    for sid in ids:
        app.config.source(sid)  # an unknown id is the operator's mistake, said before anything is fetched
        if sid in paused:
            click.echo(f"{sid}: skipped, paused (treatywatch sources resume {sid})")
    # sources are polled several at a time, each claimed as the daemons' dispatchers claim it (once.py); a source a
    # daemon or another pass is polling, or polled within most of its interval, is skipped
    for outcome in run_pass(app, [sid for sid in ids if sid not in paused], started, dry_run):
        sid, r = outcome.source_id, outcome.result
        if r is None:
            click.echo(f"{sid}: skipped, another process is polling it or polled it this interval (its lease)")
            continue
        if r.error:
            failed += 1
            click.echo(f"{sid}: ERROR {r.error}", err=True)
            continue
        if dry_run:
            click.echo(f"{sid}: {len(r.items)} items")
            for it in r.items:
                flag = " [untitled]" if it.untitled else ""
                click.echo(
                    f"  - {it.title}{flag}\n    key={it.key} link={it.link} published="
                    f"{it.published.isoformat() if it.published else '-'}"
                )
                if it.summary:
                    click.echo(f"    {it.summary[:160]}")
        else:
            state = "not modified" if r.not_modified else f"{len(r.items)} items, {r.new} new, {r.changed} changed"
            if r.baseline:
                state += f" (baseline: {r.quieted} would have matched, nothing sent)"
            click.echo(
                f"{sid}: {state}, {r.alerts} alerts, {r.followups} follow-ups"
                + ("  [flagged: no items where there were some]" if r.flagged_empty else "")
            )
    if not dry_run:  # the documents of what was polled, read now: a one-shot run is complete
        from .cli_documents import read_due_documents

        read_due_documents(app)
        stats = app.outbox.run_once()
        skipped = f", {stats.skipped} skipped (nothing new)" if stats.skipped else ""
        click.echo(f"deliveries: {stats.sent} sent, {stats.failed} failed, {stats.dead} dead{skipped}")
    if failed:
        sys.exit(5)


@cli.command()
@click.argument("text")
@click.option("--limit", default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@click.pass_context
@_errors
def search(ctx: click.Context, text: str, limit: int, as_json: bool) -> None:
    """Full-text search over stored items (SQLite FTS5 syntax: words, "phrases", OR, prefix*)."""
    found = _app(ctx).store.search(text, limit)
    if as_json:
        _emit_json([_item_json(st.id, st.item, st.first_seen) for st in found])
        return
    for stored in found:
        click.echo(f"#{stored.id} {stored.item.source_id}: {stored.item.title}\n    {stored.item.link}")


@cli.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@click.pass_context
@_errors
def sources(ctx: click.Context, as_json: bool) -> None:
    """Each source's health: last success, failures in a row, last error, items last seen, paused. `sources pause
    ID`, `resume ID` and `poll-now ID` are the operator's (cli_desk.py)."""
    from .views import source_rows

    if ctx.invoked_subcommand:
        return
    app = _app(ctx)
    rows = source_rows(app.config, app.store.source_states())
    if as_json:
        _emit_json(rows)
        return
    for s in rows:
        warn = "  ⚠ no items where there were some" if s["empty_flag"] else ""
        click.echo(
            f"{s['id']:<24} {s['type']:<6} {s['every']:<14} last ok: {s['last_success'] or '-':<26} "
            f"failures: {s['consecutive_failures']}  items: {s['items_last_seen'] or 0}  baseline {s['baseline']}{warn}"
        )
        if s["paused"]:
            click.echo(f"    paused by {s['paused_by']} since {s['paused_at'][:16].replace('T', ' ')} UTC: not polled")
        if s["last_error"]:
            click.echo(f"    last error: {s['last_error']}")
        if b := s["backlog"]:
            click.echo(
                f"    backlog deferred: {b['pages']} page{'s' * (b['pages'] != 1)}, {b['items']} items read since "
                f"{b['since'][:16].replace('T', ' ')} UTC; the rest comes with the next polls "
                f"(from page {b['next_page']})"
            )


@cli.group(invoke_without_command=True)
@click.option("--status", type=click.Choice(["pending", "sent", "failed", "dead", "skipped"]), default=None)
@filter_options(ALERT_STATES)
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@click.pass_context
@_errors
def deliveries(ctx: click.Context, status: str | None, as_json: bool, **kw: Any) -> None:
    """The outbox: each delivery's status, attempts and last error; the desk's filter picks by alert."""
    if ctx.invoked_subcommand:
        return
    from .filters import DeskFilter
    from .views import delivery_row

    app = _app(ctx)
    picked = DeskFilter.parse(kw, app.clock())
    found = app.store.delivery_rows(picked, app.clock(), status, 1000)[0] if not picked.empty else None
    rows = found if found is not None else app.store.deliveries(status)
    if as_json:
        _emit_json([delivery_row(d) for d in rows])
        return
    for d in rows:
        click.echo(
            f"#{d.id} alert #{d.alert_id} {d.kind:<8} {d.subscriber_id} → {d.channel_label}  {d.status} "
            f"(attempts {d.attempts}, next {d.next_attempt:%Y-%m-%d %H:%M})"
            + (f"\n    last error: {d.last_error}" if d.last_error else "")
        )


@deliveries.command("retry")
@click.argument("ids", nargs=-1, type=int)
@click.pass_context
@_errors
def deliveries_retry(ctx: click.Context, ids: tuple[int, ...]) -> None:
    """Re-queue dead deliveries (all, or the given ids)."""
    app = _app(ctx)
    n = app.store.retry(list(ids) or None, app.clock())
    click.echo(f"re-queued: {n}")


@cli.command()
@click.option("--test", "subscriber", required=True, help="Subscriber id to send a sample alert to.")
@click.pass_context
@_errors
def notify(ctx: click.Context, subscriber: str) -> None:
    """Send a sample alert to every channel of a subscriber, to check the set-up; exit 1 if any channel failed."""
    from .notify.sample import send_sample

    app = _app(ctx)
    failed = 0
    for label, error in send_sample(app, app.config.subscriber(subscriber)):
        click.echo(f"{label}: {'OK' if error is None else 'FAILED ' + error}")
        failed += error is not None
    if failed:
        sys.exit(1)


@cli.command()
def docs() -> None:
    """Print the configuration reference (every key, its default and meaning) as Markdown."""
    from .reference import reference

    click.echo(reference(), nl=False)


@cli.command()
def schema() -> None:
    """Print a JSON Schema of one configuration file, for editors (YAML language server, VS Code, JetBrains)."""
    from .config.schema import json_schema

    click.echo(json.dumps(json_schema(), ensure_ascii=False, indent=1))


@cli.command()
@click.pass_context
@_errors
def demo(ctx: click.Context) -> None:
    """The whole loop on bundled fixtures with a local HTTP server and SMTP sink; no network needed."""
    from .demo import run_demo

    setup_logging(ctx.obj.get("log_level") or "WARNING", ctx.obj.get("log_format") or "text")
    run_demo(ctx.obj["config_path"], echo=click.echo)


# the watchlist's own (match, backtest, evaluate), the desk's (alerts, items, triage, mute, verdict, history) and
# the documents behind items
from . import cli_desk, cli_documents, cli_watchlist  # noqa: E402, F401


def main() -> None:
    cli(obj={})
