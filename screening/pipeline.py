"""The main job as plain functions: load -> screen -> export. Prefect flows wrap these (flows/)."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

from screening.database import open_database
from screening.errors import InputPathError, OsteoscreenError, OutputError, UnexpectedError, classify
from screening.export.data_quality_csv import write_data_quality_csv
from screening.export.safe_files import ensure_private_dir
from screening.export.worklist_csv import write_worklist_csv
from screening.load import SourceError, load_source
from screening.runlock import pipeline_lock

log = logging.getLogger(__name__)


DEBUG_ENV = "OSTEOSCREEN_DEBUG"  # set by `osteoscreen --debug`: exceptions pass through unchanged


@contextmanager
def phi_safe(step: str) -> Iterator[None]:
    """Exceptions leaving a step carry no patient data: Prefect logs a failed task's exception text to stderr
    and stores it in its database, and a DuckDB error quotes the value that failed. A failure the user can act
    on (disk full, schema drift) becomes its one-line error; anything else an UnexpectedError naming the step
    and the exception type, with the original kept in `.original` (shown by --debug only)."""
    try:
        yield
    except OsteoscreenError:
        raise
    except Exception as exc:
        if os.environ.get(DEBUG_ENV) == "1":
            raise
        known = classify(exc)
        if known is not None:
            raise known from None
        raise UnexpectedError(
            f"the {step} step failed: unexpected {type(exc).__name__} (no details shown: they can hold patient "
            "data; run with --debug for a traceback)", original=exc) from None


def load_step(source: Path, db: Path) -> dict:
    """Load `source` into `db`; returns counts only (safe for logs and Prefect results)."""
    try:
        ensure_private_dir(Path(db).parent)
    except OSError as exc:
        raise OutputError(f"{Path(db).parent}: cannot create the database folder: {exc.strerror}") from None
    with phi_safe("load"), pipeline_lock(db):
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

    with phi_safe("screen"), pipeline_lock(db):
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
    with phi_safe("export"):
        con = open_database(db, read_only=True)  # export only reads
        try:
            path, rows = write_worklist_csv(con, Path(out))
            counts = dict(con.execute(
                "SELECT priority, count(*) FROM worklist GROUP BY priority").fetchall())
            dq_path, dq_rows = write_data_quality_csv(con, Path(out))
            return {"worklist": str(path), "listed": rows, "by_priority": counts,
                    "data_quality": str(dq_path), "data_quality_warnings": dq_rows}
        finally:
            con.close()


def run_pipeline(source: Path, db: Path, out: Path, as_of: date, config_dir: Path | None = None,
                 snapshot: Path | None = None, landing: Path | None = None) -> dict:
    """The whole job without Prefect (tests, scripts, `osteoscreen run` with no Prefect API configured);
    `flows.screening_pipeline` runs the same steps.

    The database (and its WAL), the snapshot and the worklist hold PHI: they are created owner-only whatever
    the caller's umask, which is restored afterwards.
    """
    from screening.operations import finish_step

    old_umask = os.umask(0o077)
    try:
        with pipeline_lock(db):
            loaded = load_step(source, db)
            screened = screen_step(db, as_of, config_dir)
            exported = export_step(db, out)
            summary = {"load": loaded, "screen": screened, "export": exported, "db": str(db)}
            summary["finish"] = finish_step(db, out, summary, config_dir, snapshot, landing)
    finally:
        os.umask(old_umask)
    return summary
