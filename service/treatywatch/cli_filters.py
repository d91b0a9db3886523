"""The desk's filter (filters.py) as click options, with the names and meanings of the console's and the JSON
API's parameters; shared by `alerts`, `items` and `deliveries`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import click

from .errors import FilterError
from .filters import DeskFilter

FILTER_KEYS = ("watch", "severity", "agreement", "source", "state", "assignee", "language", "since", "until", "text")


def _when(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A typo in --since/--until is a usage error (exit 2) naming the accepted forms."""
    if value is None:
        return None
    try:
        DeskFilter.parse({"since": value}, datetime.now(UTC))
    except FilterError:
        raise click.BadParameter(
            f"'{value}' is not a duration; use a number and a unit: 90s, 30m, 12h, 7d, 2w or combined (1d12h), "
            "or a date (2026-01-31) or time (2026-01-31T08:00)"
        ) from None
    return value


def filter_options(states: tuple[str, ...]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The filter of the console and the JSON API (filters.py), as options with the same names and meanings."""
    options = [
        click.option("--watch", default=None, help="Only alerts this watch fired."),
        click.option("--severity", default=None, help="At least this severity (low, medium, high, critical)."),
        click.option("--agreement", default=None, help="Only those concerning this agreement id."),
        click.option("--source", "source", default=None, help="Only those with a report from this source."),
        click.option("--state", default=None, help=f"One of {', '.join(states)}."),
        click.option("--assignee", default=None, help="Only those assigned to this person."),
        click.option("--language", default=None, help="Only those with a report in this language."),
        click.option("--since", default=None, callback=_when, help="A date (2026-01-31), a time, or a span (24h, 7d)."),
        click.option("--until", default=None, callback=_when, help="A date (the whole day) or a time."),
        click.option("--text", default=None, help="Words that must all appear in a title or summary."),
    ]

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        for option in reversed(options):
            fn = option(fn)
        return fn

    return wrap
