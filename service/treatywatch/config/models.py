"""The configuration operators write, as pydantic models. Field descriptions double as the reference docs."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, PrivateAttr, SecretStr, field_validator, model_validator

from ..sources.registry import AnySourceConfig
from .common import Duration, Strict

LANGUAGES = ("en", "ru", "fr", "pt", "de", "es")
ID = r"^[a-z0-9][a-z0-9_.-]*$"
ID_RULE = "ids are lower case: letters, digits, '-', '_', '.' (starting with a letter or digit)"
Severity = Literal["low", "medium", "high", "critical"]
SEVERITY_RANK = {"low": 1, "medium": 2, "high": 3, "critical": 4}


def _time_zone(v: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(v)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone '{v}' (e.g. Europe/Paris)") from exc
    return v


TimeZone = Annotated[str, AfterValidator(_time_zone)]  # an IANA name, checked where it is written
# Two weeks: longer than any outage worth catching up on, shorter than the archive a new feed or portal lists.
DEFAULT_IGNORE_OLDER_THAN = 14 * 86400.0


Role = Literal["viewer", "analyst", "operator"]
ROLE_RANK = {"viewer": 1, "analyst": 2, "operator": 3}


class Person(Strict):
    """Someone who uses the console: a name that every action of theirs is recorded under, and what they may do."""

    name: str = Field(pattern=r"^[\w][\w .@-]{0,63}$", description="Shown in the history beside each change.")
    role: Role = Field(
        description="viewer: reads; analyst: also triage (acknowledge, assign, resolve, mute) and verdicts; "
        "operator: also sources, retries and reloads."
    )
    token: SecretStr = Field(
        description="The secret this person signs in with: write `${ENV_NAME}` and set the variable, never the "
        "token itself. At least 12 characters."
    )

    @field_validator("token")
    @classmethod
    def _long_enough(cls, v: SecretStr) -> SecretStr:
        if len(v.get_secret_value()) < 12:
            raise ValueError("a token needs at least 12 characters (is its environment variable set?)")
        return v


class Settings(Strict):
    """Service-wide settings; every key has a default, so `settings:` may be left out entirely."""

    state_dir: Path = Field(default=Path("state"), description="Runtime data (database); relative to the CWD.")
    database: str = Field(
        default="treatywatch.db",
        description="Where the data lives: an SQLite file name inside state_dir (the default), sqlite:///path, or "
        "postgresql://user@host:5432/db for several daemons sharing the work (the password from PGPASSWORD or "
        "TREATYWATCH_DATABASE_PASSWORD, never written here). --database overrides it.",
    )
    lease: Duration = Field(
        default=60.0,
        description="How long a claim on a source or a delivery outlives the process that made it (a daemon, or "
        "poll --once beside it). Another daemon takes its work over this long after it dies (a source claimed by a "
        "dead process of the same machine at once); keep it above the slowest poll.",
    )
    database_pool: int | None = Field(
        default=None,
        ge=2,
        le=500,
        description="PostgreSQL only: connections one daemon may open at most. Default: its threads that use the "
        "database at once (10 poll workers + delivery_workers + 2 for the outbox pass and the console), 16 with the "
        "defaults; each is opened when needed and a thread finding none free waits. N daemons open at most "
        "N × this: keep it under the server's max_connections minus its reserved ones (10 daemons on a default "
        "server of 100: 9). docs/operations.md has the arithmetic.",
    )
    poll_processes: Annotated[int, Field(ge=0, le=64)] | Literal["auto"] = Field(
        default=0,
        description="Worker processes a daemon parses, reads languages and matches in, so a poll uses more than "
        "one core (fetching, the politeness gates and the one writer stay in the daemon). 0: all in the daemon's "
        "own process; auto: one per core. The workers are forked from the daemon when it starts, sharing its "
        "watchlist copy-on-write, while the process has no other thread (on PostgreSQL its connection pool has, so "
        "there they are spawned); a spawned worker, and one started in place of one that died, builds its own "
        "watchlist and language model (150-180 MB with the example configuration, a second or two of a core). "
        "Read when the daemon starts; `poll --once` uses it too.",
    )
    user_agent: str = Field(
        default="TreatyWatch/0.1 (+https://github.com/treatywatch/treatywatch; treaty alerting)",
        description="User-Agent sent to every source.",
    )
    http_timeout: Duration = Field(default=20.0, description="Per-request timeout, seconds or 20s.")
    max_response_bytes: int = Field(default=10_000_000, gt=0, description="Responses larger than this are cut off.")
    max_redirects: int = Field(default=5, ge=0, description="Redirects followed before failing.")
    per_host_concurrency: int = Field(default=2, ge=1, description="Parallel requests to one host.")
    per_host_delay: Duration = Field(
        default=0.25,
        description="Gap between the starts of requests to one host while it answers well; a host that is slow or "
        "asks for a pause (429/503 Retry-After) gets more (docs/operations.md, Politeness). 0s for your own servers.",
    )
    source_backoff_base: Duration = Field(default=60.0, description="First retry delay after a source fails.")
    source_backoff_max: Duration = Field(default=21600.0, description="Longest retry delay for a failing source.")
    shutdown_timeout: Duration = Field(
        default=10.0,
        description="On SIGTERM/Ctrl-C, how long running polls and sends may finish before they are abandoned "
        "(they run again on the next start).",
    )
    delivery_max_attempts: int = Field(default=8, ge=1, description="Attempts before a delivery is dead.")
    delivery_backoff_base: Duration = Field(default=30.0, description="First retry delay of a failed delivery.")
    delivery_backoff_max: Duration = Field(default=3600.0, description="Longest retry delay of a delivery.")
    deliver_every: Duration = Field(default=15.0, description="How often the daemon works the outbox.")
    delivery_workers: int = Field(
        default=4,
        ge=1,
        le=64,
        description="Channels a daemon sends to at once, each in its own worker, one message at a time per channel: "
        "a slow or dead channel delays only its own messages, and polling never waits for sending.",
    )
    ignore_older_than: Duration | None = Field(
        default=DEFAULT_IGNORE_OLDER_THAN,
        description="Items published longer ago than this (by the item's own date) are stored and searchable but "
        "never alert, so a feed's archive or a portal's old decree does not page anyone; items without a date "
        "always count as new. 0 or null: no age limit. Per source: `ignore_older_than` of the source.",
    )
    baseline: bool = Field(
        default=True,
        description="The first successful poll of a source is its baseline: its items are stored and matched "
        "but open no alert and send nothing (the log says how many would have matched); alerts start with what "
        "is published after it. false: alert on the first poll too. Per source and per watch: `baseline`.",
    )
    config_watch_every: Duration = Field(
        default=5.0,
        description="How often the daemon checks the configuration files for edits (and reloads them, as SIGHUP "
        "does); 0: only on SIGHUP.",
    )
    checkpoint_every: Duration = Field(
        default=300.0,
        description="How often the daemon folds SQLite's write-ahead log into the database file (a passive "
        "checkpoint), so a copy of treatywatch.db taken while it runs holds recent rows; 0: only at stop.",
    )
    event_window: Duration = Field(default=259200.0, description="Reports this close join one alert (3d).")
    followup_delay: Duration = Field(default=900.0, description="Later reports wait this long to go as one follow-up.")
    documents_every: Duration = Field(
        default=30.0,
        description="How often the daemon reads queued documents (an act's PDF, an article behind a headline: "
        "docs/documents.md), a few at a time; 0: never in the daemon (`treatywatch documents --read` does it).",
    )
    document_attempts: int = Field(
        default=5,
        ge=1,
        description="Fetches of a document before it is given up as the item's note 'document unreadable: …'.",
    )
    document_retry_base: Duration = Field(default=300.0, description="First retry delay of a document's fetch.")
    document_retry_max: Duration = Field(default=21600.0, description="Longest retry delay of a document's fetch.")
    document_max_bytes: int = Field(
        default=20_000_000, gt=0, description="A document larger than this is not downloaded: the item's note."
    )
    document_max_pages: int = Field(
        default=40, ge=1, le=2000, description="Pages of a document read (the operative part of an act comes first)."
    )
    document_timeout: Duration = Field(
        default=180.0, description="Time one document's reading (OCR included) may take before it is killed."
    )
    document_memory_mb: int = Field(
        default=1024, ge=128, description="Memory of the process reading one document (and of Tesseract)."
    )
    web_host: str = Field(default="127.0.0.1", description="Status page address.")
    web_port: int = Field(default=8424, ge=0, le=65535, description="Status page port; 0 disables it.")
    web_token: SecretStr | None = Field(
        default=None,
        description="Token the web console asks for before it changes anything (retry of dead deliveries) or runs "
        "the watch tester: `Authorization: Bearer <token>` or the form's token field. Write `${TREATYWATCH_WEB_TOKEN}` "
        "here (or only set that variable), never the token itself. Without a token, state changes are accepted only "
        "when web_host is a loopback address. It also reads, as web_read_token does.",
    )
    web_read_token: SecretStr | None = Field(
        default=None,
        description="Token that reads the console from another machine (pages, JSON API, Atom feed, /metrics) and "
        "changes nothing: `Authorization: Bearer <token>`, or a browser's login prompt (any user name, the token as "
        "password). Write `${TREATYWATCH_WEB_READ_TOKEN}` here (or only set that variable). Off a loopback address "
        "every read needs it or web_token (without either, reads from elsewhere are refused); on loopback, none.",
    )
    people: list[Person] = Field(
        default_factory=list,
        description="Named tokens for the console, each with a role (viewer, analyst, operator); every change "
        "made through the console is recorded with the name. web_token counts as a person named `operator` with "
        "the operator role, web_read_token as `viewer`.",
    )
    web_metrics_open: bool = Field(
        default=False,
        description="Serve /metrics without a token on any address, for a Prometheus that sends none; the rest of "
        "the console still needs one off loopback.",
    )
    metrics_sources_max: Annotated[int, Field(ge=0)] = Field(
        default=1000,
        description="Up to this many configured sources, /metrics has each source's own series (its polls, items, "
        "fetch and poll durations, failures, last success); beyond, one series for them all, labelled "
        'source="*". At 50,000 sources the per-source series were 2 million lines, 154 MB and 14 s of the '
        "daemon's CPU a scrape, and over 1 GB of its memory (bench/metrics_scrape.py).",
    )
    web_base_url: str | None = Field(
        default=None,
        description="The console's public address (https://tw.example.org/): the Atom feed's self link and the "
        "ids of its entries (tag: URIs, unique across installs) are built from it. Default: the address a "
        "request came to, and this machine's name in the ids.",
    )
    verdict_link_secret: SecretStr | None = Field(
        default=None,
        description="With web_base_url: alert messages carry a link where the reader says correct or false alarm "
        "in one click, signed with this secret (write `${TREATYWATCH_LINK_SECRET}`), for that alert only and for "
        "verdict_link_valid. Changing it voids every link sent.",
    )
    verdict_link_valid: Duration = Field(default=7 * 86400.0, description="How long a verdict link works.")
    web_timezone: TimeZone = Field(
        default="UTC",
        description="Time zone of the times the console shows (Europe/Paris); the JSON API answers in UTC.",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(default="INFO", description="Log verbosity.")
    log_format: Literal["text", "json"] = Field(
        default="text",
        description="text: one readable line per event; json: one JSON object per line (time, level, logger, "
        "message and fields such as source, subscriber, watch) for journald, Loki or jq.",
    )
    templates_dir: Path | None = Field(default=None, description="Folder of message templates overriding ours.")

    @field_validator("people")
    @classmethod
    def _distinct_people(cls, v: list[Person]) -> list[Person]:
        names = [p.name for p in v]
        if len(set(names)) != len(names):
            raise ValueError(f"people: each name once ({', '.join(sorted({n for n in names if names.count(n) > 1}))})")
        tokens = [p.token.get_secret_value() for p in v]
        if len(set(tokens)) != len(tokens):
            raise ValueError("people: two people share a token (each change is recorded under one name)")
        return v


TermLists = dict[str, list[str]]


UNLESS_WITHIN = 5  # words: a private investor's assets are named in the same phrase as the assets


class TermSet(Strict):
    """Named multilingual phrases; inflected forms match."""

    by_language: TermLists
    unless_near: TermLists = Field(
        default_factory=dict,
        description="Words, by language, that make a nearby term of this set name something else: a hit within "
        "`unless_within` words of one of them does not count (frozen assets of a private investor).",
    )
    unless_within: int = Field(
        default=UNLESS_WITHIN, ge=1, le=20, description="How many words around a term `unless_near` reaches."
    )

    @model_validator(mode="before")
    @classmethod
    def _wrap(cls, v: object) -> object:
        """YAML writes languages at the top of the set; keys that are fields of the model (an entity's
        `country`) stay beside them."""
        if not isinstance(v, dict) or "by_language" in v:
            return v
        own = set(cls.model_fields) - {"by_language"}
        return {"by_language": {k: x for k, x in v.items() if k not in own}} | {k: x for k, x in v.items() if k in own}

    @field_validator("by_language", "unless_near")
    @classmethod
    def _langs(cls, v: TermLists) -> TermLists:
        for lang, terms in v.items():
            if lang not in LANGUAGES:
                raise ValueError(f"unknown language '{lang}'; use one of {', '.join(LANGUAGES)}")
            if not all(isinstance(t, str) and t.strip() for t in terms):
                raise ValueError(f"{lang}: every term must be a non-empty string")
        return v


class Entity(TermSet):
    """A party (state, organisation) by its names per language; `country` pins it to gazetteer countries."""

    country: str | list[str] | None = Field(
        default=None,
        description="ISO 3166 code(s) the gazetteer expands this entity with (GB, [EE, LV, LT]); none: never.",
    )

    @field_validator("country", mode="before")
    @classmethod
    def _norway(cls, v: object) -> object:
        if v is False:
            raise ValueError('YAML reads a bare NO as false; quote it: country: "NO"')
        return v

    @field_validator("country")
    @classmethod
    def _codes(cls, v: str | list[str] | None) -> str | list[str] | None:
        codes = [v] if isinstance(v, str) else v or []
        for code in codes:
            if code != "none" and not re.fullmatch(r"[A-Za-z]{2}", code):
                raise ValueError(f"'{code}' is not a country code; write its two ISO 3166 letters (GB) or none")
        upper = [c if c == "none" else c.upper() for c in codes]
        return upper[0] if isinstance(v, str) else upper if v is not None else None

    def countries(self) -> list[str] | None:
        """The pinned codes ([] for none), or None when the gazetteer should recognise the entity itself."""
        if self.country is None:
            return None
        codes = [self.country] if isinstance(self.country, str) else self.country
        return [c for c in codes if c != "none"]


class Agreement(Strict):
    id: str = Field(pattern=ID, description=f"Unique id, named by watches; {ID_RULE}.")
    title: str
    parties: list[str] = Field(min_length=2, description="Entity ids; the item must name all of them.")
    signed: int | None = Field(default=None, ge=1800, le=2100, description="Year of signature (evidence).")
    aliases: TermLists = Field(default_factory=dict, description="Other names, by language.")


ItemField = Literal["title", "summary", "body"]  # an item's fields a watch's query may fire on


class Watch(Strict):
    id: str = Field(pattern=ID, description=f"Unique id, named by subscribers and in alerts; {ID_RULE}.")
    title: str = ""
    query: str = Field(
        description='Terms, "phrases", @sets, *, AND/OR/NOT, (), NEAR/n, title:, summary:, body:, and an act\'s '
        "doc_type: and issuer: (docs/sources.md)."
    )
    fields: list[ItemField] = Field(
        default_factory=lambda: list[ItemField](("title", "summary")),
        min_length=1,
        description="The item's fields the query may fire on. The body (an act's document, an article's text) is "
        "read anyway to add the agreements an act's operative part lists to a match the title or summary fired; "
        "with `body` here the body alone can fire the watch. A field the query names (body:) is read too.",
    )
    sources: list[str] | None = Field(default=None, description="Only items of these sources (default: all).")
    agreements: Literal["all"] | list[str] | None = Field(
        default=None, description="Fire only when the item concerns a tracked agreement (all, or these ids)."
    )
    severity: Severity = "medium"
    decided: bool | None = Field(
        default=None,
        description="Fire only on what is reported as done, not on calls, proposals, threats, doubts, denials or "
        "anniversaries (the cue words are in matching/cues.yaml). Default: on for watches with `agreements`.",
    )
    baseline: bool | None = Field(
        default=None,
        description="Overrides the source's baseline for this watch: false alerts on its matches even in a "
        "source's first poll, true keeps that poll quiet for it. Default: the source's.",
    )


class Subscriber(Strict):
    id: str = Field(pattern=ID, description=f"Unique id, used by `notify --test` and in logs; {ID_RULE}.")
    notify: list[str] = Field(default_factory=list, description="apprise URLs; empty prints to the terminal.")
    watches: Literal["all"] | list[str] = "all"
    min_severity: Severity = "low"
    mode: Literal["instant", "digest"] = "instant"
    digest_at: list[str] = Field(default_factory=lambda: ["08:00"], description="Local times of digests (HH:MM).")
    timezone: TimeZone = "UTC"
    quiet_hours: str | None = Field(default=None, description="'22:00-07:00' local: held until it ends.")
    format: Literal["auto", "html", "markdown", "text"] = "auto"

    @field_validator("digest_at")
    @classmethod
    def _times(cls, v: list[str]) -> list[str]:
        for t in v:
            if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", t):
                raise ValueError(f"'{t}' is not a time; write HH:MM")
        return v

    @field_validator("quiet_hours")
    @classmethod
    def _quiet(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d", v):
            raise ValueError(f"'{v}' is not a range; write HH:MM-HH:MM")
        return v


class Sections(Strict):
    """The sections any configuration file may hold besides `settings`."""

    sources: list[AnySourceConfig] = Field(default_factory=list, description="What to poll (see the sources sections).")
    terms: dict[str, TermSet] = Field(
        default_factory=dict, description="Named term sets (@name in queries): language -> dictionary forms."
    )
    entities: dict[str, Entity] = Field(
        default_factory=dict, description="States and bodies (@name; parties of agreements): language -> names."
    )
    vocabularies: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Term set -> shipped vocabularies added to it at load (docs/vocabularies.md).",
    )
    agreements: list[Agreement] = Field(default_factory=list, description="Tracked agreements (see below).")
    watches: list[Watch] = Field(default_factory=list, description="What fires an alert (see below).")
    subscribers: list[Subscriber] = Field(default_factory=list, description="Who is told, and how (see below).")

    @field_validator("entities", mode="before")
    @classmethod
    def _entities(cls, v: object) -> object:
        """Code that builds a Config by hand may still pass plain TermSets as entities."""
        if isinstance(v, dict):
            return {k: Entity(by_language=x.by_language) if type(x) is TermSet else x for k, x in v.items()}
        return v


class ConfigFile(Sections):
    """What one YAML file may hold; a directory's files are merged into a Config."""

    settings: Settings | None = Field(default=None, description="Service settings (see below).")
    gazetteer: bool | None = Field(
        default=None, description="true: every entity naming a known country gets all its forms in six languages."
    )


