"""One event, one alert: reports about the same agreements, or telling the same story, join one alert.

A report's SUBJECT agreements (AgreementHit.subject: named in the title or lead, or the only one concerned) decide
where it goes. An agreement mentioned in passing ("the move follows similar steps on Portugal and France") is context
and never a reason to join: otherwise the Norway story joins the open Portugal alert, goes out as a follow-up (or not
at all) and the subscriber never learns about Norway.

Join rule: a report joins an open alert when the alert's agreements include every subject agreement of the report
(subset, not equality). A decree ending three agreements at once is one event; a later report about one of them
(a reaction from one capital) belongs to it. The converse does not hold: a report with a subject agreement that no
open alert covers is news about that agreement, so it starts a new alert even if it also covers agreements already
alerted. Among several alerts that qualify, the one with the fewest extra agreements wins.

Without subject agreements (frozen assets, decrees on untracked agreements) a report joins an alert without
agreements when a watch is shared and the stories are similar: weighted overlap of title + lead fingerprints (see
`fingerprint`), the best alert above SAME_STORY. Measured on tests/data/events/ with bench/grouping.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property

from .config.models import SEVERITY_RANK
from .items import Item
from .matching import Match
from .matching.text import TOKEN, fold

# Weighted share of the smaller fingerprint two reports must have in common when no agreement ties them: low for
# reports hours apart (wires and their translations share little but numbers and names), rising to SAME_STORY_LATE
# over SAME_STORY_HOURS (a same-topic story days later shares as much vocabulary). Unknown times get the late bar:
# a wrong join can swallow an event, a wrong split only costs one more message.
SAME_STORY = 0.25
SAME_STORY_LATE = 0.5
SAME_STORY_HOURS = 48.0
LEAD_CHARS = 300  # the summary's first sentence, at most this long, joins the title in the fingerprint
STEM = 5  # words are cut to this many letters: cheap stemming that also meets cognates across languages
WORD_MIN = 4  # shorter words (articles, prepositions) say nothing about the story
NUMBER_WEIGHT = 3.0  # amounts and dates are the same in every language and rarely shared by two stories
ACT_WEIGHT = 6.0  # an act number (№ 241) names one document
YEAR = re.compile(r"(?:19|20)\d\d")
NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
ACT_NUMBER = re.compile(r"(?:№|\bN[or]?\.?|\bn[°º])\s*(\d+)", re.I)
SENTENCE_END = re.compile(r"(?<=[.!?])\s")
# Cyrillic to Latin, so that Russian cognates (Украина, финансов, репарационный) meet their Latin forms.
_TRANSLIT = str.maketrans(
    {
        "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ж": "zh", "з": "z", "и": "i", "й": "i",
        "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t", "у": "u",
        "ф": "f", "х": "h", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "sh", "ъ": "", "ы": "y", "ь": "", "э": "e",
        "ю": "yu", "я": "ya",
    }
)  # fmt: skip


@dataclass(frozen=True)
class Report:
    """An item and every watch that fired on it."""

    item: Item
    matches: tuple[Match, ...]

    @property
    def agreements(self) -> frozenset[str]:
        """Every agreement the report concerns, subject or in passing (shown to the reader, not used to group)."""
        return frozenset(a.id for m in self.matches for a in m.agreements)

    @property
    def subjects(self) -> frozenset[str]:
        """The agreements the report is about: the only ones that decide which alert it joins."""
        return frozenset(a.id for m in self.matches for a in m.agreements if a.subject)

    @property
    def watch_ids(self) -> frozenset[str]:
        return frozenset(m.watch_id for m in self.matches)

    @cached_property
    def fingerprint(self) -> frozenset[str]:
        """The story's fingerprint without the words the watches hit: every report of a watch has those."""
        return fingerprint(self.item.title, self.item.summary, [h.text for m in self.matches for h in m.hits])

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
    created_at: datetime | None = None


@dataclass
class NewAlert:
    watch_id: str
    severity: str
    title: str
    watches: set[str]
    agreements: set[str]  # the subject agreements of its reports
    fingerprint: frozenset[str]
    reports: list[Report] = field(default_factory=list)
    created_at: datetime | None = None


@dataclass(frozen=True)
class Attach:
    alert_id: int
    report: Report


@dataclass
class AlertPlan:
    new: list[NewAlert] = field(default_factory=list)
    attach: list[Attach] = field(default_factory=list)


def lead(summary: str) -> str:
    """The summary's first sentence: where a wire puts the who, what and how much."""
    first = SENTENCE_END.split(summary.strip(), maxsplit=1)[0]
    return first[:LEAD_CHARS]


def _words(text: str) -> set[str]:
    out = set()
    for token in TOKEN.findall(text):
        if any(c.isdigit() for c in token):
            continue
        word = fold(token).translate(_TRANSLIT)
        if len(word) >= WORD_MIN:
            out.add(word[:STEM])
    return out


