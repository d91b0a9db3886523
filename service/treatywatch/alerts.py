"""One event, one alert: reports of the same event (same agreements, or the same story) join one alert."""

from __future__ import annotations

from dataclasses import dataclass, field

from .config.models import SEVERITY_RANK
from .items import Item
from .matching import Match
from .matching.text import TOKEN, fold

SAME_STORY = 0.6  # share of title words two reports must have in common when no agreement ties them


@dataclass(frozen=True)
class Report:
    """An item and every watch that fired on it."""

    item: Item
    matches: tuple[Match, ...]

    @property
    def agreements(self) -> frozenset[str]:
        return frozenset(a.id for m in self.matches for a in m.agreements)

    @property
    def watch_ids(self) -> frozenset[str]:
        return frozenset(m.watch_id for m in self.matches)

    @property
    def top(self) -> Match:
        return max(self.matches, key=lambda m: SEVERITY_RANK[m.severity])


@dataclass(frozen=True)
class OpenAlert:
    """An alert still young enough (settings.event_window) for new reports to join it."""

    id: int
    watches: frozenset[str]
    agreements: frozenset[str]
    fingerprint: frozenset[str]


@dataclass
class NewAlert:
    watch_id: str
    severity: str
    title: str
    watches: set[str]
    agreements: set[str]
    fingerprint: frozenset[str]
    reports: list[Report] = field(default_factory=list)


@dataclass(frozen=True)
class Attach:
    alert_id: int
    report: Report


@dataclass
class AlertPlan:
    new: list[NewAlert] = field(default_factory=list)
    attach: list[Attach] = field(default_factory=list)


def fingerprint(title: str) -> frozenset[str]:
    return frozenset(w for w in (fold(t) for t in TOKEN.findall(title)) if len(w) > 3)


def same_event(
    agreements_a: frozenset[str] | set[str], fp_a: frozenset[str], watches_a: frozenset[str] | set[str], report: Report
) -> bool:
    """Overlapping agreements make one event; without agreements, the same watch and a similar title do."""
    if agreements_a or report.agreements:
        return bool(set(agreements_a) & report.agreements)
    if not set(watches_a) & report.watch_ids:
        return False
    fp_b = fingerprint(report.item.title)
    if not fp_a or not fp_b:
        return False
    return len(fp_a & fp_b) / min(len(fp_a), len(fp_b)) >= SAME_STORY


def plan_alerts(reports: list[Report], open_alerts: list[OpenAlert]) -> AlertPlan:
    """Decide, for each report, which alert it joins or whether it starts one. Pure."""
    plan = AlertPlan()
    for report in reports:
        joined = next((a for a in open_alerts if same_event(a.agreements, a.fingerprint, a.watches, report)), None)
        if joined is not None:
            plan.attach.append(Attach(joined.id, report))
            continue
        fresh = next((n for n in plan.new if same_event(n.agreements, n.fingerprint, n.watches, report)), None)
        if fresh is not None:
            fresh.reports.append(report)
            fresh.agreements |= report.agreements
            fresh.watches |= report.watch_ids
            continue
        top = report.top
        plan.new.append(
            NewAlert(
                top.watch_id,
                top.severity,
                report.item.title or top.watch_title,
                set(report.watch_ids),
                set(report.agreements),
                fingerprint(report.item.title),
                [report],
            )
        )
    return plan
