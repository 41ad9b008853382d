"""Precision and recall of the report-text extractor on a corpus file (tests/dxa_reports/*.json).

The unit is one (report, score type, site, side, value, date) tuple; FRAX tuples use site 'mof' / 'hip'. The
date is the text's scan date, else the resource's own date, exactly as the model (sql/model) computes it.
Used by bench/dxa_text.py and tests/test_dxa_report_corpus.py.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from screening.reports.extract import Grammar, extract, load_grammar
from screening.reports.text import READ, report_text

LIMIT = 64 * 1024 * 1024


@dataclass
class Score:
    name: str
    reports: int = 0
    tp: int = 0
    fp: int = 0
    fn: int = 0
    unattributed_expected: int = 0
    unattributed_flagged: int = 0
    false_warnings: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


def tuples_of(item: dict, g: Grammar) -> tuple[set[tuple], int]:
    status, text = report_text(item.get("content_type"), item.get("text"), item.get("data"), LIMIT)
    if status != READ:
        return set(), 0
    res = extract(text, g)
    when = (res.scan_date.isoformat() if res.scan_date else item["resource_date"])
    got = {(item["id"], f.kind, f.site, f.side, round(f.value, 2), when) for f in res.findings}
    return got, res.unattributed


def score_corpus(path: Path, g: Grammar | None = None) -> Score:
    g = g or load_grammar()
    data = json.loads(path.read_text(encoding="utf-8"))
    sc = Score(path.stem)
    for item in data["items"]:
        sc.reports += 1
        want = {(item["id"], e["type"], e["site"], e["side"], round(e["value"], 2), e["date"])
                for e in item["expected"]}
        got, unattributed = tuples_of(item, g)
        sc.tp += len(got & want)
        sc.fp += len(got - want)
        sc.fn += len(want - got)
        for t in sorted(got - want, key=str):
            sc.errors.append(f"FP {t}")
        for t in sorted(want - got, key=str):
            sc.errors.append(f"FN {t}")
        if item.get("expect_unattributed"):
            sc.unattributed_expected += 1
            sc.unattributed_flagged += unattributed > 0
        elif unattributed:
            sc.false_warnings += 1
    return sc
