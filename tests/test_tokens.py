"""The ASCII shortcut of the tokenizer (matching/text.py `tokens`) gives exactly the regex's tokens: every
document's positions, and so every match and explanation, depend on it."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from treatywatch.matching.text import TOKEN, tokens

TESTS = Path(__file__).parent
# every ASCII character, with words, digits and the separators feeds are made of weighted in
ASCII = st.lists(
    st.one_of(st.characters(max_codepoint=127), st.sampled_from(["Russia", "1996", "_", "-", "'", " ", "\t\n"])),
    max_size=150,
).map("".join)


@settings(max_examples=2000, deadline=None)
@given(ASCII)
def test_ascii_text_gives_the_regexs_tokens(text: str):
    assert text.isascii()
    assert tokens(text) == TOKEN.findall(text)


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=200))
def test_any_text_gives_the_regexs_tokens(text: str):
    assert tokens(text) == TOKEN.findall(text)


def test_every_dev_item_gives_the_regexs_tokens():
    texts = 0
    for devset in ("devset", "devset2"):
        for line in (TESTS / devset / "items.jsonl").read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            for text in (row["title"], row.get("summary") or ""):
                assert tokens(text) == TOKEN.findall(text), text
                texts += text.isascii()
    assert texts > 100  # the shortcut itself was compared, not only the regex with itself
