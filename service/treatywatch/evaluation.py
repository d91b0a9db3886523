"""Precision and recall of the watchlists on labeled items, so operators can tune before they deploy.

A case file is YAML: `language`, optional `source`, and `cases:` of {title, summary, expect: [watch ids]}.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field, ValidationError

from .config.common import Strict
from .config.loader import config_files
from .config.yamlfile import load_yaml
from .errors import ConfigError
from .items import Item, make_item
from .matching import Watchlist
from .matching.diagnose import Diagnosis, diagnose
from .matching.language import LanguageStage

if TYPE_CHECKING:
    from .store import SqlStore
    from .store.verdicts import Label

# Labeled items are news of their day: give them a date so historic years read as such.
CASE_DATE = datetime(2025, 12, 6, 12, 0, tzinfo=UTC)


class CaseModel(Strict):
    title: str
    summary: str = ""
    expect: list[str] = Field(default_factory=list)
    source: str | None = None
    agreements: list[str] | None = Field(
        default=None, description="Tracked agreements the item is about (scored where an agreement watch fires)."
    )
    subject: list[str] = Field(default_factory=list, description="Two-event items: the agreements it is mainly about.")


class CaseFile(Strict):
    language: str
    source: str = "news"
    cases: list[CaseModel]


@dataclass(frozen=True)
class Case:
    title: str
    summary: str
    language: str
    source: str
    expect: frozenset[str]
    where: str
    agreements: frozenset[str] | None = None


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


@dataclass
class Report:
    cases: int = 0
    overall: Score = field(default_factory=Score)
    by_watch: dict[str, Score] = field(default_factory=dict)
    by_language: dict[str, Score] = field(default_factory=dict)
    mistakes: list[tuple[Case, frozenset[str], frozenset[str]]] = field(default_factory=list)  # missed, extra
    attribution: list[bool] = field(default_factory=list)  # per caught agreement-watch case: the exact set?
    # with errors=True: each false alarm and miss with its hits, the rule that decided and its class
    diagnoses: list[tuple[Case, Diagnosis]] = field(default_factory=list)

    def errors(self) -> str:
        """Each false alarm and miss, why, and how many of each class (`treatywatch evaluate --errors`)."""
        return errors_text([(c.where, c.title, d) for c, d in self.diagnoses])

    def table(self) -> str:
        lines = [f"{'':<24} {'precision':>9} {'recall':>7}  tp  fp  fn"]
        rows = [("overall", self.overall)]
        rows += [(f"watch {k}", v) for k, v in sorted(self.by_watch.items())]
        rows += [(f"language {k}", v) for k, v in sorted(self.by_language.items())]
        for name, s in rows:
            lines.append(f"{name:<24} {s.precision:>9.3f} {s.recall:>7.3f} {s.tp:>3} {s.fp:>3} {s.fn:>3}")
        if self.attribution:
            exact = sum(self.attribution)
            lines.append(f"agreement attribution exact on {exact}/{len(self.attribution)} caught cases")
        for case, missed, extra in self.mistakes:
            what = ", ".join([f"missed {w}" for w in sorted(missed)] + [f"false {w}" for w in sorted(extra)])
            lines.append(f"  {case.where}: {what}: {case.title[:90]}")
        return "\n".join(lines)


def load_cases(path: Path) -> list[Case]:
    out: list[Case] = []
    for file in config_files(path):
        doc = load_yaml(file, {})
        try:
            parsed = CaseFile.model_validate(doc.data)
        except ValidationError as exc:
            raise ConfigError([f"{doc.where(tuple(e['loc']))}: {e['msg']}" for e in exc.errors()]) from exc
        for i, c in enumerate(parsed.cases):
            out.append(
                Case(
                    c.title,
                    c.summary,
                    parsed.language,
                    c.source or parsed.source,
                    frozenset(c.expect),
                    doc.where(("cases", i)),
                    frozenset(c.agreements) if c.agreements is not None else None,
                )
            )
    return out


def errors_text(rows: list[tuple[str, str, Diagnosis]]) -> str:
    """Each error as `where: title` and its diagnosis, then the count of false alarms and misses by class."""
    lines = []
    counts: dict[str, list[int]] = {}
    for where, title, d in rows:
        lines.append(f"  {where}: {title[:100]}\n    {d.text()}")
        n = counts.setdefault(d.cls, [0, 0])
        n[d.error == "miss"] += 1
    lines.append(f"errors by class ({len(rows)}): false alarms / misses")
    ranked = sorted(counts.items(), key=lambda kv: -sum(kv[1]))
    lines += [f"  {cls:<16} {fp:>3} {fn:>3}" for cls, (fp, fn) in ranked]
    return "\n".join(lines)


def evaluate(
    watchlist: Watchlist, cases: list[Case], languages: LanguageStage | None = None, errors: bool = False
) -> Report:
    """Pure: counts per watch and per language; a case expecting nothing counts false positives only. A case's
    `language` is its source's, the prior the language stage reads the text with, as the runner does. With
    `errors`, each wrong outcome is diagnosed (matching/diagnose.py)."""
    report = Report(cases=len(cases))
    languages = languages or LanguageStage()
    for case in cases:
        item = languages.apply(
            make_item(case.source, title=case.title, summary=case.summary, published=CASE_DATE, language=case.language)
        )
        matches = watchlist.match(item)
        fired = frozenset(m.watch_id for m in matches)
        if case.agreements is not None:
            for m in matches:
                if m.watch_id in case.expect and watchlist.watch(m.watch_id).agreements is not None:
                    report.attribution.append({a.id for a in m.agreements} == case.agreements)
        for watch in {w.id for w in watchlist.watches}:
            hit, wanted = watch in fired, watch in case.expect
            if not hit and not wanted:
                continue
            for score in (
                report.overall,
                report.by_watch.setdefault(watch, Score()),
                report.by_language.setdefault(case.language, Score()),
            ):
                if hit and wanted:
                    score.tp += 1
                elif hit:
                    score.fp += 1
                else:
                    score.fn += 1
        if fired != case.expect:
            report.mistakes.append((case, case.expect - fired, fired - case.expect))
            if errors:
                by_id = {m.watch_id: m for m in matches}
                for watch in sorted(fired ^ case.expect):
                    found = diagnose(watchlist, item, watch, by_id.get(watch), case.language, case.agreements)
                    report.diagnoses.append((case, found))
    return report


@dataclass(frozen=True)
class Judged:
    """One of the desk's labels beside what the watchlist does with the item now, and why."""

    label: Label
    title: str
    source: str
    fired: bool  # the watch fires on the item with this watchlist
    why: str  # its explanation when it fires; else what fires instead, or that nothing does

    @property
    def outcome(self) -> str:
        """tp (fires, should), fp (fires, should not: a false alarm), fn (silent, should: a miss), tn."""
        return {(True, True): "tp", (True, False): "fp", (False, True): "fn", (False, False): "tn"}[
            (self.fired, self.label.fire)
        ]

    def to_json(self) -> dict[str, Any]:
        v = self.label.verdict
        return {
            "item_id": self.label.item_id,
            "watch": self.label.watch_id,
            "title": self.title,
            "source": self.source,
            "verdict": v.verdict,
            "note": v.note,
            "by": v.actor,
            "alert_id": v.alert_id,
            "fires_now": self.fired,
            "outcome": self.outcome,
            "why": self.why,
        }


