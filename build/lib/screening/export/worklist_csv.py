"""worklist.csv: the clinical-rules.md section 6 contract columns first, in order, then the extras."""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb

from screening.db import sql_text
from screening.export.safe_files import atomic_write

CONTRACT_COLUMNS = [
    "patient_id", "mrn", "name", "birth_date", "sex", "priority", "risk_markers", "causes", "unaddressed",
    "recommended_actions", "evidence", "evidence_ids",
]


def worklist_rows(con: duckdb.DuckDBPyConnection) -> tuple[list[str], list[tuple]]:
    cur = con.execute(sql_text("export/worklist_export.sql"))
    columns = [d[0] for d in cur.description]
    missing = [c for c in CONTRACT_COLUMNS if c not in columns]
    if missing or columns[: len(CONTRACT_COLUMNS)] != CONTRACT_COLUMNS:
        raise RuntimeError(f"worklist table breaks the column contract (missing or out of order: {missing})")
    return columns, cur.fetchall()


def write_worklist_csv(con: duckdb.DuckDBPyConnection, out_dir: Path) -> tuple[Path, int]:
    columns, rows = worklist_rows(con)

    def write(fh) -> None:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(columns)
        for row in rows:
            w.writerow(["" if v is None else v for v in row])

    return atomic_write(Path(out_dir) / "worklist.csv", write), len(rows)
