"""Load a directory of YAML files into one Config; every problem names file:line and field."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..errors import ConfigError, QueryError, did_you_mean
from ..vocabularies import Gazetteer, merge_terms, names_foreign_states, read_vocabulary, vocabulary_names
from .messages import clean_loc, describe, field_path
from .models import UNLESS_WITHIN, Config, ConfigFile, Entity, TermSet
from .yamlfile import YamlDoc, load_yaml

SECTIONS_WITH_IDS = ("sources", "agreements", "watches", "subscribers")
SECTIONS_BY_KEY = ("terms", "entities")


def config_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise ConfigError([f"{path}:1: no such file or directory"])
    files = sorted(p for p in path.rglob("*.y*ml") if p.suffix in (".yaml", ".yml"))
    if not files:
        raise ConfigError([f"{path}:1: no *.yaml files found"])
    return files


def _salvage(doc: YamlDoc, exc: ValidationError) -> tuple[ConfigFile | None, dict[str, list[int]], set[str]]:
    """What of a file that failed validation can still be checked: the file without its faulty entries (and faulty
    top-level keys), with the original index of each entry kept (so locations stay exact), and the names the faulty
    entries define (`section:id`), which references elsewhere may use without being told they do not exist."""
    bad: dict[str, set[Any]] = {}
    for err in exc.errors():
        loc = tuple(err["loc"])
        if loc:
            bad.setdefault(str(loc[0]), set()).add(loc[1] if len(loc) > 1 else None)
    data: dict[str, Any] = {}
    kept: dict[str, list[int]] = {}
    broken: set[str] = set()
    for key, value in doc.data.items():
        faults = bad.get(key, set())
        if None in faults or (faults and not isinstance(value, list | dict)):
            broken |= {f"{key}:{n}" for n in _names(key, value)}
            continue
        if isinstance(value, list):
            kept[key] = [i for i in range(len(value)) if i not in faults]
            data[key] = [value[i] for i in kept[key]]
            broken |= {f"{key}:{n}" for i in faults if isinstance(i, int) for n in _names(key, [value[i]])}
        elif isinstance(value, dict):
            data[key] = {k: v for k, v in value.items() if k not in faults}
            broken |= {f"{key}:{k}" for k in faults if k in value}
        else:
            data[key] = value
    try:
        return ConfigFile.model_validate(data), kept, broken
    except ValidationError:
        return None, {}, broken | {f"{key}:{n}" for key, value in doc.data.items() for n in _names(key, value)}


def _names(section: str, value: Any) -> list[str]:
    """The ids (or keys) a raw section defines, whatever else is wrong with it."""
    if isinstance(value, dict):
        return [str(k) for k in value]
    if isinstance(value, list):
        return [str(e["id"]) for e in value if isinstance(e, dict) and "id" in e]
    return []


def load_config(path: Path, env: dict[str, str] | None = None) -> Config:
    """Validate each file alone (so locations are exact), then merge and cross-check references. Every file's
    problems come in one run: a file with a faulty entry still has its other entries merged and checked, and
    references to the faulty entries are not reported as missing."""
    problems: list[str] = []
    parsed: list[tuple[YamlDoc, ConfigFile, dict[str, list[int]]]] = []
    broken: set[str] = set()  # `section:id` of entries that failed validation: they exist, only wrongly written
    for file in config_files(path):
        try:
            doc = load_yaml(file, env)
        except ConfigError as exc:
            problems.extend(exc.problems)
            continue
        try:
            parsed.append((doc, ConfigFile.model_validate(doc.data), {}))
        except ValidationError as exc:
            problems.extend(describe(doc, exc))
            part, kept, names = _salvage(doc, exc)
            broken |= names
            if part is not None:
                parsed.append((doc, part, kept))
    # the files that did validate are still merged: their duplicates and unknown vocabularies come in this run too

    merged: dict[str, Any] = {name: [] for name in SECTIONS_WITH_IDS} | {name: {} for name in SECTIONS_BY_KEY}
    origins: dict[str, str] = {}
    settings_from: YamlDoc | None = None
    gazetteer_from: YamlDoc | None = None
    requests: list[tuple[YamlDoc, str, list[str]]] = []
    pins: dict[str, str] = {}
    places: dict[str, tuple[YamlDoc, int]] = {}  # `section:id` -> its file and index there: where() for its keys
    for doc, part, kept in parsed:
        if part.gazetteer is not None:
            if gazetteer_from is not None:
                problems.append(
                    f"{doc.where(('gazetteer',))}: gazetteer: also given in {gazetteer_from.path}; keep one"
                )
            gazetteer_from = doc
            merged["gazetteer"] = part.gazetteer
        for name, vocabularies in part.vocabularies.items():
            key = f"vocabularies:{name}"
            here = doc.where(("vocabularies", name))
            if key in origins:
                problems.append(f"{here}: vocabularies: duplicate name '{name}' (first in {origins[key]})")
            origins[key] = here
            requests.append((doc, name, vocabularies))
        pins |= {name: doc.where(("entities", name, "country")) for name in part.entities}
        if part.settings is not None:
            if settings_from is not None:
                problems.append(f"{doc.where(('settings',))}: settings: also given in {settings_from.path}; keep one")
            settings_from = doc
            merged["settings"] = part.settings
        for section in SECTIONS_WITH_IDS:
            for n, entry in enumerate(getattr(part, section)):
                i = kept[section][n] if section in kept else n  # its index in the file as written
                key = f"{section}:{entry.id}"
                here = doc.where((section, i, "id"))
                if key in origins:
                    problems.append(f"{here}: {section}: duplicate id '{entry.id}' (first in {origins[key]})")
                origins[key] = here
                places.setdefault(key, (doc, i))
                if section == "watches":  # the matcher's query errors name the query's line (Config.where)
                    origins[f"{key}.query"] = doc.where((section, i, "query"))
                merged[section].append(entry)
        for section in SECTIONS_BY_KEY:
            for name, value in getattr(part, section).items():
                key = f"{section}:{name}"
                here = doc.where((section, name))
                if (
                    key in origins
                    or (section == "terms" and f"entities:{name}" in origins)
                    or (section == "entities" and f"terms:{name}" in origins)
                ):
                    first = origins.get(key) or origins.get(f"entities:{name}") or origins.get(f"terms:{name}")
                    problems.append(f"{here}: {section}: duplicate name '{name}' (first in {first})")
                origins[key] = here
                merged[section][name] = value
    # the shipped gazetteer read (and its 7,000 names folded) once, when first needed: both steps below use it
    gazetteer = functools.cache(Gazetteer.load)
    problems.extend(_apply_vocabularies(merged, requests, origins, gazetteer))
    problems.extend(_apply_gazetteer(merged, pins, gazetteer))
    try:
        config = Config(**merged)
    except ValidationError as exc:  # what only the merged whole can say; reported with the files' own problems
        merged_problems = [f"{path}: {field_path(clean_loc(tuple(e['loc'])))}: {e['msg']}" for e in exc.errors()]
        raise ConfigError([*problems, *merged_problems]) from None
    problems.extend(_check_references(config, Places(places), broken))
    if problems:
        raise ConfigError(problems + _query_syntax(config, Places(places)))
    config._origins.update(origins)
    return config


class Places:
    """file:line of a key inside an entry (`watches`, `w1`, `agreements`, 2): the line of that list element or
    key as written, for errors found after merging (a reference, a URL) that are the key's, not the entry's."""

    def __init__(self, places: dict[str, tuple[YamlDoc, int]]) -> None:
        self.places = places

    def __call__(self, section: str, ident: str, *path: str | int) -> str:
        doc, i = self.places[f"{section}:{ident}"]
        return doc.where((section, i, *path))


def _apply_vocabularies(
    merged: dict[str, Any],
    requests: list[tuple[YamlDoc, str, list[str]]],
    origins: dict[str, str],
    gazetteer: Callable[[], Gazetteer],
) -> list[str]:
    """Add the shipped vocabularies to the term sets named under `vocabularies:`; the operator's own terms stay
    first, a set that does not exist is created, so the matcher sees ordinary term sets."""
    problems = []
    known = vocabulary_names()
    merged["vocabularies"] = {}
    for doc, set_name, names in requests:
        here = doc.where(("vocabularies", set_name))
        if set_name in merged["entities"]:
            problems.append(
                f"{here}: vocabularies.{set_name}: '{set_name}' is an entity; vocabularies add to term sets "
                "(use another name, or `gazetteer: true` for countries)"
            )
            continue
        extra: dict[str, list[str]] = {}
        unless: dict[str, list[str]] = {}
        for i, name in enumerate(names):
            if name not in known:
                problems.append(
                    f"{doc.where(('vocabularies', set_name, i))}: vocabularies.{set_name}[{i}]: "
                    f"unknown vocabulary '{name}'; known: {', '.join(known)}"
                )
                continue
            terms, near = read_vocabulary(name)
            extra, unless = merge_terms(extra, terms), merge_terms(unless, near)
            if names_foreign_states(name):
                extra = merge_terms(extra, _foreign_state_names(merged, gazetteer()))
        own = merged["terms"].get(set_name)
        merged["terms"][set_name] = TermSet(
            by_language=merge_terms(own.by_language if own else {}, extra),
            unless_near=merge_terms(own.unless_near if own else {}, unless),
            unless_within=own.unless_within if own else UNLESS_WITHIN,
        )
        merged["vocabularies"][set_name] = names
        origins.setdefault(f"terms:{set_name}", here)
    return problems


def _foreign_state_names(merged: dict[str, Any], gazetteer: Gazetteer) -> dict[str, list[str]]:
    """The gazetteer's names of every country but the watchlist's home: the states party to every tracked
    agreement (three or more of them) and the states the sources imply (a Russian portal's acts are Russia's)."""
    entities: dict[str, Entity] = merged["entities"]
    parties = [set(a.parties) for a in merged.get("agreements", [])]
    home_ids = set.intersection(*parties) if len(parties) >= 3 else set()
    home_ids |= {e for source in merged.get("sources", []) for e in getattr(source, "implies", None) or []}
    home: set[str] = set()
    for entity_id in home_ids & set(entities):
        entity = entities[entity_id]
        pinned = entity.countries()
        home |= set(pinned) if pinned is not None else set(gazetteer.resolve(entity_id, entity.by_language))
    return merge_terms({}, *(c.kinds.get("names", {}) for code, c in gazetteer.countries.items() if code not in home))


def _apply_gazetteer(merged: dict[str, Any], pins: dict[str, str], load: Callable[[], Gazetteer]) -> list[str]:
    """Check pinned country codes; with `gazetteer: true`, add every form of each entity's countries to it."""
    entities: dict[str, Entity] = merged["entities"]
    enabled = bool(merged.get("gazetteer"))
    if not enabled and all(e.country is None for e in entities.values()):
        return []
    gazetteer = load()
    problems = [
        f"{pins[name]}: entities.{name}.country: no country '{code}' in the gazetteer "
        "(docs/vocabularies.md lists them); pin another or write none"
        for name, entity in entities.items()
        for code in entity.countries() or []
        if code not in gazetteer.countries
    ]
    if problems or not enabled:
        return problems
    for name, entity in entities.items():
        codes = entity.countries()
        found = gazetteer.resolve(name, entity.by_language) if codes is None else codes
        forms = merge_terms(entity.by_language, *(gazetteer.countries[code].forms() for code in found))
        entities[name] = entity.model_copy(update={"by_language": forms})
    return []