@dataclass
class VerdictReport:
    """Precision and recall of each watch on the desk's own verdicts, with the false alarms and misses it still
    makes (and the ones it no longer makes: fixed)."""

    judged: list[Judged] = field(default_factory=list)
    overall: Score = field(default_factory=Score)
    by_watch: dict[str, Score] = field(default_factory=dict)

    def wrong(self, outcome: str) -> list[Judged]:
        return [j for j in self.judged if j.outcome == outcome]

    def table(self) -> str:
        lines = [f"{len(self.judged)} verdicts", f"{'':<28} {'precision':>9} {'recall':>7}  tp  fp  fn"]
        for name, s in [("overall", self.overall), *((f"watch {k}", v) for k, v in sorted(self.by_watch.items()))]:
            lines.append(f"{name:<28} {s.precision:>9.3f} {s.recall:>7.3f} {s.tp:>3} {s.fp:>3} {s.fn:>3}")
        for title, outcome in (("false alarms", "fp"), ("misses", "fn")):
            rows = self.wrong(outcome)
            lines.append(f"{title}: {len(rows)}")
            for j in rows:
                note = f" ({j.label.verdict.note})" if j.label.verdict.note else ""
                lines.append(f"  item {j.label.item_id} {j.label.watch_id}: {j.title[:90]}{note}\n    {j.why[:300]}")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        def score(s: Score) -> dict[str, Any]:
            return {"precision": s.precision, "recall": s.recall, "tp": s.tp, "fp": s.fp, "fn": s.fn}

        return {
            "overall": score(self.overall),
            "watches": {k: score(v) for k, v in sorted(self.by_watch.items())},
            "false_alarms": [j.to_json() for j in self.wrong("fp")],
            "misses": [j.to_json() for j in self.wrong("fn")],
            "verdicts": [j.to_json() for j in self.judged],
        }


def judge(label: Label, item: Item, watchlist: Watchlist) -> Judged:
    """The label beside what this watchlist does with the item."""
    matches = watchlist.match(item)
    mine = next((m for m in matches if m.watch_id == label.watch_id), None)
    if mine is not None:
        why = mine.why()
    elif matches:
        why = "does not fire; fires instead: " + "; ".join(f"{m.watch_id}: {m.why()}" for m in matches)
    else:
        why = "no watch fires on it"
    return Judged(label, item.title, item.source_id, mine is not None, why)


def evaluate_verdicts(store: SqlStore, watchlist: Watchlist) -> VerdictReport:
    """Every verdict of the store, judged against this watchlist (the running one, or a candidate)."""
    report = VerdictReport()
    known = {w.id for w in watchlist.watches}
    for label in store.labels():
        if label.watch_id not in known:
            continue  # a watch since removed: nothing to score
        judged = judge(label, store.get_item(label.item_id).item, watchlist)
        report.judged.append(judged)
        for score in (report.overall, report.by_watch.setdefault(label.watch_id, Score())):
            if judged.outcome == "tp":
                score.tp += 1
            elif judged.outcome == "fp":
                score.fp += 1
            elif judged.outcome == "fn":
                score.fn += 1
    return report
