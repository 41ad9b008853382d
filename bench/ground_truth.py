"""Correctness at scale (issue 10, point 6): the benchmark population's worklist against the generator's ground truth.

    python bench/ground_truth.py <population folder> <worklist.csv>

The same comparison as tests/test_flow_ground_truth.py (which runs it on the 1,000-patient demo): every patient the
generator plants as a positive is listed, no planted negative or background patient is, and for the listed ones
priority, risk markers, causes and unaddressed causes equal what the generator expects (columns it marks
`unchecked` are skipped). Reports counts and the scenarios behind mismatches, never patient ids or data.
"""

from __future__ import annotations

import csv
import json
import sys
from collections import Counter
from pathlib import Path

COLUMNS = {"expect_priority": "priority", "expect_risk_markers": "risk_markers", "expect_causes": "causes",
           "expect_unaddressed": "unaddressed"}


def _rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def compare(truth_csv: Path, worklist_csv: Path) -> dict:
    truth = _rows(truth_csv)
    listed = {r["patient_id"]: r for r in _rows(worklist_csv)}
    out = Counter()
    scenarios: Counter = Counter()
    for t in truth:
        pid, expect = t["patient_id"], t["expect_listed"].strip().lower() == "true"
        got = pid in listed
        out["patients"] += 1
        out["expected_listed"] += expect
        if expect and not got:
            out["missed"] += 1
            scenarios[f"missed: {t['scenario']}"] += 1
            continue
        if got and not expect:
            out["unexpected"] += 1
            scenarios[f"unexpected: {t['scenario']}"] += 1
            continue
        if not expect:
            out["negative_match"] += 1
            continue
        unchecked = set(filter(None, (t.get("unchecked") or "").split(";")))
        wrong = [w for tcol, w in COLUMNS.items()
                 if tcol not in unchecked and (t.get(tcol) or "").strip() != listed[pid][w]]
        if wrong:
            out["listed_column_mismatch"] += 1
            scenarios[f"{'/'.join(wrong)} differ: {t['scenario']}"] += 1
        else:
            out["listed_match"] += 1
    out["listed"] = len(listed)
    out["not_in_truth"] = len(set(listed) - {t["patient_id"] for t in truth})
    out["mismatches"] = out["missed"] + out["unexpected"] + out["listed_column_mismatch"] + out["not_in_truth"]
    return {**{k: out[k] for k in ("patients", "expected_listed", "listed", "listed_match", "negative_match",
                                   "missed", "unexpected", "listed_column_mismatch", "not_in_truth", "mismatches")},
            "mismatch_scenarios": dict(scenarios.most_common(20))}


if __name__ == "__main__":
    print(json.dumps(compare(Path(sys.argv[1]) / "ground_truth.csv", Path(sys.argv[2])), indent=2))
