"""How the configuration decides what a poll may alert: the first-poll baseline and the age limit, with a source's
own keys over the settings and a watch's `baseline` over its source's. Pure: the runner, `sources` and the console
all ask here, so they agree."""

from __future__ import annotations

from datetime import datetime, timedelta

from ..sources.base import SourceConfig
from .models import Config


def age_limit(config: Config, cfg: SourceConfig) -> float | None:
    """Seconds after which an item is too old to alert, or None: the source's own limit, else the settings'."""
    limit = cfg.ignore_older_than if cfg.ignore_older_than is not None else config.settings.ignore_older_than
    return limit or None


def age_cutoff(config: Config, cfg: SourceConfig, now: datetime) -> datetime | None:
    """Items of this source published before this moment are too old to alert (None: no limit)."""
    limit = age_limit(config, cfg)
    return now - timedelta(seconds=limit) if limit else None


def baseline_on(config: Config, cfg: SourceConfig) -> bool:
    return cfg.baseline if cfg.baseline is not None else config.settings.baseline


def quiet_watches(config: Config, cfg: SourceConfig) -> frozenset[str]:
    """The watches whose matches a first poll of this source keeps quiet (a watch's own `baseline` wins)."""
    default = baseline_on(config, cfg)
    return frozenset(w.id for w in config.watches if (w.baseline if w.baseline is not None else default))


def baseline_status(config: Config, cfg: SourceConfig, last_success: datetime | None) -> str:
    """'done' once a poll of the source succeeded, else 'pending' (its first poll will be quiet) or 'off' (it
    will alert)."""
    if last_success is not None:
        return "done"
    return "pending" if quiet_watches(config, cfg) else "off"
