"""The watch query language: terms, "phrases", @sets, prefix*, AND/OR/NOT, (), NEAR/n, title:, summary:, body:.

Parsing gives a small tree of frozen dataclasses; `engine.py` compiles it against the term sets.
Adjacent terms without an operator are ANDed. Operators are upper case so that "or"/"not" stay words.
Queries come from operators' YAML and from fuzzers: length, nesting and NEAR distance are bounded so that every
bad query is a QueryError with a position, never a RecursionError in the parser, the compiler or the matcher.
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
      (?P<act>doc_type|issuer):(?=\S) |
      (?P<near>NEAR/(?P<n>\d+))(?![\w]) |
      (?P<op>AND|OR|NOT)(?![\w*]) |
      (?P<field>title|summary|body):(?=\S) |
      "(?P<phrase>[^"]*)" |
      (?P<unclosed>"[^"]*$) |
      @(?P<ref>[A-Za-z0-9_.-]+) |
      (?P<word>[^\s()"@]+)
    )""",
    re.X | re.U,
)
FIELDS = ("title", "summary", "body")  # body: the item's document or article (Item.body), page by page
MAX_LENGTH = 4000  # characters; the example watches are under 150
MAX_DEPTH = 32  # nested (), NOT, title: and NEAR/n chains, each a level of the tree the matcher walks
MAX_NEAR = 1000  # words apart; more is "anywhere in the text", which AND says better
# an act's typed fields (Item.act): doc_type:Распоряжение, issuer:"Правительство Российской Федерации"
ACT_FIELDS = ("doc_type", "issuer")


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
        if kind == "act":  # an act's field is a field as title: is; the parser tells them apart
            kind = "field"
        if kind == "ref":
            start -= 1  # point at the '@'
        if kind == "unclosed":
            raise QueryError("unclosed quote", query, start)
        value = {
            "near": m.group("n"),
            "op": m.group("op"),
            "field": m.group("field") or m.group("act"),
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
        if len(query) > MAX_LENGTH:
            raise QueryError(
                f"query longer than {MAX_LENGTH} characters; split it into several watches", query, MAX_LENGTH
            )
        self.toks = _lex(query)
        self.i = 0
        self.depth = 0

    def peek(self) -> _Tok | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def deeper(self, tok: _Tok, levels: int = 1) -> None:
        """Count tree levels as they open; the token that goes past MAX_DEPTH is the error's position."""
        if self.depth + levels > MAX_DEPTH:
            raise self.fail(f"query nested deeper than {MAX_DEPTH} levels (brackets, NOT, title:, NEAR chains)", tok)

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
            self.deeper(t)
            self.i += 1
            self.depth += 1
            try:
                return Not(self.not_())
            finally:
                self.depth -= 1
        return self.near()

    def near(self) -> Node:
        left = self.primary()
        chain = 0
        while (t := self.peek()) and t.kind == "near":
            chain += 1  # (a NEAR b) NEAR c ...: each link is one more level of the tree
            self.deeper(t, chain)
            self.i += 1
            distance = int(t.value) if len(t.value) <= 4 else MAX_NEAR + 1
            if not 1 <= distance <= MAX_NEAR:
                raise self.fail(f"NEAR/n needs n from 1 to {MAX_NEAR}", t)
            self.depth += chain
            try:
                right = self.primary()
            finally:
                self.depth -= chain
            left = Near(left, right, distance)
        return left

    def primary(self) -> Node:
        t = self.peek()
        if t is None:
            raise self.fail("query ends where a term was expected")
        self.i += 1
        if t.kind == "lparen":
            self.deeper(t)
            self.depth += 1
            try:
                node = self.or_()
            finally:
                self.depth -= 1
            close = self.peek()
            if close is None or close.kind != "rparen":
                raise self.fail("missing ')'", close)
            self.i += 1
            return node
        if t.kind == "field":
            if t.value not in FIELDS + ACT_FIELDS:
                raise self.fail(f"unknown field '{t.value}'", t)
            self.deeper(t)
            self.depth += 1
            try:
                return InField(t.value, self.primary())
            finally:
                self.depth -= 1
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
