"""Exponential backoff with jitter, shared by failing sources and failing deliveries."""

from __future__ import annotations

import random


def backoff(attempt: int, base: float, cap: float, rng: random.Random, retry_after: float | None = None) -> float:
    """Seconds to wait after the `attempt`-th consecutive failure (1-based); never less than a server's Retry-After."""
    delay = min(cap, base * 2 ** max(0, attempt - 1))
    delay *= rng.uniform(0.5, 1.0) if delay < cap else rng.uniform(0.9, 1.0)
    if retry_after is not None:
        delay = max(delay, min(retry_after, cap * 4))
    return delay
