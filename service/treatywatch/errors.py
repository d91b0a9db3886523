"""One exception tree. Library code raises these; only the CLI turns them into messages and exit codes."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence

KNOWN_SHOWN = 12  # names an "unknown name" message lists: enough to see the naming, short with 50,000 sources


class TreatyWatchError(Exception):
    """Base of every error this package raises on purpose."""

    exit_code = 1


class ConfigError(TreatyWatchError):
    """The operators' YAML is wrong; the message names file:line and field."""

    exit_code = 2

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class QueryError(TreatyWatchError):
    """A watch query does not parse; carries the position in the query."""

    exit_code = 2

    def __init__(self, message: str, query: str, position: int) -> None:
        self.query = query
        self.position = position
        super().__init__(f"{message} at position {position}: {query[:position]}\u2192{query[position:]}")

    def in_watch(self, watch_id: str, where: str) -> QueryError:
        """The same error said of a watch, at its query's file:line (the matcher and `check` word it alike)."""
        return QueryError(f"watch '{watch_id}' ({where}): {self.args[0].split(' at ')[0]}", self.query, self.position)


class SourceError(TreatyWatchError):
    """Fetching or parsing one source failed; the daemon logs it and retries that source later."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class FetchError(SourceError):
    """The network part failed: connection, timeout, HTTP status, size cap, redirects."""


class TooLargeError(FetchError):
    """The answer is larger than the cap: asking again brings the same bytes (a document is given up at once)."""


class ParseError(SourceError):
    """The bytes arrived but are not what the source type expects."""


class StoreError(TreatyWatchError):
    """The database is unusable (wrong schema version, locked beyond the timeout)."""

    exit_code = 3


class StateLockedError(TreatyWatchError):
    """Another daemon holds the state directory's lock: two daemons on one state would poll and send twice."""


class StoreConflict(StoreError):
    """Another process stored the same item or alert first (a `poll --once` beside the daemon); read again."""


class NotifyError(TreatyWatchError):
    """A channel refused or failed a message; the delivery is retried later."""


class NotFoundError(TreatyWatchError):
    """An id given on the command line names nothing."""

    exit_code = 4


class FilterError(TreatyWatchError):
    """A list filter (watch, severity, dates, ...) or a desk action's argument is not one the service takes."""

    exit_code = 2


class DocumentError(TreatyWatchError):
    """A fetched document cannot be read (encrypted, damaged, a bomb, beyond a bound); the message is the item's
    note after "document unreadable: ". Never the source's failure."""


def did_you_mean(name: str, known: Iterable[str], prefix: str = "", suffix: str = "") -> str:
    """'; did you mean 'every'?' when a known name is close to the misspelt one, else ''."""
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f"; did you mean '{prefix}{close[0]}{suffix}'?" if close else ""


def unknown_name(kind: str, name: str, known: Sequence[str]) -> str:
    """The message for a name nobody defined: a guess when it is a typo of a known one, and the known ones, a few
    of them when there are tens of thousands ("known: farm-0, farm-1, …, farm-11, … (50000 in all)")."""
    listed = ", ".join(known[:KNOWN_SHOWN]) or "none defined"
    if len(known) > KNOWN_SHOWN:
        listed += f", … ({len(known)} in all)"
    return f"no {kind} '{name}'{did_you_mean(name, known)}; known: {listed}"
