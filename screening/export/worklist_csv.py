"""worklist.csv: the clinical-rules.md section 6 contract columns first, in order, then the run's status columns
(status, care_team, last_disposition, first_listed, safety), the other extras, and empty disposition columns a
care manager fills in for `osteoscreen import`. Every text cell is neutralised against formula injection."""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb

from screening.db import sql_text
from screening.export.cells import csv_cell
from screening.export.safe_files import atomic_write

CONTRACT_COLUMNS = [
    "patient_id", "mrn", "name", "birth_date", "sex", "priority", "risk_markers", "causes", "unaddressed",
    "recommended_actions", "evidence", "evidence_ids",
]
STATUS_COLUMNS = ["status", "care_team", "last_disposition", "first_listed", "safety"]
EDIT_COLUMNS = ["disposition", "disposition_note", "disposition_review", "disposition_by"]


def _query(con: duckdb.DuckDBPyConnection, relative: str, run_id: str) -> tuple[list[str], list[tuple]]:
    cur = con.execute(sql_text(relative), {"run_id": run_id})
    return [d[0] for d in cur.description], cur.fetchall()


def worklist_rows(con: duckdb.DuckDBPyConnection, run_id: str) -> tuple[list[str], list[tuple]]:
    """The active worklist of a run, columns in export order (contract, status, extras, edit columns)."""
    columns, rows = _query(con, "export/worklist_export.sql", run_id)
    missing = [c for c in CONTRACT_COLUMNS if c not in columns]
    if missing or columns[: len(CONTRACT_COLUMNS)] != CONTRACT_COLUMNS:
        raise RuntimeError(f"worklist table breaks the column contract (missing or out of order: {missing})")
    extras = [c for c in columns if c not in CONTRACT_COLUMNS and c not in STATUS_COLUMNS]
    order = CONTRACT_COLUMNS + STATUS_COLUMNS + extras
    idx = [columns.index(c) for c in order]
    return order + EDIT_COLUMNS, [tuple(r[i] for i in idx) + (None,) * len(EDIT_COLUMNS) for r in rows]


def resolved_rows(con: duckdb.DuckDBPyConnection, run_id: str) -> tuple[list[str], list[tuple]]:
    return _query(con, "export/worklist_resolved.sql", run_id)


def write_csv(path: Path, columns: list[str], rows: list[tuple]) -> Path:
    """Owner-only, atomic, every text cell neutralised (cells.neutralise; the import reverses it)."""

    def write(fh) -> None:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(columns)
        for row in rows:
            w.writerow([csv_cell(v) for v in row])

    return atomic_write(Path(path), write)


def write_worklist_csv(con: duckdb.DuckDBPyConnection, out_dir: Path, run_id: str) -> tuple[Path, int]:
    columns, rows = worklist_rows(con, run_id)
    return write_csv(Path(out_dir) / "worklist.csv", columns, rows), len(rows)
