"""pydantic's validation errors in an operator's words: where in which file (line), which key, and what to write
instead, with a guess when a key or a name is a typo of a known one."""

from __future__ import annotations

import types
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from ..errors import did_you_mean
from ..sources.registry import SOURCE_TYPES
from .models import ID, ID_RULE, ConfigFile
from .yamlfile import YamlDoc


def clean_loc(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """Drop what pydantic adds to locations but the YAML does not have: the source-type tag of the
    discriminated union (sources[3].feed.url) and TermSet's wrapper field."""
    return tuple(
        part
        for i, part in enumerate(loc)
        if part != "by_language" and not (i == 2 and loc[0] == "sources" and part in SOURCE_TYPES)
    )


def field_path(loc: tuple[Any, ...]) -> str:
    """('watches', 2, 'query') -> 'watches[2].query'."""
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")


def _step(tp: Any, part: Any) -> Any:
    """The type found at `part` inside type `tp` (a model field, a list element, a dict value), or None."""
    origin = get_origin(tp)
    if origin is Annotated:
        return _step(get_args(tp)[0], part)
    if origin in (Union, types.UnionType):
        return next((r for a in get_args(tp) if (r := _step(a, part)) is not None), None)
    if origin is list:
        return get_args(tp)[0] if isinstance(part, int) else None
    if origin is dict:
        return get_args(tp)[1] if isinstance(part, str) else None
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        if part in tp.model_fields:
            return tp.model_fields[part].annotation
        tag = tp.model_fields.get("type")
        if tag is not None and get_origin(tag.annotation) is Literal and get_args(tag.annotation) == (part,):
            return tp  # the tag of a discriminated union: stay on the member it names
    return None


def _field_names(tp: Any) -> list[str]:
    """Every key the model(s) at `tp` accept (a union contributes each member's)."""
    origin = get_origin(tp)
    if origin is Annotated:
        return _field_names(get_args(tp)[0])
    if origin in (Union, types.UnionType):
        return [n for a in get_args(tp) for n in _field_names(a)]
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return list(tp.model_fields)
    return []


def _allowed_keys(raw_loc: tuple[Any, ...]) -> list[str]:
    """The keys allowed where pydantic found an unknown one (raw_loc ends with that key)."""
    tp: Any = ConfigFile
    for part in raw_loc[:-1]:
        tp = _step(tp, part)
        if tp is None:
            return []
    return _field_names(tp)


def _message(err: Any, raw_loc: tuple[Any, ...], loc: tuple[Any, ...]) -> tuple[tuple[Any, ...], str]:
    """An operator's wording of one pydantic error: no 'Value error, ', no raw regex, a guess for a typo."""
    msg = str(err["msg"]).removeprefix("Value error, ")
    ctx = err.get("ctx") or {}
    if err["type"] == "extra_forbidden":
        key = str(raw_loc[-1])
        hint = did_you_mean(key, _allowed_keys(raw_loc)) or "; remove it or check the spelling against the docs"
        msg = f"unknown key (typo?){hint}"
    elif err["type"] == "bool_parsing":
        msg = f"write true or false; got {err.get('input')!r}"
    elif err["type"] == "missing":
        msg = "required key is missing"
    elif err["type"] == "string_pattern_mismatch" and ctx.get("pattern") == ID:
        msg = f"{ID_RULE}; got {err.get('input')!r}"
    elif err["type"] == "union_tag_invalid":
        loc = (*loc, "type")
        tag = str(ctx.get("tag"))
        guess = did_you_mean(tag, SOURCE_TYPES).removeprefix("; ")
        msg = f"unknown source type '{tag}'{f' ({guess})' if guess else ''}; use one of {', '.join(SOURCE_TYPES)}"
    return loc, msg


def describe(doc: YamlDoc, exc: ValidationError) -> list[str]:
    """Each of pydantic's errors as file:line: field: what to do."""
    problems = []
    for err in exc.errors():
        raw_loc = tuple(err["loc"])
        loc, msg = _message(err, raw_loc, clean_loc(raw_loc))
        problems.append(f"{doc.where(loc)}: {field_path(loc)}: {msg}")
    return problems