def fingerprint(title: str, summary: str = "", generic: Iterable[str] = ()) -> frozenset[str]:
    """What identifies a story across rewrites and languages: `#` numbers, `№` act numbers, stemmed words.

    Numbers keep their decimals (4,1 and 4.1 are one amount); Cyrillic words are transliterated and every word cut
    to STEM letters, so "reparations", "réparation", "Reparationsdarlehen" and "репарационный" meet. Words of
    `generic` (what the watch hit: "frozen Russian assets", "Euroclear") are left out: they tell the watch, not
    the event.
    """
    text = f"{title} {lead(summary)}"
    out: set[str] = {f"№{n}" for n in ACT_NUMBER.findall(text)}
    for raw in NUMBER.findall(ACT_NUMBER.sub(" ", text)):
        out.add("#" + raw.replace(",", "."))
    drop = set().union(*(_words(g) for g in generic))
    return frozenset(out | (_words(text) - drop))


def stored_fingerprint(stored: str, title: str) -> frozenset[str]:
    """An alert's fingerprint as the store keeps it (space-separated). Alerts stored before fingerprints were stemmed
    (whole words longer than STEM letters) or without one get their title's, so they still meet new reports."""
    tokens = frozenset(stored.split())
    if not tokens or any(len(t) > STEM and t[0] not in "#№" for t in tokens):
        return fingerprint(title)
    return tokens


def _weight(token: str) -> float:
    if token.startswith("№"):
        return ACT_WEIGHT
    if token.startswith("#"):
        return 1.0 if YEAR.fullmatch(token[1:]) or len(token) == 2 else NUMBER_WEIGHT
    return 1.0


def similarity(fp_a: frozenset[str], fp_b: frozenset[str]) -> float:
    """Weighted share of the smaller fingerprint found in the other; two different act numbers mean two acts."""
    if not fp_a or not fp_b:
        return 0.0
    acts_a = {t for t in fp_a if t.startswith("№")}
    acts_b = {t for t in fp_b if t.startswith("№")}
    if acts_a and acts_b and not acts_a & acts_b:
        return 0.0
    shared = sum(_weight(t) for t in fp_a & fp_b)
    return shared / min(sum(_weight(t) for t in fp_a), sum(_weight(t) for t in fp_b))


def story_bar(alert_time: datetime | None, report_time: datetime | None) -> float:
    """The similarity a story needs to join an alert this much older or younger than the report."""
    if alert_time is None or report_time is None:
        return SAME_STORY_LATE
    hours = abs((report_time - alert_time).total_seconds()) / 3600
    return SAME_STORY + (SAME_STORY_LATE - SAME_STORY) * min(1.0, hours / SAME_STORY_HOURS)


def affinity(
    agreements: frozenset[str] | set[str],
    fp: frozenset[str],
    watches: frozenset[str] | set[str],
    report: Report,
    created_at: datetime | None = None,
) -> float:
    """How well a report fits an alert; 0 when it does not belong there. Higher is a better home.

    With subject agreements: the alert must cover them all; a tighter cover scores higher (1..2). Without: only
    alerts without agreements, sharing a watch, with a story similar enough for its age (story_bar..1).
    """
    subjects = report.subjects
    if subjects:
        if not agreements or not subjects <= set(agreements):
            return 0.0
        return 1.0 + len(subjects) / len(agreements)
    if agreements or not set(watches) & report.watch_ids:
        return 0.0
    score = similarity(fp, report.fingerprint)
    return score if score >= story_bar(created_at, report.item.published) else 0.0


def same_event(alert: OpenAlert | NewAlert, report: Report) -> bool:
    return affinity(alert.agreements, alert.fingerprint, alert.watches, report, alert.created_at) > 0


def _fit(alert: OpenAlert | NewAlert, report: Report) -> float:
    return affinity(alert.agreements, alert.fingerprint, alert.watches, report, alert.created_at)


def plan_alerts(reports: list[Report], open_alerts: list[OpenAlert]) -> AlertPlan:
    """Decide, for each report, which alert it joins or whether it starts one. Pure."""
    plan = AlertPlan()
    for report in reports:
        scored = [(_fit(a, report), a.id, a) for a in open_alerts]
        best = max((s for s in scored if s[0] > 0), default=None, key=lambda s: s[:2])
        fresh_scored = [(_fit(n, report), i, n) for i, n in enumerate(plan.new)]
        fresh = max((s for s in fresh_scored if s[0] > 0), default=None, key=lambda s: s[:2])
        if best is not None and (fresh is None or best[0] >= fresh[0]):
            plan.attach.append(Attach(best[2].id, report))
            continue
        if fresh is not None:
            alert = fresh[2]
            alert.reports.append(report)
            alert.watches |= report.watch_ids
            continue
        top = report.top
        plan.new.append(
            NewAlert(
                top.watch_id,
                top.severity,
                report.item.title or top.watch_title,
                set(report.watch_ids),
                set(report.subjects),
                report.fingerprint,
                [report],
                report.item.published,
            )
        )
    return plan
