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
from screening.export.safe_files import ensure_private_dir
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


def screen_step(db: Path, as_of: date, config_dir: Path | None = None, force: bool = False) -> dict:
    """Screen as of `as_of`; skipped (previous results stand, `skipped` true) when the as-of date, config, code
    and loaded data equal the last committed screen run's, unless `force` (screening/screens/skip.py)."""
    from screening.screens import run_screens

    with phi_safe("screen"), pipeline_lock(db):
        con = open_database(db)
        try:
            return run_screens(con, as_of, config_dir, force=force)
        finally:
            con.close()


def export_step(db: Path, out: Path, as_of: date | None = None, config_dir: Path | None = None,
                options: dict | None = None) -> dict:
    """Record the run's history and dispositions, then write the worklist outputs (screening/export/run_export)."""
    from screening.export.run_export import ExportOptions, export_run

    try:
        ensure_private_dir(Path(out))
    except OSError as exc:
        raise OutputError(f"{out}: cannot create output folder: {exc.strerror}") from None
    with phi_safe("export"), pipeline_lock(db):  # export writes the run's history into the database
        summary = export_run(Path(db), Path(out), as_of, config_dir, ExportOptions.from_dict(options))
    result = {"worklist": summary["outputs"]["worklist.csv"], "listed": summary["listed"],
              "by_priority": summary["listed_by_priority"], "summary": summary}
    for key in ("data_quality", "data_quality_warnings"):  # data_quality.csv (screening/export/data_quality_csv)
        if key in summary:
            result[key] = summary.pop(key)
    return result


def run_pipeline(source: Path, db: Path, out: Path, as_of: date, config_dir: Path | None = None,
                 export_options: dict | None = None, snapshot: Path | None = None,
                 landing: Path | None = None) -> dict:
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
            exported = export_step(db, out, as_of, config_dir, export_options)
            summary = {"load": loaded, "screen": screened, "export": exported, "db": str(db)}
            summary["finish"] = finish_step(db, out, summary, config_dir, snapshot, landing)
    finally:
        os.umask(old_umask)
    return summary
