"""Compare the outputs of two runs (single-process vs partitioned) file by file: byte for byte where nothing
run-specific is in the file, else after taking out the run id and the output folder (worklist.xlsx cell by cell)."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

BYTE_IDENTICAL = ("worklist.csv", "resolved.csv", "dispositions.csv", "data_quality.csv", "report.html",
                  "worklist-deidentified.csv")
ANALYTICS = ("analytics.patient", "analytics.worklist", "analytics.dxa", "analytics.exposure",
             "analytics.dispositions")


def _run_id(out: Path) -> str:
    return json.loads((out / "summary.json").read_text())["run_id"]


def _normalised(out: Path, name: str) -> str:
    """The file's text with this run's id, its FHIR List id and its output folder replaced by placeholders."""
    text = (out / name).read_text(encoding="utf-8")
    lists = [json.loads(line) for line in (out / "tasks.ndjson").read_text().splitlines()
             if '"resourceType":"List"' in line]
    for lst in lists:
        text = text.replace(lst["id"], "LIST")
    if name == "tasks-bundle.json":  # the List's fullUrl is a UUID made from the run id
        doc = json.loads(text)
        for entry in doc.get("entry", []):
            if entry["resource"]["resourceType"] == "List":
                entry["fullUrl"] = "LIST"
        text = json.dumps(doc, sort_keys=True)
    return text.replace(_run_id(out), "RUN").replace(str(out), "OUT")


def _xlsx_cells(path: Path, out: Path) -> dict:
    from openpyxl import load_workbook

    wb = load_workbook(path, read_only=True)
    return {ws.title: [[str(c).replace(str(out), "OUT") if c is not None else None for c in row]
                       for row in ws.iter_rows(values_only=True)] for ws in wb.worksheets}


def assert_same_outputs(a: Path, b: Path, expect: tuple[str, ...] = BYTE_IDENTICAL) -> list[str]:
    """Every output file of run `a` has its equal in run `b`; returns the names compared."""
    names = sorted(p.name for p in a.iterdir() if p.is_file())
    assert names == sorted(p.name for p in b.iterdir() if p.is_file())
    for name in expect:
        assert name in names, name
    for name in names:
        if name in expect:
            assert (a / name).read_bytes() == (b / name).read_bytes(), name
        elif name == "worklist.xlsx":
            assert _xlsx_cells(a / name, a) == _xlsx_cells(b / name, b), name
        elif name in ("summary.json", "run-report.json"):
            ja, jb = (json.loads(_normalised(o, name)) for o in (a, b))
            if name == "run-report.json":
                ja.pop("run_id"), jb.pop("run_id")  # the finish step's own run id (a different one)
            assert ja == jb, name
        elif name == "run-report.md":
            ra, rb = ((o / name).read_text().split("\n", 1)[1].replace(str(o), "OUT") for o in (a, b))
            assert ra == rb, name
        else:
            assert _normalised(a, name) == _normalised(b, name), name
    return names


def analytics_rows(snapshot: Path) -> dict[str, list[tuple]]:
    con = duckdb.connect(str(snapshot), read_only=True)
    try:
        return {view: con.execute("SELECT * FROM " + view + " ORDER BY ALL").fetchall() for view in ANALYTICS}
    finally:
        con.close()
