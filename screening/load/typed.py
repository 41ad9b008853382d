"""Rebuild the typed per-resource tables from `resource_raw` (sql/load/*.sql, in a fixed order)."""

from __future__ import annotations

import duckdb

from screening.db import run_sql_file

# Medication must precede nothing; medication.sql builds medication before medication_use needs it.
TYPED_SQL = ["load/patient.sql", "load/observation.sql", "load/condition.sql", "load/procedure.sql",
             "load/medication.sql", "load/encounter.sql",
             "load/diagnostic_report.sql", "load/report_text.sql", "load/patient_link.sql",
             "load/care_team.sql"]


def rebuild_typed_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Derive every typed table from the current resource versions; runs inside the caller's transaction."""
    for relative in TYPED_SQL:
        run_sql_file(con, relative)
