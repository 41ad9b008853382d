"""worklist.xlsx read back with openpyxl: sheets, typed cells, formats, drop-down, and the disposition round trip
through `osteoscreen import` (the installed console script), plus formula-injection safety in CSV and XLSX."""

from __future__ import annotations

import csv
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import load_workbook

from screening.export.cells import neutralise, restore
from screening.export.dispositions import read_all, read_edited_worklist
from screening.export.worklist_xlsx import sheet_name
from tests.test_worklist_support import read_csv, run_once

CLI = str(Path(sys.executable).with_name("osteoscreen"))


@pytest.fixture(scope="module")
def run1(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("xlsx")
    run_once(tmp, 1)
    return tmp


def test_sheets_and_layout(run1):
    wb = load_workbook(run1 / "out" / "worklist.xlsx")
    names = wb.sheetnames
    assert names[0] == "All" and names[-2:] == ["Resolved", "Summary"]
    assert {"North Clinic", "South Practice", "East Surgery", "Unassigned"} <= set(names)
    ws = wb["All"]
    header = [c.value for c in ws[1]]
    rows = read_csv(run1 / "out" / "worklist.csv")
    assert ws.max_row == len(rows) + 1
    assert header == list(rows[0])
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref.startswith("A1:")
    assert ws.column_dimensions["K"].width >= 60              # evidence is readable
    col = {h: i + 1 for i, h in enumerate(header)}
    assert ws.cell(2, col["evidence"]).alignment.wrap_text
    bd = ws.cell(2, col["birth_date"])
    assert isinstance(bd.value, datetime) and bd.number_format == "yyyy-mm-dd"
    assert isinstance(ws.cell(2, col["worst_score"]).value, float)
    assert ws.cell(2, col["safety"]).value in (True, False)
    assert ws.cell(2, col["priority"]).fill.fgColor.rgb.endswith("F8CBAD")  # high
    assert sum(wb[t].max_row - 1 for t in names if t not in ("All", "Resolved", "Summary")) == len(rows)
    summary = {r[0].value: r[1].value for r in wb["Summary"].iter_rows(min_row=2)}
    assert summary["screened"] == 10 and summary["listed (on the worklist)"] == len(rows)


def test_no_formula_anywhere_and_injection_neutralised(run1):
    wb = load_workbook(run1 / "out" / "worklist.xlsx")
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                assert c.data_type != "f", f"formula in {ws.title}!{c.coordinate}"
    ws = wb["All"]
    header = [c.value for c in ws[1]]
    names = [r[header.index("name")].value for r in ws.iter_rows(min_row=2)]
    evil = [n for n in names if "HYPERLINK" in n]
    assert evil == ["'=HYPERLINK(\"http://x\",\"y\"), +SUM(A1)"]
    raw = (run1 / "out" / "worklist.csv").read_text()
    assert "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\"), +SUM(A1)\"" in raw
    for line in csv.reader(raw.splitlines()):  # only plain numbers (typed: a T-score of -2.8) may start with -
        assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) and not _number(cell) for cell in line)


def _number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def test_dropdown_lists_the_configured_statuses(run1):
    wb = load_workbook(run1 / "out" / "worklist.xlsx")
    ws = wb["North Clinic"]
    header = [c.value for c in ws[1]]
    letter = chr(ord("A") + header.index("disposition"))
    dvs = [dv for dv in ws.data_validations.dataValidation if dv.type == "list"]
    assert len(dvs) == 1
    assert f"{letter}2" in str(dvs[0].sqref)
    values = dvs[0].formula1.strip('"').split(",")
    assert values == ["contacted", "referred", "treatment started", "declined", "not appropriate",
                      "unable to reach"]


