"""Matching: text analysis, the query language, tracked agreements and explanations. Pure: no I/O."""

from .engine import Watchlist
from .explain import AgreementHit, HitPlace, Match, Snippet

__all__ = ["AgreementHit", "HitPlace", "Match", "Snippet", "Watchlist"]
