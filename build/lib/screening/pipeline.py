"""The main job as plain functions: load -> screen -> export. Prefect flows wrap these (flows/)."""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path

from screening.database import open_database
from screening.errors import InputPathError, OutputError
from screening.export.safe_files import ensure_private_dir
from screening.export.worklist_csv import write_worklist_csv
from screening.load import SourceError, load_source
from screening.runlock import pipeline_lock

log = logging.getLogger(__name__)


def load_step(source: Path, db: Path) -> dict:
    """Load `source` into `db`; returns counts only (safe for logs and Prefect results)."""
    try:
        ensure_private_dir(Path(db).parent)
    except OSError as exc:
        raise OutputError(f"{Path(db).parent}: cannot create the database folder: {exc.strerror}") from None
    con = open_database(db)
    try:
        try:
            result = load_source(con, Path(source))
        except SourceError as exc:
            raise InputPathError(str(exc)) from None
        (patients,) = con.execute("SELECT count(*) FROM patient").fetchone()
        return {**result.as_dict(), "patients": patients}
    finally:
        con.close()


def screen_step(db: Path, as_of: date, config_dir: Path | None = None) -> dict:
    from screening.screens import run_screens

    con = open_database(db)
    try:
        return run_screens(con, as_of, config_dir)
    finally:
        con.close()


def export_step(db: Path, out: Path) -> dict:
    try:
        ensure_private_dir(Path(out))
    except OSError as exc:
        raise OutputError(f"{out}: cannot create output folder: {exc.strerror}") from None
    con = open_database(db, read_only=True)  # export only reads
    try:
        path, rows = write_worklist_csv(con, Path(out))
        counts = dict(con.execute(
            "SELECT priority, count(*) FROM worklist GROUP BY priority").fetchall())
        return {"worklist": str(path), "listed": rows, "by_priority": counts}
    finally:
        con.close()


def run_pipeline(source: Path, db: Path, out: Path, as_of: date, config_dir: Path | None = None) -> dict:
    """The whole job without Prefect (tests, scripts); `flows.screening_pipeline` runs the same steps."""
    with pipeline_lock(db):
        loaded = load_step(source, db)
        screened = screen_step(db, as_of, config_dir)
        exported = export_step(db, out)
    return {"load": loaded, "screen": screened, "export": exported, "db": str(db)}
