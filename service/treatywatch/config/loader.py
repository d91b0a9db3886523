"""Load a directory of YAML files into one Config; every problem names file:line and field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..errors import ConfigError
from ..sources.registry import SOURCE_TYPES
from ..vocabularies import Gazetteer, load_vocabulary, merge_terms, vocabulary_names
from .models import Config, ConfigFile, Entity, TermSet
from .yamlfile import YamlDoc, load_yaml

SECTIONS_WITH_IDS = ("sources", "agreements", "watches", "subscribers")
SECTIONS_BY_KEY = ("terms", "entities")


def _clean(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """Drop what pydantic adds to locations but the YAML does not have: the source-type tag of the
    discriminated union (sources[3].feed.url) and TermSet's wrapper field."""
    return tuple(
        part
        for i, part in enumerate(loc)
        if part != "by_language" and not (i == 2 and loc[0] == "sources" and part in SOURCE_TYPES)
    )


def _field(loc: tuple[Any, ...]) -> str:
    """('watches', 2, 'query') -> 'watches[2].query'."""
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")


def _describe(doc: YamlDoc, exc: ValidationError) -> list[str]:
    problems = []
    for err in exc.errors():
        loc = _clean(tuple(err["loc"]))
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key (typo?); remove it or check the spelling against the docs"
        elif err["type"] == "missing":
            msg = "required key is missing"
        elif err["type"] == "union_tag_invalid":
            loc = (*loc, "type")
            tag = err.get("ctx", {}).get("tag")
            msg = f"unknown source type '{tag}'; use one of {', '.join(SOURCE_TYPES)}"
        problems.append(f"{doc.where(loc)}: {_field(loc)}: {msg}")
    return problems


def config_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise ConfigError([f"{path}:1: no such file or directory"])
    files = sorted(p for p in path.rglob("*.y*ml") if p.suffix in (".yaml", ".yml"))
    if not files:
        raise ConfigError([f"{path}:1: no *.yaml files found"])
    return files


def load_config(path: Path, env: dict[str, str] | None = None) -> Config:
    """Validate each file alone (so locations are exact), then merge and cross-check references."""
    problems: list[str] = []
    parsed: list[tuple[YamlDoc, ConfigFile]] = []
    for file in config_files(path):
        try:
            doc = load_yaml(file, env)
        except ConfigError as exc:
            problems.extend(exc.problems)
            continue
        try:
            parsed.append((doc, ConfigFile.model_validate(doc.data)))
        except ValidationError as exc:
            problems.extend(_describe(doc, exc))
    if problems:
        raise ConfigError(problems)

    merged: dict[str, Any] = {name: [] for name in SECTIONS_WITH_IDS} | {name: {} for name in SECTIONS_BY_KEY}
    origins: dict[str, str] = {}
    settings_from: YamlDoc | None = None
    gazetteer_from: YamlDoc | None = None
    requests: list[tuple[YamlDoc, str, list[str]]] = []
    pins: dict[str, str] = {}
    for doc, part in parsed:
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
            for i, entry in enumerate(getattr(part, section)):
                key = f"{section}:{entry.id}"
                here = doc.where((section, i, "id"))
                if key in origins:
                    problems.append(f"{here}: {section}: duplicate id '{entry.id}' (first in {origins[key]})")
                origins[key] = here
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
    if problems:
        raise ConfigError(problems)
    problems.extend(_apply_vocabularies(merged, requests, origins))
    problems.extend(_apply_gazetteer(merged, pins))
    if problems:
        raise ConfigError(problems)
    config = Config(**merged)
    problems.extend(_check_references(config, origins))
    if problems:
        raise ConfigError(problems)
    config._origins.update(origins)
    return config


def _apply_vocabularies(
    merged: dict[str, Any], requests: list[tuple[YamlDoc, str, list[str]]], origins: dict[str, str]
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
        for i, name in enumerate(names):
            if name not in known:
                problems.append(
                    f"{doc.where(('vocabularies', set_name, i))}: vocabularies.{set_name}[{i}]: "
                    f"unknown vocabulary '{name}'; known: {', '.join(known)}"
                )
                continue
            extra = merge_terms(extra, load_vocabulary(name))
        own = merged["terms"].get(set_name)
        merged["terms"][set_name] = TermSet(by_language=merge_terms(own.by_language if own else {}, extra))
        merged["vocabularies"][set_name] = names
        origins.setdefault(f"terms:{set_name}", here)
    return problems


def _apply_gazetteer(merged: dict[str, Any], pins: dict[str, str]) -> list[str]:
    """Check pinned country codes; with `gazetteer: true`, add every form of each entity's countries to it."""
    entities: dict[str, Entity] = merged["entities"]
    enabled = bool(merged.get("gazetteer"))
    if not enabled and all(e.country is None for e in entities.values()):
        return []
    gazetteer = Gazetteer.load()
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
        forms = entity.by_language
        for code in gazetteer.resolve(name, forms) if codes is None else codes:
            forms = merge_terms(forms, gazetteer.countries[code].forms())
        entities[name] = entity.model_copy(update={"by_language": forms})
    return []


def _check_references(config: Config, origins: dict[str, str]) -> list[str]:
    problems = []
    source_ids = {s.id for s in config.sources}
    agreement_ids = {a.id for a in config.agreements}
    watch_ids = {w.id for w in config.watches}
    for a in config.agreements:
        for party in a.parties:
            if party not in config.entities:
                problems.append(
                    f"{origins[f'agreements:{a.id}']}: agreements[{a.id}].parties: "
                    f"no entity '{party}'; define it under entities:"
                )
    for src in config.sources:
        for entity in src.implies:
            if entity not in config.entities:
                problems.append(f"{origins[f'sources:{src.id}']}: sources[{src.id}].implies: no entity '{entity}'")
    for w in config.watches:
        for s in w.sources or []:
            if s not in source_ids:
                problems.append(f"{origins[f'watches:{w.id}']}: watches[{w.id}].sources: no source '{s}'")
        if isinstance(w.agreements, list):
            for a_id in w.agreements:
                if a_id not in agreement_ids:
                    problems.append(f"{origins[f'watches:{w.id}']}: watches[{w.id}].agreements: no agreement '{a_id}'")
    for sub in config.subscribers:
        if isinstance(sub.watches, list):
            for w_id in sub.watches:
                if w_id not in watch_ids:
                    problems.append(
                        f"{origins[f'subscribers:{sub.id}']}: subscribers[{sub.id}].watches: no watch '{w_id}'"
                    )
    return problems
