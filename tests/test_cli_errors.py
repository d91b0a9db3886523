"""`treatywatch evaluate --errors`: each false alarm and miss with the hits, the rule that decided and its class,
then a count by class; on labeled cases and on a dev set run through the pipeline."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from conftest import tw

# Labels that disagree with the engine on purpose, one per class the diagnosis names.
CASES = {
    "language": "en",
    "cases": [
        # talk, labeled as a decision: a miss of class modality, the cue named
        {
            "title": "Paris would scrap the 1994 military cooperation accord with Russia",
            "expect": ["agreement-terminated"],
        },
        # a private owner's assets, labeled as the state's: a miss of class ownership
        {"title": "EU court releases the frozen assets of a Russian businessman", "expect": ["frozen-assets"]},
        # a decision, labeled as nothing: a false alarm with the hits that fired
        {"title": "Russia terminates its military cooperation agreement with Norway", "expect": []},
        # history, labeled as a decision: a miss of class retrospective
        {
            "title": "A museum exhibition recalls how Moscow ended the 1989 military visits accord with Ottawa",
            "expect": ["agreement-terminated"],
        },
    ],
}


def test_errors_on_cases_name_the_rule_and_the_class(tmp_path: Path):
    (tmp_path / "cases.yaml").write_text(yaml.safe_dump(CASES, allow_unicode=True), encoding="utf-8")
    out = tw("evaluate", str(tmp_path), "--errors", state=tmp_path / "state")
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "miss agreement-terminated [modality]: set aside: " in text and "«would»" in text
    assert "miss frozen-assets [ownership]: privately owned: " in text
    assert "«Russian» names a private owner's nationality; «frozen assets» privately owned" in text
    assert "false alarm agreement-terminated [words]: a term met in another sense" in text
    assert "hits: @russia: Russia (en) «Russia»; @termination: terminate (en) «terminates»" in text
    assert "miss agreement-terminated [retrospective]: set aside: " in text and "retrospective «museum»" in text
    summary = text[text.index("errors by class (4)") :].splitlines()
    counts = {line.split()[0]: (int(line.split()[1]), int(line.split()[2])) for line in summary[1:]}
    assert counts == {"modality": (0, 1), "ownership": (0, 1), "words": (1, 0), "retrospective": (0, 1)}


def test_without_errors_the_report_is_unchanged(tmp_path: Path):
    (tmp_path / "cases.yaml").write_text(yaml.safe_dump(CASES, allow_unicode=True), encoding="utf-8")
    out = tw("evaluate", str(tmp_path), state=tmp_path / "state")
    assert "errors by class" not in out.stdout and "[modality]" not in out.stdout


def test_errors_on_a_dev_set_run_through_the_pipeline(tmp_path: Path):
    items = [
        {
            "id": "x001",
            "lang": "fr",
            "source": "news",
            "title": "La Russie dénoncerait l'accord militaire de 1994 avec la France",
            "summary": "",
            "published": "2025-12-01T10:00:00Z",
            "expect": {"watches": ["W1"], "agreements": ["A2"]},
            "why": "labeled as a decision on purpose",
        },
        {
            "id": "x002",
            "lang": "fr",
            "source": "news",
            "title": "La Russie a dénoncé l'accord militaire de 1994 avec la France",
            "summary": "",
            "published": "2025-12-01T11:00:00Z",
            "expect": {"watches": ["W1"], "agreements": ["A2"]},
            "why": "a decision",
        },
    ]
    (tmp_path / "items.jsonl").write_text("\n".join(json.dumps(i, ensure_ascii=False) for i in items) + "\n")
    (tmp_path / "watchlist.yaml").write_text(
        "terms:\n  termination: {fr: [dénoncer]}\n  agreement: {fr: [accord]}\n"
        "entities:\n  russia: {fr: [Russie]}\n  france: {fr: [France]}\n"
        "agreements:\n  - {id: a2, title: Russia–France military accord, parties: [russia, france], signed: 1994}\n"
        'watches:\n  - {id: w1, query: "@agreement AND @termination", agreements: all}\n',
        encoding="utf-8",
    )
    out = tw("evaluate", str(tmp_path), "--errors", state=tmp_path / "state")
    assert "detection devset: P 1.00 R 0.50" in out.stdout, out.stdout + out.stderr
    assert "x001: La Russie dénoncerait" in out.stdout
    assert "miss w1 [modality]: set aside: conditional «dénoncerait»" in out.stdout
    assert "x002" not in out.stdout.split("detection devset")[1]
