"""Rebuild the typed per-resource tables from `resource_raw` (sql/load/*.sql, in a fixed order)."""

from __future__ import annotations

import hashlib

import duckdb

from screening.db import run_sql_file, sql_text

# Medication must precede nothing; medication.sql builds medication before medication_use needs it.
TYPED_SQL = ["load/patient.sql", "load/observation.sql", "load/condition.sql", "load/procedure.sql",
             "load/medication.sql", "load/encounter.sql",
             "load/diagnostic_report.sql", "load/report_text.sql", "load/patient_link.sql",
             "load/care_team.sql"]


def _digest() -> str:
    return hashlib.sha256("\0".join(r + "\0" + sql_text(r) for r in TYPED_SQL).encode()).hexdigest()


def rebuild_typed_tables(con: duckdb.DuckDBPyConnection, only_if_stale: bool = False) -> bool:
    """Derive every typed table from the current resource versions; runs inside the caller's transaction.

    only_if_stale: the caller changed no resource, so the tables are rebuilt only when the typed SQL itself
    changed since they were built (a new column from an upgrade). Returns whether they were rebuilt."""
    digest = _digest()
    con.execute("CREATE TABLE IF NOT EXISTS typed_state (digest VARCHAR)")
    if only_if_stale and con.execute("SELECT count(*) FROM typed_state WHERE digest = ?",
                                     [digest]).fetchall()[0][0]:
        return False
    for relative in TYPED_SQL:
        run_sql_file(con, relative)
    con.execute("DELETE FROM typed_state")
    con.execute("INSERT INTO typed_state VALUES (?)", [digest])
    return True
