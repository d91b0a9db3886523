"""YAML reading that remembers where each value came from, so errors can name file:line.

Operators' files are trusted to be mistaken, not to be kind: a file that is not UTF-8, holds control characters,
nests collections thousands deep or expands aliases exponentially ("billion laughs") is refused with file:line
before it can cost more than a few milliseconds, instead of hanging `check` or ending in a traceback.
"""

from __future__ import annotations

import math
import os
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import yaml
from yaml.error import Mark

from ..errors import ConfigError

Path_ = tuple[str | int, ...]
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")

MAX_DEPTH = 64  # collections inside collections; real configs use 4 or 5
MAX_ALIASES = 100  # `*name` uses per file
MAX_ALIAS_NODES = 10_000  # values repeated through aliases per file (the expansion, not the text)
MAX_INT = 2**63 - 1  # what SQLite and every setting can hold; beyond is a typo
# What the YAML reader refuses (yaml.reader.Reader.NON_PRINTABLE), found first so the error names the line.
_NON_PRINTABLE = re.compile("[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@dataclass
class YamlDoc:
    """Plain data of one file plus the line of every node, keyed by its path in the document."""

    path: Path
    data: Any
    lines: dict[Path_, int] = field(default_factory=dict)

    def line_of(self, loc: Path_) -> int:
        """Line of the deepest known node on `loc` (pydantic locations may run deeper than the YAML)."""
        for n in range(len(loc), -1, -1):
            if loc[:n] in self.lines:
                return self.lines[loc[:n]]
        return 1

    def where(self, loc: Path_) -> str:
        return f"{self.path}:{self.line_of(loc)}"


def substitute_env(text: str, env: dict[str, str], missing: list[str]) -> str:
    """Replace ${NAME} and ${NAME:-default}; names without value and default are collected, not guessed."""

    def repl(m: re.Match[str]) -> str:
        name, default = m.group(1), m.group(2)
        if name in env:
            return env[name]
        if default is not None:
            return default
        missing.append(name)
        return ""

    return _ENV.sub(repl, text)


class _Refused(yaml.MarkedYAMLError):
    """A document the bounded composer will not build; carries the mark like any YAML syntax error."""


def _too_deep(mark: Mark | None) -> _Refused:
    return _Refused(
        problem=f"nested deeper than {MAX_DEPTH} levels; a configuration never needs that", problem_mark=mark
    )


class _Budget:
    """Aliases and nesting of one document, counted event by event by whichever composer reads it."""

    def __init__(self) -> None:
        self.depth = 0
        self.aliases = 0

    def see(self, event: yaml.Event) -> None:
        mark = cast(Mark, event.start_mark)
        if isinstance(event, yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                raise _Refused(
                    problem=f"more than {MAX_ALIASES} aliases (*name); write the values out instead", problem_mark=mark
                )
        elif isinstance(event, yaml.CollectionStartEvent):
            if self.depth >= MAX_DEPTH:
                raise _too_deep(mark)
            self.depth += 1
        elif isinstance(event, yaml.CollectionEndEvent):
            self.depth -= 1


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader whose composer counts nesting and aliases as it goes, so it never recurses or expands far."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._budget = _Budget()

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        event = self.peek_event()
        self._budget.see(event)
        try:
            return super().compose_node(parent, index)
        finally:
            if isinstance(event, yaml.CollectionStartEvent):
                self._budget.depth -= 1  # its end event is consumed inside the composer, never peeked here


_CLoader = getattr(yaml, "CSafeLoader", None)


def _compose(text: str) -> yaml.Node | None:
    """The node graph of one document. With libyaml, its events are first counted in a flat loop (nesting and
    aliases within bounds) and the document then composed in C: a 5,000-source file took 3 s in pure Python. The C
    composer recurses, which is why nothing deeper than MAX_DEPTH reaches it. Without libyaml, the bounded
    pure-Python composer does both at once."""
    if _CLoader is None:
        loader: yaml.SafeLoader = _BoundedLoader(text)
        try:
            return loader.get_single_node()
        finally:
            loader.dispose()
    scan = _CLoader(text)
    try:
        budget = _Budget()
        while scan.check_event():
            budget.see(scan.get_event())
    except yaml.MarkedYAMLError as exc:
        if "maximum nesting depth" not in str(exc.problem):
            raise
        # libyaml's own limit (1,000 flow levels), met while it scans ahead: the same refusal as ours
        raise _too_deep(exc.problem_mark) from None
    finally:
        scan.dispose()
    loader = _CLoader(text)
    try:
        return cast(yaml.Node | None, loader.get_single_node())
    finally:
        loader.dispose()


def _char_problem(text: str, where: Path) -> str | None:
    m = _NON_PRINTABLE.search(text)
    if m is None:
        return None
    ch = m.group()
    line = text.count("\n", 0, m.start()) + 1
    column = m.start() - (text.rfind("\n", 0, m.start()) + 1) + 1
    name = unicodedata.name(ch, "") or {"\x0c": "FORM FEED", "\x1b": "ESCAPE", "\x00": "NUL"}.get(ch, "control")
    return (
        f"{where}:{line}: control character U+{ord(ch):04X} ({name}) at column {column} is not allowed in YAML; "
        "delete it (editors may show it as ^L, ^[ or nothing at all)"
    )


def _decode(raw: bytes, path: Path) -> str:
    """UTF-8 (with or without BOM); anything else names the line of the first bad byte."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ConfigError(
            [f"{path}:{line}: not UTF-8 (byte 0x{raw[exc.start]:02x} at column {column}); save the file as UTF-8"]
        ) from None


class _Walk:
    """Turns the node graph into plain data once, bounded: aliases may repeat a node, never loop or explode."""

    def __init__(self, where: str, env: dict[str, str]) -> None:
        self.where = where
        self.env = env
        self.lines: dict[Path_, int] = {}
        self.problems: list[str] = []
        self.seen: set[int] = set()
        self.open: set[int] = set()
        self.repeated = 0
        self.loader = yaml.SafeLoader("")

    def refuse(self, line: int, message: str) -> ConfigError:
        return ConfigError([f"{self.where}:{line}: {message}"])

    def value(self, node: yaml.Node, at: Path_, alias_line: int | None = None) -> Any:
        """`alias_line`: inside a repeated value, the line of the alias that repeats it (where a reader looks)."""
        if id(node) in self.seen and alias_line is None:
            alias_line = self.lines.get(at[:-1], node.start_mark.line + 1)
        line = alias_line or node.start_mark.line + 1
        if id(node) in self.open:
            raise self.refuse(line, "an alias refers to a value that contains it (recursive alias); remove it")
        if id(node) in self.seen:
            self.repeated += 1
            if self.repeated > MAX_ALIAS_NODES:
                raise self.refuse(line, f"aliases expand to more than {MAX_ALIAS_NODES} values; write them out")
        self.seen.add(id(node))
        if len(at) > 2 * MAX_DEPTH:  # nesting reached only through aliases inside aliases
            raise self.refuse(line, f"nested deeper than {MAX_DEPTH} levels through aliases")
        self.lines[at] = node.start_mark.line + 1
        if isinstance(node, yaml.ScalarNode):
            return self.scalar(node)
        self.open.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode):
                return self.mapping(node, at, alias_line)
            return [self.value(v, (*at, i), alias_line) for i, v in enumerate(node.value)]
        finally:
            self.open.discard(id(node))

    def mapping(self, node: yaml.MappingNode, at: Path_, alias_line: int | None) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for knode, vnode in node.value:
            line = knode.start_mark.line + 1
            if not isinstance(knode, yaml.ScalarNode):
                self.problems.append(f"{self.where}:{line}: a key must be a plain word, not a list or mapping")
                continue
            key = knode.value
            if key in out:
                self.problems.append(f"{self.where}:{line}: duplicate key '{key}'")
            out[key] = self.value(vnode, (*at, key), alias_line)
            self.lines[(*at, key)] = line  # the key line, where a reader looks
        return out

    def scalar(self, node: yaml.ScalarNode) -> Any:
        line = node.start_mark.line + 1
        try:
            value = self.loader.construct_object(node)
        except (yaml.YAMLError, ValueError, TypeError, OverflowError) as exc:
            reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            self.problems.append(f"{self.where}:{line}: cannot read value '{node.value[:60]}': {reason}")
            return None
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INT:
            self.problems.append(f"{self.where}:{line}: number {node.value[:40]} is too large (at most {MAX_INT})")
            return None
        if isinstance(value, float) and not math.isfinite(value):
            self.problems.append(f"{self.where}:{line}: number {node.value[:40]} is not finite; write a real number")
            return None
        if isinstance(value, str) and "${" in value:
            missing: list[str] = []
            value = substitute_env(value, self.env, missing)
            for name in missing:
                self.problems.append(
                    f"{self.where}:{line}: environment variable {name} is not set "
                    f"(set it, or write ${{{name}:-default}})"
                )
        return value


def _line(mark: Mark | None) -> int:
    return mark.line + 1 if mark is not None else 1


_KEY_LINE = re.compile(r"""(?P<dash>-\s+)?(?P<key>"[^"]*"|'[^']*'|[^\s#"'\[\]{}:][^#:]*?)\s*:(?:\s|$)""")


def keys_around(text: str, line: int) -> str:
    """The key path of the block the given line sits in (watches[1].agreements), read from the lines' indentation
    alone: a file that does not parse has no tree to ask."""
    stack: list[tuple[int, str]] = []  # (indent, "key" or "[n]")
    items: dict[tuple[str, ...], int] = {}
    for raw in text.splitlines()[: max(0, line - 1)] + text.splitlines()[line - 1 : line]:
        body = raw.lstrip(" \t")
        if not body or body.startswith("#"):
            continue
        indent = len(raw) - len(body)
        m = _KEY_LINE.match(body)
        dash = body.startswith("-") and (len(body) == 1 or body[1] in " \t")
        if dash:
            while stack and (stack[-1][0] > indent or (stack[-1][0] == indent and stack[-1][1].startswith("["))):
                stack.pop()
            parent = tuple(label for _, label in stack)
            items[parent] = items.get(parent, -1) + 1
            stack.append((indent, f"[{items[parent]}]"))
            if m and m.group("dash"):
                stack.append((indent + len(m.group("dash")), m.group("key").strip("\"'")))
            continue
        if m:
            while stack and stack[-1][0] >= indent:
                stack.pop()
            stack.append((indent, m.group("key").strip("\"'")))
    return "".join(label if label.startswith("[") else f".{label}" for _, label in stack).lstrip(".")


def syntax_problem(path: Path, text: str, exc: yaml.MarkedYAMLError) -> str:
    """file:line: YAML syntax error at column C (in the key path around it): what the parser found; a hint."""
    mark = exc.problem_mark or exc.context_mark
    problem = str(exc.problem or exc)
    context = str(exc.context or "")
    unclosed = exc.context_mark is not None and ("flow" in context or "quoted" in context)
    if unclosed:  # the parser noticed at the end of the value; the fault is where the bracket or quote opened
        mark = exc.context_mark
        problem = f"{context} (opened here) the parser {problem.removeprefix('found ')}"
    line, column = _line(mark), (mark.column + 1 if mark is not None else 1)
    where = keys_around(text, line)
    source = text.splitlines()[line - 1] if 0 < line <= len(text.splitlines()) else ""
    if "\t" in source[: max(column, len(source) - len(source.lstrip(" \t")))] or "'\\t'" in problem:
        at = source.index("\t") + 1 if "\t" in source else column
        hint = f"a tab at column {at}: YAML indents with spaces only; replace the tab with spaces"
    elif "could not find expected ':'" in problem or "expected <block end>" in problem:
        hint = "a line is indented differently from its neighbours, or a key lacks its ':'"
    elif "mapping values are not allowed" in problem:
        hint = "a value holds ': ' (quote it), or a key is indented under a value"
    elif unclosed:
        hint = "a quote or bracket opened here is not closed (or a value inside it needs quotes)"
    else:
        hint = "check the indentation and the quotes of this line and the one before"
    return f"{path}:{line}: YAML syntax error at column {column}{f' (in {where})' if where else ''}: {problem}; {hint}"


def load_yaml(path: Path, env: dict[str, str] | None = None) -> YamlDoc:
    """Parse one file within bounds; every failure is a ConfigError whose problems name file:line."""
    env = dict(os.environ) if env is None else env
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError([f"{path}:1: cannot read: {exc.strerror or exc}"]) from exc
    text = _decode(raw, path)
    if problem := _char_problem(text, path):
        raise ConfigError([problem])
    try:
        node = _compose(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        if isinstance(exc, _Refused):
            raise ConfigError([f"{path}:{_line(mark)}: refused: {exc.problem or exc}"]) from None
        raise ConfigError([syntax_problem(path, text, exc)]) from None
    except yaml.YAMLError as exc:  # ReaderError and the like: no mark, a position at best
        pos = getattr(exc, "position", None)
        line = text.count("\n", 0, pos) + 1 if isinstance(pos, int) else 1
        raise ConfigError([f"{path}:{line}: YAML error: {str(exc).splitlines()[0]}"]) from None
    if node is None:
        return YamlDoc(path, {})
    walk = _Walk(str(path), env)
    data = walk.value(node, ())
    if walk.problems:
        raise ConfigError(walk.problems)
    if not isinstance(data, dict):
        raise ConfigError([f"{path}:1: expected a mapping of sections (sources:, watches:, ...)"])
    return YamlDoc(path, data, walk.lines)