# @name outside "phrases", as the query lexer reads it (matching/query.py); a regex, not the parser, so that
# loading a configuration does not import the matcher (and Babel with it).
_SET_REF = re.compile(r'"[^"]*"?|@(?P<ref>[A-Za-z0-9_.-]+)')


def _check_queries(config: Config, where: Places, defined: set[str]) -> list[str]:
    """Unknown @names in every watch at once, with a guess; other query errors are the matcher's to report.
    `defined`: names of term sets and entities, those of a file that failed validation included."""
    known = sorted(defined)
    problems = []
    for w in config.watches:
        for m in _SET_REF.finditer(w.query):
            name, p = m.group("ref"), m.start()
            if name is None or name in known:
                continue
            problems.append(
                f"{where('watches', w.id, 'query')}: watches[{w.id}].query: unknown term set or entity '@{name}'"
                f"{did_you_mean(name, known, '@')} (known: {', '.join(known) or 'none defined'}) "
                f"at position {p}: {w.query[:p]}\u2192{w.query[p:]}"
            )
    return problems


def _query_syntax(config: Config, where: Places) -> list[str]:
    """The matcher's parse of every query, when other problems stop the load before the matcher would run: a query's
    syntax error (a missing ')') comes in the same run as the rest. Only then, as it imports the matcher."""
    from ..matching.query import parse_query

    problems = []
    for w in config.watches:
        try:
            parse_query(w.query)
        except QueryError as exc:
            problems.append(str(exc.in_watch(w.id, where("watches", w.id, "query"))))
    return problems