def test_disposition_round_trip_through_import(run1, tmp_path):
    edited = tmp_path / "edited.xlsx"
    wb = load_workbook(run1 / "out" / "worklist.xlsx")
    ws = wb["North Clinic"]
    header = [c.value for c in ws[1]]
    col = {h: i + 1 for i, h in enumerate(header)}
    ids = []
    for r in range(2, ws.max_row + 1):
        pid = ws.cell(r, col["patient_id"]).value
        ids.append(pid)
        ws.cell(r, col["disposition"]).value = "not appropriate" if r == 2 else "contacted"
        if r == 2:  # typed as text (Excel: a leading apostrophe), not a formula
            ws.cell(r, col["disposition_note"]).value = "=not a formula"
            ws.cell(r, col["disposition_note"]).data_type = "s"
        ws.cell(r, col["disposition_review"]).value = datetime(2026, 9, 1) if r == 2 else None
    wb.save(edited)
    db = run1 / "db" / "w.duckdb"
    before = len(read_all(db))
    p = subprocess.run([CLI, "import", str(edited), "--db", str(db)], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    rec = [d for d in read_all(db)[before:]]
    assert {d[0] for d in rec} == set(ids)
    first = next(d for d in rec if d[0] == ids[0])
    assert first[1:4] == ("not appropriate", "=not a formula", datetime(2026, 9, 1).date())
    ws.cell(3, col["disposition_note"]).value = "=1+1"          # a formula typed into the edited workbook
    wb.save(tmp_path / "formula.xlsx")
    bad = subprocess.run([CLI, "import", str(tmp_path / "formula.xlsx"), "--db", str(db)], capture_output=True,
                         text=True)
    assert bad.returncode == 2 and "holds a formula" in bad.stderr
    again = subprocess.run([CLI, "import", str(edited), "--db", str(db)], capture_output=True, text=True)
    assert again.returncode == 0 and "0 recorded" in again.stdout
    assert len(read_all(db)) == before + len(ids)


def test_csv_import_reverses_neutralisation_and_rejects_bad_rows(run1, tmp_path):
    rows = read_csv(run1 / "out" / "worklist.csv")
    cols = list(rows[0])
    rows[0]["disposition"] = "declined"
    rows[0]["disposition_note"] = "'+44 20 7946 0000"          # as written by our exporter for "+44 ..."
    good = tmp_path / "good.csv"
    with open(good, "w", newline="") as fh:
        w = csv.DictWriter(fh, cols)
        w.writeheader()
        w.writerows(rows)
    items = read_edited_worklist(good)
    assert [(d.patient_id, d.status, d.note) for d in items] == [(rows[0]["patient_id"], "declined",
                                                                  "+44 20 7946 0000")]
    rows[1]["disposition"] = "not appropriate"                 # no reason, no review date
    bad = tmp_path / "bad.csv"
    with open(bad, "w", newline="") as fh:
        w = csv.DictWriter(fh, cols)
        w.writeheader()
        w.writerows(rows)
    db = tmp_path / "db.duckdb"
    p = subprocess.run([CLI, "import", str(bad), "--db", str(db)], capture_output=True, text=True)
    assert p.returncode == 2 and "needs a reason" in p.stderr and "bad.csv line 3" in p.stderr
    assert read_all(db) == []                                   # all or nothing


def test_query_csv_is_neutralised(tmp_path, run1):
    db = run1 / "db" / "w.duckdb"
    p = subprocess.run([CLI, "query", "--db", str(db), "--csv", "SELECT name, -2.5 AS z FROM worklist "
                        "WHERE name LIKE '%HYPERLINK%'"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert list(csv.reader(p.stdout.splitlines()))[1] == ["'=HYPERLINK(\"http://x\",\"y\"), +SUM(A1)", "-2.5"]


@given(st.text(max_size=30))
def test_neutralise_is_reversible_and_safe(s):
    out = neutralise(s)
    assert restore(out) == s
    assert not out.startswith(("=", "+", "-", "@", "\t", "\r")) or _number(out)


def test_sheet_names_follow_excel_rules():
    taken: set[str] = set()
    names = [sheet_name(t, taken) for t in ["A" * 40, "A" * 40, "x/y:z*?[]", "All", "  ", "'quoted'"]]
    assert all(1 <= len(n) <= 31 for n in names)
    assert len({n.lower() for n in names}) == len(names)
    assert not any(set(n) & set("[]:*?/\\") for n in names)
    assert "All" not in names


def test_more_than_fifty_teams_share_other_teams(tmp_path):
    from screening.export.worklist_xlsx import write_worklist_xlsx

    cols = ["patient_id", "priority", "care_team", "safety", "disposition", "disposition_review"]
    rows = [(f"p{i}", "low", f"Team {i:03d}", False, None, None) for i in range(60)]
    path = write_worklist_xlsx(tmp_path / "w.xlsx", cols, rows, (["patient_id"], []), [("screened", 60)],
                               ["contacted"])
    wb = load_workbook(path)
    assert len(wb.sheetnames) == 50 + 4
    assert wb["Other teams"].max_row == 11
