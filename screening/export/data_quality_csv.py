"""data_quality.csv: every data-quality warning of every screened patient, listed or not (clinical-rules.md 8).

Why a file of its own: a patient who is not on the worklist but has, say, an unread DXA report is exactly the one
a care manager would otherwise never see. Written owner-only and atomically like the worklist; text cells that a
spreadsheet would run as a formula are neutralised.
"""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb

from screening.export.safe_files import atomic_write

COLUMNS = ["patient_id", "rule_id", "resource_ref", "evidence_date", "detail", "listed", "not_listed_reason"]
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def write_data_quality_csv(con: duckdb.DuckDBPyConnection, out_dir: Path) -> tuple[Path, int]:
    have = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    rows = (
        con.execute("SELECT " + ", ".join(COLUMNS) + " FROM data_quality ORDER BY patient_id, rule_id, "
                    "resource_ref").fetchall()
        if "data_quality" in have else []
    )

    def write(fh) -> None:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(COLUMNS)
        for row in rows:
            w.writerow([_cell(v) for v in row])

    return atomic_write(Path(out_dir) / "data_quality.csv", write), len(rows)