def _check_references(config: Config, where: Places, broken: set[str]) -> list[str]:
    """Every reference to something not defined, at the line of the key that makes it. `broken`: entries that
    failed validation (`section:id`); they exist, so a reference to one is not reported again."""
    problems = []
    source_ids = {s.id for s in config.sources}
    agreement_ids = {a.id for a in config.agreements}
    watch_ids = {w.id for w in config.watches}
    written = {k.partition(":")[2] for k in broken if k.startswith(("entities:", "terms:"))}
    entities = set(config.entities) | written

    def missing(section: str, name: str, known: set[str]) -> bool:
        return name not in known and f"{section}:{name}" not in broken

    for a in config.agreements:
        for i, party in enumerate(a.parties):
            if party not in entities:
                problems.append(
                    f"{where('agreements', a.id, 'parties', i)}: agreements[{a.id}].parties: "
                    f"no entity '{party}'{did_you_mean(party, config.entities)}; define it under entities:"
                )
    for src in config.sources:
        for i, entity in enumerate(src.implies):
            if entity not in entities:
                problems.append(
                    f"{where('sources', src.id, 'implies', i)}: sources[{src.id}].implies: no entity '{entity}'"
                    + did_you_mean(entity, config.entities)
                )
    for w in config.watches:
        for i, s in enumerate(w.sources or []):
            if missing("sources", s, source_ids):
                problems.append(
                    f"{where('watches', w.id, 'sources', i)}: watches[{w.id}].sources: no source '{s}'"
                    + did_you_mean(s, source_ids)
                )
        if isinstance(w.agreements, list):
            for i, a_id in enumerate(w.agreements):
                if missing("agreements", a_id, agreement_ids):
                    problems.append(
                        f"{where('watches', w.id, 'agreements', i)}: watches[{w.id}].agreements: no agreement"
                        f" '{a_id}'" + did_you_mean(a_id, agreement_ids)
                    )
    for sub in config.subscribers:
        if isinstance(sub.watches, list):
            for i, w_id in enumerate(sub.watches):
                if missing("watches", w_id, watch_ids):
                    problems.append(
                        f"{where('subscribers', sub.id, 'watches', i)}: subscribers[{sub.id}].watches: no watch"
                        f" '{w_id}'" + did_you_mean(w_id, watch_ids)
                    )
    problems += _check_queries(config, where, set(config.terms) | entities)
    return problems + _check_notify(config, where)


