"""What every source type shares: its config base, the request/response values and the plug-in protocols (the
walk back through a paged listing is listing.py's)."""

from __future__ import annotations

import functools
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, TypeGuard, cast, runtime_checkable

from pydantic import Field, HttpUrl, field_validator

from ..config.common import Duration, Schedule, ScheduleField, Strict
from ..items import Item


class SourceConfig(Strict):
    """Keys common to every source; each source type adds its own beside its code."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$", description="Unique id, used in watches and logs.")
    type: str = Field(description="Source type: one of the sections below (feed, html, json, pravo).")
    url: HttpUrl = Field(description="Where to fetch (feed, list page or API base).")
    every: ScheduleField = Field(
        default=Schedule(seconds=900), description="Poll interval (10m, 1h) or cron (*/10 * * * *)."
    )
    language: str | None = Field(default=None, description="Language hint for items (en, ru, fr, pt, de, es).")
    enabled: bool = Field(default=True, description="false keeps the source configured but unpolled.")
    timeout: Duration | None = Field(default=None, description="Overrides settings.http_timeout.")
    max_bytes: int | None = Field(default=None, gt=0, description="Overrides settings.max_response_bytes.")
    max_redirects: int | None = Field(default=None, ge=0, description="Overrides settings.max_redirects.")
    headers: dict[str, str] = Field(default_factory=dict, description="Extra request headers.")
    proxy: str | None = Field(default=None, description="Proxy URL for this source only; empty means none.")
    baseline: bool | None = Field(
        default=None,
        description="false: this source alerts from its first poll; true: its first successful poll is a quiet "
        "baseline. Default: settings.baseline.",
    )
    ignore_older_than: Duration | None = Field(
        default=None,
        description="Overrides settings.ignore_older_than for this source; 0: no age limit.",
    )
    implies: list[str] = Field(
        default_factory=list,
        description="Entities every item of this source concerns (a government portal speaks for its state).",
    )
    documents: bool | None = Field(
        default=None,
        description="Fetch and read the document behind each new item (the act's PDF: `document_url`, set by the "
        "pravo preset or a mapped field), OCR included, and match its text as the item's body (docs/documents.md). "
        "Default: on wherever an item has a document link; false: never.",
    )
    fetch_article: bool = Field(
        default=False,
        description="Fetch each new item's own page (its link) and match the article's main text (trafilatura) as "
        "the item's body: for feeds that carry only a headline and a sentence. Opt-in: one more request per item.",
    )

    @field_validator("proxy")
    @classmethod
    def _empty_proxy(cls, v: str | None) -> str | None:
        return v or None


# A list page or feed is read up to this many items (the first ones: newest first on nearly every site). A 9 MB
# page of 200,000 tiny items took 17 s and 520 MB to turn into items, before matching; real feeds list 10-500.
MAX_ITEMS_PER_PAGE = 5000


@dataclass(frozen=True)
class Request:
    """One HTTP request a source wants made; `page` lets paging sources know where they are."""

    url: str
    params: tuple[tuple[str, str], ...] = ()
    page: int = 1


@dataclass(frozen=True)
class Response:
    """What the fetcher hands to a parser: bytes and the headers that matter for decoding."""

    url: str
    status: int
    content: bytes
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Page:
    """Items parsed from one response and, for paging sources, the request for the next page."""

    items: list[Item]
    next_request: Request | None = None


class SourceType(Protocol):
    """A source plug-in: pure functions from config to request and from response to items."""

    name: ClassVar[str]
    config_model: ClassVar[type[SourceConfig]]

    def first_request(self, cfg: Any) -> Request: ...

    def parse(self, cfg: Any, request: Request, response: Response) -> Page: ...


@runtime_checkable
class PagingSource(Protocol):
    """A source type whose listing is paged, newest first. The runner reads its head at every poll and walks back,
    across polls, through what a poll's page cap left unread (`ListingReader`); its `parse` gives the next page's
    request whenever the listing has one: the cap is the runner's."""

    def page_request(self, cfg: Any, page: int) -> Request | None:
        """Page `page`'s request; None for a listing paged by its links alone (a next link, a next-page URL in
        the body), whose page n is reached from page n-1, or from a link to a page of a known number."""
        ...

    def paging(self, cfg: Any) -> tuple[int, int]:
        """(items per page, pages one poll may read)."""
        ...


@runtime_checkable
class ReferenceSource(Protocol):
    """A source type that reads a portal's reference data beside its listing (the pravo portal's dictionaries):
    the runner fetches `references` through the fetcher, keeps them a day (refcache.py), and `bind` gives the config
    they complete (names resolved, names for the GUIDs a listing gives)."""

    def references(self, cfg: Any) -> dict[str, Request]:
        """The reference requests, by name."""
        ...

    def reference(self, name: str, response: Response) -> Any:
        """One reference answer read; raises ParseError when it is not one (the last good one then serves)."""
        ...

    def bind(self, cfg: Any, references: dict[str, Any]) -> Any:
        """The config completed with the references read (those the portal could not give are left out)."""
        ...


@functools.cache
def _class_implements(cls: Hashable, protocol: Hashable) -> bool:
    """A plugin class's capability, answered once: isinstance against a runtime protocol checks each of its members
    at every call, and every poll asked twice (4 % of a 304 poll's CPU)."""
    return isinstance(cls, type) and isinstance(protocol, type) and issubclass(cls, protocol)


def is_paging(plugin: Any) -> TypeGuard[PagingSource]:
    return _class_implements(cast(Hashable, type(plugin)), PagingSource)


def has_references(plugin: Any) -> TypeGuard[ReferenceSource]:
    return _class_implements(cast(Hashable, type(plugin)), ReferenceSource)


def reads_listing(plugin: object, cfg: Any) -> TypeGuard[PagingSource]:
    """Whether this source's polls go through the ListingReader: a paging plugin, unless its config pages nothing
    (a feed without follow_next, a json source without next_page: one request, as before paging existed)."""
    if not is_paging(plugin):
        return False
    pages = getattr(plugin, "pages", None)
    return bool(pages(cfg)) if callable(pages) else True
