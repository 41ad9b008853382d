"""The demo population end to end through the real `screening-pipeline` Prefect flow: every planted positive
is listed, no planted negative is, and every expectation the generator states is met."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import pytest

AS_OF = date(2026, 6, 30)
COLUMNS = {"expect_priority": "priority", "expect_risk_markers": "risk_markers", "expect_causes": "causes",
           "expect_unaddressed": "unaddressed"}


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    from flows.screening_pipeline import screening_pipeline
    from screening.synth import generate

    root = tmp_path_factory.mktemp("demo")
    generate(root / "synthetic", patients=1000, seed=42, as_of=AS_OF)
    summary = screening_pipeline(str(root / "synthetic"), str(root / "out" / "osteo.duckdb"), str(root / "out"),
                                 AS_OF)
    return root, summary


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_flow_ran_and_counts_add_up(demo_run):
    _root, summary = demo_run
    load = summary["load"]
    assert load["records_read"] == load["loaded"] + load["quarantined"]
    assert summary["export"]["listed"] > 0


def test_ground_truth_matches_worklist(demo_run):
    root, _ = demo_run
    truth = read_csv(root / "synthetic" / "ground_truth.csv")
    listed = {r["patient_id"]: r for r in read_csv(root / "out" / "worklist.csv")}
    assert sum(t["expect_listed"] == "true" for t in truth) >= 50
    assert sum(t["expect_listed"] == "false" for t in truth) >= 50
    problems = []
    for t in truth:
        pid, expect = t["patient_id"], t["expect_listed"].strip().lower() == "true"
        if expect != (pid in listed):
            problems.append(f"{t['scenario']} ({pid}): expected listed={expect}, got {pid in listed}")
            continue
        if not expect:
            continue
        unchecked = set(filter(None, (t.get("unchecked") or "").split(";")))
        for tcol, wcol in COLUMNS.items():
            want = (t.get(tcol) or "").strip()
            if tcol not in unchecked and want != listed[pid][wcol]:
                problems.append(f"{t['scenario']} ({pid}): {wcol} expected {want!r}, got {listed[pid][wcol]!r}")
    assert problems == [], "\n".join(problems)


def test_every_listed_row_has_evidence_ids(demo_run):
    root, _ = demo_run
    for row in read_csv(root / "out" / "worklist.csv"):
        assert row["evidence_ids"], row["patient_id"]
        assert all("/" in ref for ref in row["evidence_ids"].split(";"))
