"""Reference data that source types read beside their listings (the pravo portal's dictionaries of document types,
signatories and blocks): fetched through the fetcher at most once a day per URL, kept in the state directory
(reference/*.json) so a restart does not ask again, and handed to the source type to complete its config. The
runner's part: the network, the disk and the clock stay out of the source types. A portal that does not answer
costs a warning a day; the last copy read (or the one bundled with the source type) serves meanwhile."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from ..config.models import Config
from ..errors import SourceError
from .base import PagingSource, ReferenceSource, Request, Response, has_references
from .registry import SOURCE_TYPES

log = logging.getLogger("treatywatch.sources")

REFRESH = timedelta(days=1)  # the portals' dictionaries change a few times a year
RETRY = timedelta(hours=1)  # after a failed fetch, what was kept serves this long before the next try


@dataclass(frozen=True)
class Kept:
    """One reference as last read: its value (None: never read), when it was fetched and when last tried."""

    value: Any
    fetched_at: datetime | None
    tried_at: datetime


def _url(request: Request) -> str:
    return request.url + ("?" + urlencode(request.params) if request.params else "")


class ReferenceCache:
    """Per runner: references by URL, in memory and under `state_dir/reference/`; one fetch at a time per URL."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._kept: dict[str, Kept] = {}
        self._fetching: dict[str, threading.Lock] = {}

    def bind(
        self, plugin: object, cfg: Any, fetch: Callable[[Request], Response], now: datetime, state_dir: Path
    ) -> Any:
        """The source's config completed with its references (unchanged for a type that reads none)."""
        if not has_references(plugin):
            return cfg
        values = {}
        for name, request in plugin.references(cfg).items():
            value = self._get(plugin, name, request, fetch, now, state_dir)
            if value is not None:
                values[name] = value
        return plugin.bind(cfg, values)

    def _get(
        self,
        plugin: ReferenceSource,
        name: str,
        request: Request,
        fetch: Callable[[Request], Response],
        now: datetime,
        state_dir: Path,
    ) -> Any:
        url = _url(request)
        with self._lock:
            gate = self._fetching.setdefault(url, threading.Lock())
        with gate:  # a second poll of the same portal waits for the first's fetch rather than asking again
            kept = self._kept.get(url) or self._load(plugin, name, url, state_dir)
            fresh = kept is not None and kept.fetched_at is not None and now - kept.fetched_at < REFRESH
            if kept is not None and (fresh or now - kept.tried_at < RETRY):
                return kept.value
            try:
                response = fetch(request)
                value = plugin.reference(name, response)
            except SourceError as exc:
                log.warning(
                    "reference %s: %s; %s serves meanwhile (tried again in %s)",
                    url,
                    exc,
                    "the copy of " + f"{kept.fetched_at:%Y-%m-%d}" if kept and kept.fetched_at else "the bundled copy",
                    RETRY,
                )
                self._kept[url] = Kept(kept.value if kept else None, kept.fetched_at if kept else None, now)
                return kept.value if kept else None
            self._kept[url] = Kept(value, now, now)
            self._save(url, now, response, state_dir)
            return value

    @staticmethod
    def _path(url: str, state_dir: Path) -> Path:
        return state_dir / "reference" / (hashlib.sha256(url.encode()).hexdigest()[:20] + ".json")

    def _save(self, url: str, now: datetime, response: Response, state_dir: Path) -> None:
        path = self._path(url, state_dir)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            body = response.content.decode("utf-8", "replace")
            tmp.write_text(json.dumps({"url": url, "fetched_at": now.isoformat(), "body": body}), encoding="utf-8")
            os.replace(tmp, path)
        except OSError as exc:  # a read-only state directory costs the next restart a fetch, nothing more
            log.warning("reference %s: not kept in %s: %s", url, path.parent, exc)

    def _load(self, plugin: ReferenceSource, name: str, url: str, state_dir: Path) -> Kept | None:
        """What an earlier run kept of this URL; None when nothing (or nothing readable) was."""
        path = self._path(url, state_dir)
        try:
            saved = json.loads(path.read_text(encoding="utf-8"))
            fetched = datetime.fromisoformat(saved["fetched_at"])
            value = plugin.reference(name, Response(url, 200, saved["body"].encode("utf-8")))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError, SourceError) as exc:
            log.warning("reference %s: the copy in %s is unreadable (%s); fetched again", url, path, exc)
            return None
        kept = Kept(value, fetched, fetched)
        self._kept[url] = kept
        return kept


def reference_problems(config: Config, state_dir: Path) -> list[str]:
    """`check`, offline: each source's request built with the references the state directory keeps, so a name
    the portal's dictionary lacks is an error with its closest names (none kept yet: the first poll resolves)."""
    problems = []
    for cfg in config.sources:
        plugin = SOURCE_TYPES[cfg.type]
        if not isinstance(plugin, ReferenceSource) or not isinstance(plugin, PagingSource):
            continue
        cache = ReferenceCache()
        kept = {}
        for name, request in plugin.references(cfg).items():
            found = cache._load(plugin, name, _url(request), state_dir)
            if found is not None:
                kept[name] = found.value
        if not kept:
            continue
        try:
            plugin.page_request(plugin.bind(cfg, kept), 1)
        except SourceError as exc:
            problems.append(f"{config.where('sources', cfg.id)}: sources {cfg.id}: {exc}")
    return problems
