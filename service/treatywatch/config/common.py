"""Small value types shared by the configuration models of every stage."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")


def parse_duration(value: object) -> float:
    """'90s', '10m', '1h30m', '2d' or a number of seconds; used for intervals, windows and back-tests."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return float(value)
    if not isinstance(value, str):
        raise ValueError("expected a duration such as 30s, 10m, 1h or 2d")
    text = value.strip().lower().replace(" ", "")
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"'{value}' is not a duration; write e.g. 30s, 10m, 1h30m or 2d")
    return sum(float(n) * _UNITS[u] for n, u in parts)


# A configured duration beyond this is a typo, and would overflow dates and the scheduler at run time.
MAX_CONFIG_DURATION = 10 * 365 * 86400.0


def config_duration(value: object) -> float:
    seconds = parse_duration(value)
    if seconds > MAX_CONFIG_DURATION:
        raise ValueError(f"'{value}' is longer than 10 years; write e.g. 30d or 52w")
    return seconds


Duration = Annotated[float, BeforeValidator(config_duration)]


class Schedule(BaseModel):
    """How often a source is polled: a fixed interval or a five-field cron expression."""

    model_config = ConfigDict(frozen=True)
    seconds: float | None = None
    cron: str | None = None

    @classmethod
    def parse(cls, value: object) -> Schedule:
        if isinstance(value, Schedule):
            return value
        if isinstance(value, str) and len(value.split()) == 5:
            from apscheduler.triggers.cron import CronTrigger

            try:
                CronTrigger.from_crontab(value)
            except ValueError as exc:
                raise ValueError(f"'{value}' is not a valid cron expression: {exc}") from exc
            return cls(cron=value)
        seconds = parse_duration(value)
        if seconds < 1:
            raise ValueError("a poll interval must be at least 1s")
        return cls(seconds=seconds)

    def describe(self) -> str:
        return f"cron '{self.cron}'" if self.cron else f"every {self.seconds:g}s"


ScheduleField = Annotated[Schedule, BeforeValidator(Schedule.parse)]


class Strict(BaseModel):
    """Base of every operator-facing model: unknown keys are typos and are rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True)
