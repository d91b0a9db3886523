"""Shipped concept vocabularies and the country gazetteer, read from the YAML next to this module.

They are data an operator opts into (`vocabularies:` and `gazetteer:` in a config file, see docs/vocabularies.md);
config/loader.py merges them into ordinary term sets and entities, so the matcher never knows they exist.
Everything here is pure: it reads files shipped in the package and returns values.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from pathlib import Path

import yaml

TermLists = dict[str, list[str]]  # the shape of config.models.TermLists; no import, so config can import this module
HERE = Path(__file__).parent
GAZETTEER = HERE / "gazetteer.yaml"
KINDS = ("names", "capitals", "adjectives", "demonyms")
_NOT_VOCABULARIES = frozenset({"gazetteer", "gazetteer_hand"})
_SHORT_I = "\x00"

__all__ = [
    "KINDS",
    "Country",
    "Gazetteer",
    "fold",
    "load_vocabulary",
    "merge_terms",
    "names_foreign_states",
    "vocabulary_names",
]


def fold(text: str) -> str:
    """The matcher's comparison form (case, accents and ё dropped, й kept), so de-duplication agrees with matching."""
    if text.isascii():
        return " ".join(text.lower().split())  # nothing to decompose: most terms, read at every start
    text = " ".join(text.lower().replace("й", _SHORT_I).split())
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return text.replace(_SHORT_I, "й")


def read_data(path: Path) -> object:
    """A YAML data file shipped in the package, read with libyaml's C loader where PyYAML has it (about ten times
    the pure-Python one: the shipped vocabularies and cue lists are read at every start)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(path.read_text(encoding="utf-8"), Loader=loader)


UNLESS_NEAR = "unless_near"  # keys of a vocabulary file that are not languages
FOREIGN_STATES = "foreign_states"  # true: the set also names every gazetteer country but the watchlist's home


def vocabulary_names() -> list[str]:
    """Names an operator may list under `vocabularies:`, one per shipped YAML file."""
    return sorted(p.stem for p in HERE.glob("*.yaml") if p.stem not in _NOT_VOCABULARIES)


def read_vocabulary(name: str) -> tuple[TermLists, TermLists]:
    """One shipped vocabulary, read once: its terms by language, and its `unless_near` words by language
    (neighbours that make its terms name something else: a private investor's frozen assets are not a state's;
    empty for most). KeyError for a name that is not shipped."""
    if name not in vocabulary_names():
        raise KeyError(name)
    data = read_data(HERE / f"{name}.yaml")
    unless = data.get(UNLESS_NEAR, {}) if isinstance(data, dict) else None
    skip = frozenset({UNLESS_NEAR, FOREIGN_STATES})
    return _term_lists(data, f"{name}.yaml", skip=skip), _term_lists(unless, f"{name}.yaml: {UNLESS_NEAR}")


def names_foreign_states(name: str) -> bool:
    """Does the shipped vocabulary also stand for every country but the watchlist's home (international)?"""
    data = read_data(HERE / f"{name}.yaml")
    return isinstance(data, dict) and data.get(FOREIGN_STATES) is True


def _term_lists(data: object, where: str, skip: frozenset[str] = frozenset()) -> TermLists:
    if not isinstance(data, dict) or not all(isinstance(v, list) for k, v in data.items() if k not in skip):
        raise ValueError(f"{where}: expected language -> list of terms")
    return {str(lang): [str(t) for t in terms] for lang, terms in data.items() if lang not in skip}


def load_vocabulary(name: str) -> TermLists:
    """Terms of one shipped vocabulary by language; KeyError for a name that is not shipped."""
    return read_vocabulary(name)[0]


def load_exceptions(name: str) -> TermLists:
    """A vocabulary's `unless_near` words by language."""
    return read_vocabulary(name)[1]


def merge_terms(base: TermLists, *extras: TermLists) -> TermLists:
    """`base` unchanged and in order, then every form of each of `extras` whose folded form is not held already.
    Many lists merged in one call fold each form once (the gazetteer's names of some 200 countries, merged one
    country at a time, folded every name held so far again for each: a tenth of every start)."""
    out = {lang: list(terms) for lang, terms in base.items()}
    seen = {lang: {fold(t) for t in terms} for lang, terms in out.items()}
    for extra in extras:
        for lang, terms in extra.items():
            have, held = out.setdefault(lang, []), seen.setdefault(lang, set())
            for term in terms:
                folded = fold(term)
                if folded not in held:
                    held.add(folded)
                    have.append(term)
    return out


@dataclass(frozen=True)
class Country:
    code: str
    kinds: dict[str, TermLists]  # names / capitals / adjectives / demonyms -> language -> forms

    def forms(self) -> TermLists:
        """Every form of the country, names first, as one term list per language."""
        return merge_terms({}, *(self.kinds.get(kind, {}) for kind in KINDS))


@dataclass(frozen=True)
class Gazetteer:
    """Countries by ISO 3166 code, and the folded names (any language) that recognise each."""

    countries: dict[str, Country]
    by_name: dict[str, frozenset[str]]

    @classmethod
    def load(cls, path: Path = GAZETTEER) -> Gazetteer:
        data = read_data(path)
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected country code -> kind -> language -> forms")
        countries = {str(code): Country(str(code), kinds) for code, kinds in data.items()}
        by_name: dict[str, set[str]] = {}
        for country in countries.values():
            for key in (country.code, *(n for names in country.kinds.get("names", {}).values() for n in names)):
                by_name.setdefault(fold(key), set()).add(country.code)
        return cls(countries, {k: frozenset(v) for k, v in by_name.items()})

    def resolve(self, entity_id: str, by_language: TermLists) -> list[str]:
        """Countries an entity stands for: the one its id names (`uk`, `czechia`, `fr`), else every country one of
        its terms names (`United Kingdom`, `СССР`); capitals and adjectives alone never decide."""
        from_id = self.by_name.get(fold(entity_id.replace("_", " ").replace("-", " ")))
        if from_id:
            return sorted(from_id)
        found: set[str] = set()
        for terms in by_language.values():
            for term in terms:
                found |= self.by_name.get(fold(term), frozenset())
        return sorted(found)
