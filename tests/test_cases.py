"""Data-driven clinical cases (tests/cases/*.json), in the spirit of the SQL-on-FHIR conformance tests.

A case: {"title", "as_of", "resources": [FHIR resources], "expect": {patient_id: row | "not listed"},
         optional "expect_hits": [{"patient", "kind", "rule_id", ["absent": true]}],
         optional "config": {...}}.
An expected row lists only the columns it cares about: exact values for priority, risk_markers, causes,
unaddressed, name, mrn, birth_date, sex; `evidence_contains`, `evidence_ids_contains`, `actions_contains`,
`dq_contains` are substrings that must appear; `evidence_lacks`, `actions_lacks`, `dq_lacks` must not.

Speed: cases are loaded through the real loader (`load_source`) and screened together, one database per as-of
date; every id and reference is prefixed with the case number so the cases cannot see each other. A case
with its
own "config" (local code lists, ValueSet JSON) runs alone.
"""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import pytest

from tests.conftest import write_ndjson

CASES_DIR = Path(__file__).parent / "cases"
CASE_FILES = sorted(CASES_DIR.glob("*.json"))
EXACT = ["priority", "risk_markers", "causes", "unaddressed", "name", "mrn", "birth_date", "sex"]
CONTAINS = {
    "evidence_contains": "evidence",
    "evidence_ids_contains": "evidence_ids",
    "actions_contains": "recommended_actions",
    "dq_contains": "data_quality_warnings",
}
REF_TYPES = ("Patient", "Medication", "Observation", "Condition", "Encounter", "Procedure", "ServiceRequest",
             "DiagnosticReport", "DocumentReference")


def prefix_ids(resource, prefix: str):
    """Copy of a resource: its id and every literal Type/id reference prefixed (contained #ids untouched)."""

    def walk(node, top):
        if isinstance(node, dict):
            out = {}
            for k, v in node.items():
                if k == "id" and top:
                    out[k] = prefix + v
                elif k == "reference" and isinstance(v, str) and "/" in v and v.split("/")[0] in REF_TYPES:
                    t, _, rid = v.partition("/")
                    out[k] = f"{t}/{prefix}{rid}"
                elif k == "contained":
                    out[k] = [walk(c, False) for c in v]
                else:
                    out[k] = walk(v, False)
            return out
        if isinstance(node, list):
            return [walk(x, False) for x in node]
        return node

    return walk(resource, True)


def load_case(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _run(tmp: Path, cases: list[tuple[int, dict]], as_of: date, config: dict | None) -> dict:
    from screening.db import connect
    from screening.load import load_source
    from screening.screens import run_screens

    src = tmp / "src"
    for idx, case in cases:
        write_ndjson(src / f"case{idx:03d}.ndjson", [prefix_ids(r, f"c{idx}-") for r in case["resources"]])
    config_dir = None
    if config:
        config_dir = tmp / "config"
        for rel, content in config.items():
            p = config_dir / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    con = connect(tmp / "db.duckdb")
    try:
        load_source(con, src)
        summary = run_screens(con, as_of, config_dir)
        cur = con.execute("SELECT * FROM worklist ORDER BY rank")
        cols = [d[0] for d in cur.description]
        worklist = [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]
        hits = con.execute(
            "SELECT patient_id, kind, rule_id, resource_ref, detail FROM screen_hits"
        ).fetchall()
        quarantined = con.execute("SELECT source_file, resource_id, reason FROM quarantine").fetchall()
    finally:
        con.close()
    return {
        "worklist": worklist,
        "hits": hits,
        "summary": summary,
        "columns": cols,
        "quarantined": quarantined,
    }


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """Run every case: batched per as-of date; cases with their own config alone."""
    groups: dict[tuple, list[tuple[int, dict]]] = {}
    for idx, path in enumerate(CASE_FILES):
        case = load_case(path)
        key = (
            case["as_of"],
            json.dumps(case.get("config"), sort_keys=True) if case.get("config") else "",
            idx if case.get("config") else -1,
        )
        groups.setdefault(key, []).append((idx, case))
    out = {}
    for (as_of, _cfg, _), cases in groups.items():
        tmp = tmp_path_factory.mktemp("cases")
        res = _run(tmp, cases, date.fromisoformat(as_of), cases[0][1].get("config"))
        for idx, _case in cases:
            out[idx] = res
        shutil.rmtree(tmp / "src", ignore_errors=True)
    return out


def _unprefix(value: str, prefix: str) -> str:
    return value.replace(prefix, "") if isinstance(value, str) else value


@pytest.mark.parametrize("idx", range(len(CASE_FILES)), ids=[p.stem for p in CASE_FILES])
def test_case(idx, results):
    case = load_case(CASE_FILES[idx])
    res = results[idx]
    prefix = f"c{idx}-"
    rows = {
        r["patient_id"][len(prefix) :]: {k: _unprefix(v, prefix) for k, v in r.items()}
        for r in res["worklist"]
        if r["patient_id"].startswith(prefix)
    }
    problems = [
        f"quarantined: {q}"
        for q in res["quarantined"]
        if Path(q[0]).name == f"case{idx:03d}.ndjson" and not case.get("allow_quarantine")
    ]
    for pid, want in case["expect"].items():
        if want == "not listed":
            if pid in rows:
                problems.append(
                    f"{pid}: expected not listed, got {rows[pid]['priority']} "
                    f"markers={rows[pid]['risk_markers']} causes={rows[pid]['causes']} "
                    f"unaddressed={rows[pid]['unaddressed']} evidence={rows[pid]['evidence']}"
                )
            continue
        if pid not in rows:
            mine = [h for h in res["hits"] if h[0] == prefix + pid]
            problems.append(f"{pid}: expected listed, not listed; hits={mine}")
            continue
        got = rows[pid]
        for col in EXACT:
            if col in want and want[col] != got[col]:
                problems.append(
                    f"{pid}: {col} expected {want[col]!r}, got {got[col]!r} (evidence: {got['evidence']})"
                )
        for key, col in CONTAINS.items():
            for needle in want.get(key, []):
                if needle not in got[col]:
                    problems.append(f"{pid}: {col} lacks {needle!r}: {got[col]!r}")
        for needle in want.get("evidence_lacks", []):
            if needle in got["evidence"]:
                problems.append(f"{pid}: evidence should not contain {needle!r}: {got['evidence']!r}")
        for key, col in (("actions_lacks", "recommended_actions"), ("dq_lacks", "data_quality_warnings")):
            for needle in want.get(key, []):
                if needle in got[col]:
                    problems.append(f"{pid}: {col} should not contain {needle!r}: {got[col]!r}")
    for h in case.get("expect_hits", []):
        found = [
            x
            for x in res["hits"]
            if x[0] == prefix + h["patient"] and x[1] == h["kind"] and x[2] == h["rule_id"]
        ]
        if h.get("absent") and found:
            problems.append(f"hit {h} should be absent: {found}")
        if not h.get("absent") and not found:
            problems.append(f"hit {h} missing")
    if "expect_order" in case:
        order = [
            r["patient_id"][len(prefix) :] for r in res["worklist"] if r["patient_id"].startswith(prefix)
        ]
        if order != case["expect_order"]:
            problems.append(f"order expected {case['expect_order']}, got {order}")
    assert not problems, "\n".join(problems)


def test_worklist_contract_columns(results):
    from screening.export.worklist_csv import CONTRACT_COLUMNS

    some = next(iter(results.values()))
    assert some["columns"][: len(CONTRACT_COLUMNS)] == CONTRACT_COLUMNS
    assert "rank" in some["columns"]
