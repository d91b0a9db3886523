"""Matching throughput: items/s for the example watchlists and for 1,000 generated watches, on one core.

Targets (issue 4): 20,000 items/s and 5,000 items/s; issue 19: the same with the language stage before matching.
Prints figures; asserts nothing.

Last run (2026-12-06 09:00 UTC, quiet machine, after issues 18 and 19): matching alone 33,200 items/s warm with
the example watchlists, 20,500 with 1,000 watches; with the language stage, new texts 100 a poll 20,500 and 13,900,
one a poll 14,200 and 10,900; texts the stage has seen 28,200 and 24,600. Earlier runs under load and why single new
items stay below 20,000: bench/results/matching-language-2026-12-06.md.
"""

from __future__ import annotations

import random
import time
import tracemalloc
from pathlib import Path

from treatywatch.config import load_config
from treatywatch.config.models import Watch
from treatywatch.items import make_item
from treatywatch.matching import Watchlist
from treatywatch.matching.language import CACHE_SIZE, LanguageStage

ROOT = Path(__file__).resolve().parent.parent
WORDS_EN = (
    "government minister said talks economy market agreement Russia France Canada military cooperation week report "
    "energy prices football club contract decree assets bank Ukraine Brussels summit vote parliament law court "
    "terminates signed new plan budget tax health school weather storm police city council trade deal"
).split()
WORDS_RU = (
    "правительство министр заявил переговоры экономика рынок соглашение Россия Франция Канада военный сотрудничество "
    "неделя доклад энергетика цены футбол клуб контракт распоряжение активы банк Украина саммит закон суд прекратило"
).split()


FILLER_EN = [f"w{i}" for i in range(2000)] + "the of and to in for on with at by from as is was that it".split()
FILLER_RU = [f"слово{i}" for i in range(2000)] + "и в на с по для о от что как это был".split()


def corpus(n: int, rng: random.Random, topical: float) -> list:
    """Items of 10-14 title words and 20-40 summary words; `topical` is the share of words from news vocabulary."""
    items = []
    for i in range(n):
        words, filler = (WORDS_RU, FILLER_RU) if i % 3 == 0 else (WORDS_EN, FILLER_EN)

        def pick(words: list[str] = words, filler: list[str] = filler) -> str:
            return rng.choice(words) if rng.random() < topical else rng.choice(filler)

        title = " ".join(pick() for _ in range(rng.randint(10, 14)))
        summary = " ".join(pick() for _ in range(rng.randint(20, 40)))
        items.append(make_item("bench", title=title.capitalize(), summary=summary, guid=str(i)))
    return items


def generated_watches(n: int, rng: random.Random) -> list[Watch]:
    vocab = [w.lower() for w in WORDS_EN + WORDS_RU] + [f"term{i}" for i in range(3000)]
    out = []
    for i in range(n):
        a, b, c = rng.sample(vocab, 3)
        query = rng.choice(
            [
                f"{a} AND {b}",
                f'"{a} {b}" OR {c}',
                f"{a} AND NOT {b}",
                f"{a} NEAR/5 {b}",
                f"title:{a} AND ({b} OR {c})",
                f"@termination AND {a}",
            ]
        )
        out.append(Watch(id=f"gen-{i}", query=query))
    return out


def measure(label: str, watchlist: Watchlist, items: list) -> None:
    """First pass: every word is new to the stem cache. Second pass: steady state, as in a running daemon
    whose feeds reuse their vocabulary."""
    figures = []
    for _ in ("cold", "warm"):
        start = time.process_time()
        fired = sum(len(watchlist.match(item)) for item in items)
        elapsed = time.process_time() - start
        figures.append(len(items) / elapsed)
    print(f"{label:<34} cold {figures[0]:>8,.0f} items/s   warm {figures[1]:>8,.0f} items/s   ({fired} matches)")


def measure_with_language(label: str, watchlist: Watchlist, items: list, poll: int) -> None:
    """The language stage, then matching, as the runner does: `poll` items at a time read for their language
    together (LanguageStage.apply_all), then matched one by one. Cold: a new stage and watchlist. New texts: the
    watchlist's caches warm and every text new to the stage (its cache, CACHE_SIZE texts, is smaller than the
    corpus, so the second pass identifies every item again): what a running daemon pays for each new item.
    Seen texts: the last CACHE_SIZE items again, answered by the stage's cache (a re-match, impact or backtest)."""
    stage = LanguageStage()
    stage.apply(items[0])  # the model's tables are read once per process, outside the timing
    seen = items[-CACHE_SIZE:]
    figures = []
    for batch in (items, items, seen):
        start = time.process_time()
        fired = 0
        for at in range(0, len(batch), poll):
            fired += sum(len(watchlist.match(item)) for item in stage.apply_all(batch[at : at + poll]))
        elapsed = time.process_time() - start
        figures.append(len(batch) / elapsed)
    print(
        f"{label:<38} cold {figures[0]:>8,.0f} items/s   new texts {figures[1]:>8,.0f} items/s   "
        f"seen texts {figures[2]:>8,.0f} items/s   ({fired} matches in the last)"
    )


def main() -> None:
    rng = random.Random(7)
    config = load_config(ROOT / "config", {})
    watches = generated_watches(1000, rng)
    for label, topical in (("news-like: 10% topical words", 0.10), ("dense: every word topical", 1.0)):
        items = corpus(20_000, rng, topical)
        example = Watchlist(config)
        big = Watchlist(config.model_copy(update={"watches": watches}))
        print(f"-- {len(items):,} items, {label}")
        measure(f"example watchlists ({len(example.watches)} watches)", example, items)
        measure("1,000 generated watches", big, items)
        for poll in (1, 100):
            measure_with_language(f"language + example, {poll} a poll", Watchlist(config), items, poll)
            measure_with_language(
                f"language + 1,000 watches, {poll} a poll",
                Watchlist(config.model_copy(update={"watches": watches})),
                items,
                poll,
            )
    tracemalloc.start()
    Watchlist(config.model_copy(update={"watches": generated_watches(1000, rng)}))
    _, peak = tracemalloc.get_traced_memory()
    print(f"memory to compile 1,000 watches: {peak / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
