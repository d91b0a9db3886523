"""Matching throughput with bodies (issue 18): items/s of the example watchlists on items whose body (an act's
document) runs to 5,000 words over 17 pages, on one core (items per CPU second).

Three cases: titles that fire nothing (the body is read only by watches that ask for it: none in the example);
generic act titles that fire the agreement watches (the body's operative part and its other sentences are read for
agreements); and every watch reading the body (`fields: [title, summary, body]`). A fifth of the bodies hold an
operative clause listing five tracked agreements. Prints figures; asserts nothing.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

from treatywatch.config import load_config
from treatywatch.items import make_item
from treatywatch.matching import Watchlist

ROOT = Path(__file__).resolve().parent.parent
BODY_WORDS = 5_000
WORDS_PER_LINE = 12
LINES_PER_PAGE = 25
WORDS = (
    "Правительство Российской Федерации распоряжение постановление федеральный закон министерство обороны "
    "соглашение договор сотрудничество военный техническое обеспечение бюджет ассигнования пределах численности "
    "органов исполнительной власти мероприятия осуществляемых рамках указанных пункте настоящего года статьи "
    "Франция Канада Германия Португалия Польша уведомить решении прекращении действия"
).split()
FILLER = [f"слово{i}" for i in range(3000)] + "и в на с по для о от что как это был".split()
STATES = ("Канады", "Французской Республики", "Португальской Республики", "Республики Болгария", "Румынии")
OPERATIVE = "1. Прекратить действие следующих соглашений:\n" + "\n".join(
    f"{n}) Соглашение между Правительством Российской Федерации и Правительством {s} о военном сотрудничестве, "
    f"подписанное в 199{n} году{';' if n < len(STATES) else '.'}"
    for n, s in enumerate(STATES, start=1)
)
TITLES = ("Распоряжение Правительства Российской Федерации от 12.11.2026 № {n}-р", "О бюджете на {n} год")
FIRING = 'Распоряжение от 12.11.2026 № {n}-р "О прекращении действия ряда международных договоров"'


def body(rng: random.Random, operative: bool) -> str:
    words = [rng.choice(WORDS) if rng.random() < 0.3 else rng.choice(FILLER) for _ in range(BODY_WORDS)]
    lines = [" ".join(words[i : i + WORDS_PER_LINE]) + "." for i in range(0, len(words), WORDS_PER_LINE)]
    if operative:
        lines[30:30] = OPERATIVE.split("\n")
    pages = ["\n".join(lines[i : i + LINES_PER_PAGE]) for i in range(0, len(lines), LINES_PER_PAGE)]
    return "\f".join(pages)


def corpus(n: int, rng: random.Random, firing: bool) -> list:
    items = []
    for i in range(n):
        title = (FIRING if firing else rng.choice(TITLES)).format(n=1000 + i)
        items.append(make_item("pravo-government", title=title, guid=str(i), language="ru", body=body(rng, i % 5 == 0)))
    return items


def rate(wl: Watchlist, items: list) -> tuple[float, int]:
    for item in items[:20]:  # warm the word caches, as a running daemon has them
        wl.match(item)
    start = time.process_time()  # CPU time of this process: the machine's other work does not count
    fired = sum(len(wl.match(item)) for item in items)
    return len(items) / (time.process_time() - start), fired


def main() -> None:
    rng = random.Random(18)
    config = load_config(ROOT / "config")
    example = Watchlist(config)
    reading = config.model_copy(
        update={"watches": [w.model_copy(update={"fields": ["title", "summary", "body"]}) for w in config.watches]}
    )
    all_body = Watchlist(reading, example.analyzer)
    quiet, firing = corpus(300, rng, firing=False), corpus(300, rng, firing=True)
    words = sum(len(i.body.split()) for i in quiet) / len(quiet)
    print(f"bodies of {words:,.0f} words, {quiet[0].body.count(chr(12)) + 1} pages; example watchlists")
    for label, wl, items in (
        ("titles fire nothing, default fields", example, quiet),
        ("titles fire the agreement watches", example, firing),
        ("every watch reads the body, quiet titles", all_body, quiet),
        ("every watch reads the body, firing titles", all_body, firing),
    ):
        per_s, fired = rate(wl, items)
        print(f"{label:45} {per_s:8,.0f} items/s  ({fired} matches on {len(items)} items)")


if __name__ == "__main__":
    main()
