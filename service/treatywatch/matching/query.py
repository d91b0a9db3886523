"""The watch query language: terms, "phrases", @sets, prefix*, AND/OR/NOT, (), NEAR/n, title:.

Parsing gives a small tree of frozen dataclasses; `engine.py` compiles it against the term sets.
Adjacent terms without an operator are ANDed. Operators are upper case so that "or"/"not" stay words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import QueryError


@dataclass(frozen=True)
class Words:
    """A term or quoted phrase as written."""

    text: str


@dataclass(frozen=True)
class Prefix:
    text: str


@dataclass(frozen=True)
class SetRef:
    name: str
    position: int


@dataclass(frozen=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    child: Node


@dataclass(frozen=True)
class Near:
    left: Node
    right: Node
    distance: int


@dataclass(frozen=True)
class InField:
    field: str
    child: Node


Node = Words | Prefix | SetRef | And | Or | Not | Near | InField

_LEXER = re.compile(
    r"""\s*(?:
      (?P<lparen>\() | (?P<rparen>\)) |
      (?P<near>NEAR/(?P<n>\d+))(?![\w]) |
      (?P<op>AND|OR|NOT)(?![\w*]) |
      (?P<field>title):(?=\S) |
      "(?P<phrase>[^"]*)" |
      (?P<unclosed>"[^"]*$) |
      @(?P<ref>[A-Za-z0-9_.-]+) |
      (?P<word>[^\s()"@]+)
    )""",
    re.X | re.U,
)
FIELDS = ("title",)


@dataclass(frozen=True)
class _Tok:
    kind: str
    value: str
    pos: int


def _lex(query: str) -> list[_Tok]:
    out: list[_Tok] = []
    i = 0
    while i < len(query):
        if query[i:].strip() == "":
            break
        m = _LEXER.match(query, i)
        if not m or m.end() == i:
            raise QueryError("unexpected character", query, i)
        start = m.start(m.lastgroup or 0)
        kind = m.lastgroup or ""
        if kind == "n":
            kind = "near"
        if kind == "ref":
            start -= 1  # point at the '@'
        if kind == "unclosed":
            raise QueryError("unclosed quote", query, start)
        value = {
            "near": m.group("n"),
            "op": m.group("op"),
            "field": m.group("field"),
            "phrase": m.group("phrase"),
            "ref": m.group("ref"),
            "word": m.group("word"),
        }.get(kind, "")
        out.append(_Tok(kind, value or "", start))
        i = m.end()
    return out


class _Parser:
    def __init__(self, query: str) -> None:
        self.query = query
        self.toks = _lex(query)
        self.i = 0

    def peek(self) -> _Tok | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def fail(self, message: str, tok: _Tok | None = None) -> QueryError:
        pos = tok.pos if tok else (self.peek().pos if self.peek() else len(self.query))  # type: ignore[union-attr]
        return QueryError(message, self.query, pos)

    def parse(self) -> Node:
        if not self.toks:
            raise QueryError("empty query", self.query, 0)
        node = self.or_()
        tok = self.peek()
        if tok is not None:
            raise self.fail("unexpected ')'" if tok.kind == "rparen" else f"unexpected '{tok.value}'", tok)
        return node

    def or_(self) -> Node:
        children = [self.and_()]
        while (t := self.peek()) and t.kind == "op" and t.value == "OR":
            self.i += 1
            children.append(self.and_())
        return children[0] if len(children) == 1 else Or(tuple(children))

    def and_(self) -> Node:
        children = [self.not_()]
        while (t := self.peek()) and (
            (t.kind == "op" and t.value in ("AND", "NOT")) or t.kind in ("lparen", "phrase", "ref", "word", "field")
        ):
            if t.kind == "op" and t.value == "AND":
                self.i += 1
            children.append(self.not_())
        return children[0] if len(children) == 1 else And(tuple(children))

    def not_(self) -> Node:
        t = self.peek()
        if t and t.kind == "op" and t.value == "NOT":
            self.i += 1
            return Not(self.not_())
        return self.near()

    def near(self) -> Node:
        left = self.primary()
        while (t := self.peek()) and t.kind == "near":
            self.i += 1
            distance = int(t.value)
            if distance < 1:
                raise self.fail("NEAR/n needs n of at least 1", t)
            left = Near(left, self.primary(), distance)
        return left

    def primary(self) -> Node:
        t = self.peek()
        if t is None:
            raise self.fail("query ends where a term was expected")
        self.i += 1
        if t.kind == "lparen":
            node = self.or_()
            close = self.peek()
            if close is None or close.kind != "rparen":
                raise self.fail("missing ')'", close)
            self.i += 1
            return node
        if t.kind == "field":
            if t.value not in FIELDS:
                raise self.fail(f"unknown field '{t.value}'", t)
            return InField(t.value, self.primary())
        if t.kind == "phrase":
            if not t.value.strip():
                raise self.fail("empty phrase", t)
            return Words(t.value)
        if t.kind == "ref":
            return SetRef(t.value, t.pos)
        if t.kind == "word":
            if t.value.endswith("*"):
                stem = t.value.rstrip("*")
                if len(stem) < 2 or "*" in stem:
                    raise self.fail("a wildcard needs at least two letters before a single trailing '*'", t)
                return Prefix(stem)
            return Words(t.value)
        raise self.fail(f"expected a term, found '{t.value or t.kind}'", t)


def parse_query(query: str) -> Node:
    """Parse or raise QueryError with the position of the problem."""
    return _Parser(query).parse()
