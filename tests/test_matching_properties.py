"""Property-based: matching never raises, and a query, its verdict and its explanation agree."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from test_matching import watchlist
from treatywatch.errors import QueryError
from treatywatch.items import make_item
from treatywatch.matching.query import parse_query

# Words no stemmer changes and no other word stems to: the reference model can compare them as plain strings.
VOCAB = ["zork", "blim", "quax", "vremt", "плюк", "дзорн"]


def _query(draw_depth: int) -> st.SearchStrategy:
    leaf = st.sampled_from(VOCAB)
    return st.recursive(
        leaf.map(lambda w: ("w", w)),
        lambda inner: st.one_of(
            st.tuples(st.just("and"), inner, inner),
            st.tuples(st.just("or"), inner, inner),
            st.tuples(st.just("not"), inner),
        ),
        max_leaves=draw_depth,
    )


def render(q: tuple) -> str:
    kind = q[0]
    if kind == "w":
        return q[1]
    if kind == "not":
        return f"NOT ({render(q[1])})"
    return f"({render(q[1])} {kind.upper()} {render(q[2])})"


def truth(q: tuple, words: set[str]) -> bool:
    kind = q[0]
    if kind == "w":
        return q[1] in words
    if kind == "not":
        return not truth(q[1], words)
    left, right = truth(q[1], words), truth(q[2], words)
    return left and right if kind == "and" else left or right


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(query=_query(6), text=st.lists(st.sampled_from([*VOCAB, "the", "and", "of"]), max_size=12))
def test_verdict_and_explanation_agree_with_a_reference_model(query, text):
    wl = watchlist(render(query))
    title = " ".join(text)
    matches = wl.match(make_item("t", title=title))
    assert bool(matches) == truth(query, set(text)), (render(query), title)
    for m in matches:
        for hit in m.hits:
            assert title[hit.start : hit.end] == hit.text
            assert hit.text.lower() in VOCAB and hit.text.lower() in render(query)


@settings(max_examples=300, deadline=None)
@given(title=st.text(max_size=300), summary=st.text(max_size=600))
def test_matching_never_raises_on_arbitrary_text(title, summary):
    wl = _EXAMPLE
    for m in wl.match(make_item("news", title=title, summary=summary)):
        assert m.snippet.text is not None
        for s, e in m.snippet.marks:
            assert 0 <= s < e <= len(m.snippet.text)


@settings(max_examples=300, deadline=None)
@given(query=st.text(max_size=60))
def test_parser_raises_only_query_errors(query):
    try:
        parse_query(query)
    except QueryError as exc:
        assert 0 <= exc.position <= len(query)


def _example():
    from pathlib import Path

    from treatywatch.app import compile_config

    return compile_config(Path(__file__).resolve().parent.parent / "config", {})[1]


_EXAMPLE = _example()
