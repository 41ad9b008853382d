"""Record each run's worklist in DuckDB (worklist_history, worklist_resolved, worklist_run) and decide status.

Runs after screening with a short read-write connection; the files are then written from a read-only one.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from screening.db import run_sql_file, sql_text
from screening.export import dispositions


def record_run(con: duckdb.DuckDBPyConnection, db: Path, as_of: date | None = None,
               config_dir: Path | None = None) -> dict:
    """Snapshot dispositions, then append this run to the history; returns the run's counts (no patient data)."""
    con.execute(sql_text("export/history_schema.sql"))
    dispositions.snapshot_into(con, db, config_dir)
    snapshot_at = datetime.now(UTC)
    if as_of is None:
        as_of = con.execute("SELECT max(as_of) FROM worklist").fetchone()[0] or date.today()
    (seq,) = con.execute("SELECT coalesce(max(run_seq), 0) + 1 FROM worklist_run").fetchone()
    run_id = f"{as_of.isoformat()}-{seq:04d}-{uuid.uuid4().hex[:8]}"
    con.execute("BEGIN")
    try:
        run_sql_file(con, "export/history_record.sql",
                     {"run_id": run_id, "run_seq": seq, "as_of": as_of, "snapshot_at": snapshot_at})
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return run_counts(con, run_id)


def run_counts(con: duckdb.DuckDBPyConnection, run_id: str) -> dict:
    cur = con.execute("SELECT * FROM worklist_run WHERE run_id = ?", [run_id])
    names = [d[0] for d in cur.description]
    row = dict(zip(names, cur.fetchone(), strict=True))
    row["as_of"] = row["as_of"].isoformat()
    row["snapshot_at"] = row["snapshot_at"].isoformat()
    return row


def mark_completed(db: Path, run_id: str) -> None:
    """The run's files are all written: from now on it is the `previous` run of the next one."""
    from screening.database import open_database

    con = open_database(db)
    try:
        con.execute("UPDATE worklist_run SET completed = true WHERE run_id = ?", [run_id])
    finally:
        con.close()


def latest_run_id(con: duckdb.DuckDBPyConnection) -> str | None:
    row = con.execute("SELECT run_id FROM worklist_run ORDER BY run_seq DESC LIMIT 1").fetchone()
    return row[0] if row else None