class Config(Sections):
    """The merged, cross-checked configuration the service runs on."""

    settings: Settings = Field(default_factory=Settings)
    gazetteer: bool = Field(default=False, description="Whether the gazetteer was applied to the entities at load.")
    _origins: dict[str, str] = PrivateAttr(default_factory=dict)

    def where(self, kind: str, ident: str, key: str | None = None) -> str:
        """file:line where `kind` (watches, sources, ...) `ident` was defined, for errors found after loading; with
        `key` (a watch's query), the line of that key when the loader kept it."""
        if key is not None and (line := self._origins.get(f"{kind}:{ident}.{key}")):
            return line
        return self._origins.get(f"{kind}:{ident}", "<config>")

    # sources by id, built on first use for the list it was built from (a poll asks several times, and 50,000
    # sources made each a scan of the list)
    _source_index: tuple[object, int, dict[str, AnySourceConfig]] | None = PrivateAttr(default=None)

    def source(self, source_id: str) -> AnySourceConfig:
        index = self._source_index
        if index is None or index[0] is not self.sources or index[1] != len(self.sources):
            index = self._source_index = (self.sources, len(self.sources), {s.id: s for s in self.sources})
        if (found := index[2].get(source_id)) is not None:
            return found
        from ..errors import NotFoundError, unknown_name

        raise NotFoundError(unknown_name("source", source_id, [s.id for s in self.sources]))

    def subscriber(self, subscriber_id: str) -> Subscriber:
        for s in self.subscribers:
            if s.id == subscriber_id:
                return s
        from ..errors import NotFoundError, unknown_name

        raise NotFoundError(unknown_name("subscriber", subscriber_id, [s.id for s in self.subscribers]))

    @property
    def database_path(self) -> Path:
        return self.settings.state_dir / self.settings.database
