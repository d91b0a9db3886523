"""The one place source types register. Adding a type: write its module, add it here (class and config)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from .base import SourceType
from .feed import FeedConfig, FeedSource
from .html import HtmlConfig, HtmlSource
from .jsonapi import JsonConfig, JsonSource
from .pravo import PravoConfig, PravoSource

SOURCE_TYPES: dict[str, SourceType] = {s.name: s for s in (FeedSource(), HtmlSource(), JsonSource(), PravoSource())}

# What pydantic validates each `sources:` entry against, chosen by its `type` key.
AnySourceConfig = Annotated[FeedConfig | HtmlConfig | JsonConfig | PravoConfig, Field(discriminator="type")]