def apprise_schemes() -> list[str]:
    """Every URL scheme the installed apprise knows, from apprise itself (plug-ins come and go by version)."""
    import apprise

    out: set[str] = set()
    for schema in apprise.Apprise().details().get("schemas", []):
        for key in ("protocols", "secure_protocols"):
            value = schema.get(key) or ()
            out.update([value] if isinstance(value, str) else value)
    return sorted(out)


def _check_notify(config: Config, where: Places) -> list[str]:
    """Every unusable apprise URL of every subscriber, with a guess when the scheme is misspelt; checked here so
    they come in one run with the other reference errors."""
    urls = [(sub, i, url) for sub in config.subscribers for i, url in enumerate(sub.notify)]
    if not urls:
        return []
    from ..notify.channels import channel  # apprise is heavy: only configurations that notify load it

    problems = []
    schemes: list[str] | None = None
    for sub, i, url in urls:
        try:
            channel(url)
        except ConfigError:
            scheme = url.split("://", 1)[0].lower() if "://" in url else ""
            schemes = schemes if schemes is not None else apprise_schemes()
            if scheme and scheme not in schemes:
                hint = did_you_mean(scheme, schemes, suffix="://") or "; no apprise service uses it"
                detail = f"unknown apprise scheme '{scheme}://'{hint}"
            elif not scheme:
                detail = "not an apprise URL: write scheme://… (mailto://, json://, tgram://, …)"
            else:
                detail = f"apprise knows {scheme}:// but cannot use this URL; check its parts against the apprise wiki"
            problems.append(f"{where('subscribers', sub.id, 'notify', i)}: subscribers[{sub.id}].notify[{i}]: {detail}")
    return problems
