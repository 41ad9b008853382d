"""The typed per-resource tables (sql/load/*.sql): rebuilt from all of `resource_raw`, or maintained for the
resources a load changed.

Every file reads its resources from `_typed_src` and replaces the rows of the keys in `_typed_key`; the two
preparations decide what they hold: `00_all.sql` every current resource (a full rebuild), `00_changed.sql` the
resources this load changed and their dependants (Bundle reference maps, referenced Medications and Binaries,
merged patients). Both give the same tables (tests/test_load_typed_incremental.py); docs/performance.md.
"""

from __future__ import annotations

import hashlib

import duckdb

from screening.db import run_sql_file, sql_text

# In order: patient_link (from `patient`) must be known before the other tables are derived, medication before
# medication_use, and the link is applied once every table holds its new rows.
TYPED_SQL = ["load/patient.sql", "load/patient_link.sql", "load/observation.sql", "load/condition.sql",
             "load/procedure.sql", "load/medication.sql", "load/encounter.sql", "load/diagnostic_report.sql",
             "load/report_text.sql", "load/patient_link_apply.sql"]
FULL_SQL = "load/00_all.sql"
CHANGED_SQL = "load/00_changed.sql"
LINK_MOVED_SQL = "load/patient_link_moved.sql"  # incremental only, right after patient_link.sql
WHOLE_SQL = {"load/care_team.sql": ("Patient", "PractitionerRole", "Organization")}  # rebuilt whole when these change

# The tables sql/load writes (dropped before a full rebuild, so a changed schema is created afresh).
TYPED_TABLES = ("patient", "patient_link", "observation", "observation_coding", "observation_component",
                "condition", "condition_coding", "procedure", "procedure_coding", "medication", "medication_coding",
                "medication_use", "medication_dosage", "medication_use_coding", "care_event", "care_event_coding",
                "diagnostic_report", "diagnostic_report_coding", "document_reference", "document_reference_coding",
                "report_doc", "report_doc_coding", "report_text_source", "care_team")

# Above this share of resource_raw changed, one full rebuild is cheaper than deleting and re-deriving by key.
FULL_REBUILD_SHARE = 0.3


def _digest() -> str:
    files = [FULL_SQL, CHANGED_SQL, LINK_MOVED_SQL, *TYPED_SQL, *WHOLE_SQL]
    return hashlib.sha256("\0".join(r + "\0" + sql_text(r) for r in files).encode()).hexdigest()


def _current(con: duckdb.DuckDBPyConnection, digest: str) -> bool:
    """The typed tables exist and were built by this version of the SQL."""
    con.execute("CREATE TABLE IF NOT EXISTS typed_state (digest VARCHAR)")
    if not con.execute("SELECT count(*) FROM typed_state WHERE digest = ?", [digest]).fetchall()[0][0]:
        return False
    have = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables "
                                      "WHERE table_schema = 'main'").fetchall()}
    return set(TYPED_TABLES) <= have


def rebuild_typed_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Derive every typed table from all current resource versions; runs inside the caller's transaction.
    (A load keeps them current with maintain_typed_tables; this is for a database that has none yet.)"""
    _run(con, _digest(), full=True)


def maintain_typed_tables(con: duckdb.DuckDBPyConnection) -> str:
    """After a load's merge (`_changed`, `_ref_map_new` of sql/ingest/30_merge.sql): bring the typed tables up to
    date for what changed. Returns 'unchanged', 'incremental' or 'full' (the SQL changed, the tables are missing,
    or more than FULL_REBUILD_SHARE of the resources changed)."""
    digest = _digest()
    if not _current(con, digest):
        _run(con, digest, full=True)
        return "full"
    (changed, total) = con.execute("SELECT (SELECT count(*) FROM _changed) + (SELECT count(*) FROM _ref_map_new), "
                                   "(SELECT count(*) FROM resource_raw)").fetchone()
    if changed == 0:
        return "unchanged"
    if changed > FULL_REBUILD_SHARE * max(total, 1):
        _run(con, digest, full=True)
        return "full"
    _run(con, digest, full=False)
    return "incremental"


def _run(con: duckdb.DuckDBPyConnection, digest: str, full: bool) -> None:
    if full:
        for table in TYPED_TABLES:  # constant names: a schema change of the SQL starts from empty tables
            con.execute("DROP TABLE IF EXISTS " + table)
    run_sql_file(con, FULL_SQL if full else CHANGED_SQL)
    for relative in TYPED_SQL:
        run_sql_file(con, relative)
        if relative == "load/patient_link.sql" and not full:
            run_sql_file(con, LINK_MOVED_SQL)
    for relative, types in WHOLE_SQL.items():
        if full or con.execute("SELECT count(*) FROM _typed_key WHERE list_contains(?, resource_type)",
                               [list(types)]).fetchone()[0]:
            run_sql_file(con, relative)
    con.execute("CREATE TABLE IF NOT EXISTS typed_state (digest VARCHAR)")
    con.execute("DELETE FROM typed_state")
    con.execute("INSERT INTO typed_state VALUES (?)", [digest])
    # a view (full) or a table (incremental); after a failure the caller's rollback removes them
    con.execute("DROP VIEW IF EXISTS _typed_src" if full else "DROP TABLE IF EXISTS _typed_src")
    con.execute("DROP TABLE IF EXISTS _typed_key")
