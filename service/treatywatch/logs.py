"""Log set-up: plain text for a terminal, or one JSON object per line for journald, Loki or jq.

The daemon's log is read by people and by machines; JSON lines keep the fields the code passes in `extra=`
(source, subscriber, watch, ...) as fields instead of prose, so they can be filtered without regular expressions."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, Literal

LogFormat = Literal["text", "json"]
TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
# Libraries that talk a lot at INFO about what our own lines already say.
# pymorphy3 says at INFO which dictionary files it loads, whenever a process first builds an analyzer
NOISY = ("apscheduler", "httpx", "httpcore", "mail.log", "pymorphy3")
# apprise logs "Notifying 1 service(s)." at INFO for every message: half of all lines. Ours say what was sent.
CHATTY_AT_INFO = ("apprise",)
# Attributes every LogRecord has; anything else on a record came in through `extra=`.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """One line per event: time (ISO 8601 UTC), level, logger, message, then the `extra=` fields."""

    def format(self, record: logging.LogRecord) -> str:
        event: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_") and key not in event:
                event[key] = value
        if record.exc_info:
            event["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            event["stack"] = self.formatStack(record.stack_info)
        return json.dumps(event, ensure_ascii=False, default=str)


class DemoteToDebug(logging.Filter):
    """Passes a chatty library's INFO records only when DEBUG is on (and then labelled DEBUG);
    its warnings and errors pass unchanged."""

    def __init__(self, debug: bool) -> None:
        super().__init__()
        self._debug = debug

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO:
            return True
        if not self._debug:
            return False
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return True


def setup_logging(level: str, fmt: LogFormat = "text") -> None:
    """Configure the root logger on stderr; called once per process by the CLI (again after a reload is harmless:
    `force=True` replaces the handler rather than adding a second)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(level=getattr(logging, level), handlers=[handler], force=True)
    for name in NOISY:
        logging.getLogger(name).setLevel(logging.WARNING)
    debug = getattr(logging, level) <= logging.DEBUG
    for name in CHATTY_AT_INFO:
        lib = logging.getLogger(name)
        for old in [f for f in lib.filters if isinstance(f, DemoteToDebug)]:
            lib.removeFilter(old)
        lib.addFilter(DemoteToDebug(debug))
