"""Dispositions: what a care manager did about a listed patient, kept in a small DuckDB file of their own.

The file sits beside the database (`<db>.dispositions.duckdb`) with its own short lock (`.lock` beside it), taken
only for the seconds a write or a snapshot needs. So a care manager can record an outcome while the nightly run
holds the run lock, and no re-load or re-screen of the main database can lose one. The run copies a snapshot into
the main database at export time (`disposition_snapshot`) and decides suppression from it (sql/export/).
"""

from __future__ import annotations

import csv
import fcntl
import getpass
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from screening.db import sql_text
from screening.errors import DatabaseError, OsteoscreenError
from screening.export.cells import restore
from screening.export.safe_files import ensure_private_dir
from screening.paths import CONFIG_DIR

LOCK_WAIT_SECONDS = 30.0


class DispositionError(OsteoscreenError):
    """A disposition that breaks the rules of config/dispositions.csv (usage error)."""

    exit_code = 2


@dataclass(frozen=True)
class StatusRule:
    status: str
    suppresses: bool
    default_days: int | None
    requires_note: bool
    requires_review: bool
    counts_attempts: bool
    task_status: str


def dispositions_path(db: Path) -> Path:
    db = Path(db)
    return db.with_name(db.name + ".dispositions.duckdb")


def config_file(config_dir: Path | None = None) -> Path:
    """config/dispositions.csv, or the one in a user config folder when it has its own."""
    if config_dir is not None and (Path(config_dir) / "dispositions.csv").exists():
        return Path(config_dir) / "dispositions.csv"
    return CONFIG_DIR / "dispositions.csv"


def load_rules(config_dir: Path | None = None) -> dict[str, StatusRule]:
    path = config_file(config_dir)
    rules: dict[str, StatusRule] = {}
    with open(path, encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            def flag(key: str, row: dict = row) -> bool:
                return row[key].strip().lower() == "true"
            days = row["default_days"].strip()
            rules[row["status"].strip()] = StatusRule(
                row["status"].strip(), flag("suppresses"), int(days) if days else None, flag("requires_note"),
                flag("requires_review"), flag("counts_attempts"), row["task_status"].strip())
    return rules


@contextmanager
def disposition_lock(path: Path, wait: float = LOCK_WAIT_SECONDS) -> Iterator[None]:
    """The short lock of the dispositions file; waits (a run's snapshot takes well under a second)."""
    ensure_private_dir(path.parent)
    lock_path = path.with_name(path.name + ".lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise DatabaseError(f"{path}: the dispositions file stayed locked for {wait:.0f} s") from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)


def _open(path: Path) -> duckdb.DuckDBPyConnection:
    new = not path.exists()
    try:
        con = duckdb.connect(str(path))
    except duckdb.Error as exc:
        raise DatabaseError(f"{path}: cannot open the dispositions file: {str(exc).splitlines()[0]}") from None
    if new:
        os.chmod(path, 0o600)
    con.execute(sql_text("export/disposition_schema.sql"))
    return con


@dataclass(frozen=True)
class Disposition:
    patient_id: str
    status: str
    note: str | None = None
    review_date: date | None = None
    recorded_by: str | None = None
    recorded_at: datetime | None = None


def login_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry (containers)
        return str(os.getuid())


def check(d: Disposition, rules: dict[str, StatusRule], where: str = "") -> Disposition:
    """Validate against config/dispositions.csv; returns the disposition with defaults filled in."""
    prefix = f"{where}: " if where else ""
    status = d.status.strip().lower()
    if status not in rules:
        shown = d.status if len(d.status) <= 24 else d.status[:21] + "..."  # a cell may hold anything: keep it short
        raise DispositionError(f"{prefix}unknown disposition {shown!r} (allowed: {', '.join(rules)})")
    rule = rules[status]
    note = (d.note or "").strip() or None
    if rule.requires_note and not note:
        raise DispositionError(f"{prefix}{status!r} needs a reason (--note)")
    if rule.requires_review and d.review_date is None:
        raise DispositionError(f"{prefix}{status!r} needs a review date (--review YYYY-MM-DD)")
    if not d.patient_id or not d.patient_id.strip():
        raise DispositionError(f"{prefix}no patient id")
    return Disposition(d.patient_id.strip(), status, note, d.review_date, (d.recorded_by or login_user()).strip(),
                       d.recorded_at or datetime.now(UTC))


def record(db: Path, items: list[Disposition], source: str, config_dir: Path | None = None) -> int:
    """Record dispositions (all or nothing); a repeat of a patient's latest identical one is skipped.

    Returns how many were recorded.
    """
    rules = load_rules(config_dir)
    checked = [check(d, rules) for d in items]
    path = dispositions_path(db)
    with disposition_lock(path):
        con = _open(path)
        try:
            con.execute("BEGIN")
            n = 0
            for d in checked:
                latest = con.execute(
                    "SELECT status, note, review_date FROM disposition WHERE patient_id = ? "
                    "ORDER BY recorded_at DESC, id DESC LIMIT 1", [d.patient_id]).fetchone()
                if latest == (d.status, d.note, d.review_date) and source.startswith("import"):
                    continue  # the same edited worklist imported twice
                con.execute("INSERT INTO disposition VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                            [uuid.uuid4().hex, d.patient_id, d.status, d.note, d.review_date, d.recorded_by,
                             d.recorded_at, source])
                n += 1
            con.execute("COMMIT")
            return n
        finally:
            con.close()


def snapshot_into(con: duckdb.DuckDBPyConnection, db: Path, config_dir: Path | None = None) -> int:
    """Copy every disposition into the main database (table disposition_snapshot) under the short lock."""
    path = dispositions_path(db)
    con.execute(sql_text("export/disposition_schema.sql").replace("disposition (", "disposition_snapshot (", 1))
    rules = load_rules(config_dir)
    con.execute("CREATE OR REPLACE TABLE cfg_disposition (status VARCHAR, suppresses BOOLEAN, default_days INTEGER, "
                "requires_note BOOLEAN, requires_review BOOLEAN, counts_attempts BOOLEAN, task_status VARCHAR)")
    con.executemany("INSERT INTO cfg_disposition VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [(r.status, r.suppresses, r.default_days, r.requires_note, r.requires_review,
                      r.counts_attempts, r.task_status) for r in rules.values()])
    if not path.exists():
        con.execute("DELETE FROM disposition_snapshot")
        return 0
    with disposition_lock(path):
        src = _open(path)  # schema upgrades happen under the lock
        try:
            rows = src.sql("SELECT * FROM disposition").to_arrow_table()
        finally:
            src.close()
    con.register("_disp_src", rows)
    try:
        con.execute("BEGIN")
        con.execute("DELETE FROM disposition_snapshot")
        con.execute("INSERT INTO disposition_snapshot BY NAME SELECT * FROM _disp_src")
        con.execute("COMMIT")
    finally:
        con.unregister("_disp_src")
    return con.execute("SELECT count(*) FROM disposition_snapshot").fetchone()[0]


def read_all(db: Path) -> list[tuple]:
    path = dispositions_path(db)
    if not path.exists():
        return []
    with disposition_lock(path):
        con = _open(path)
        try:
            return con.execute("SELECT patient_id, status, note, review_date, recorded_by, recorded_at, source "
                               "FROM disposition ORDER BY recorded_at, id").fetchall()
        finally:
            con.close()


# -- import of an edited worklist -------------------------------------------------------------------------------

IMPORT_COLUMNS = ("patient_id", "disposition", "disposition_note", "disposition_review", "disposition_by")


def _parse_review(value: object, where: str) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise DispositionError(f"{where}: review date {str(value)[:20]!r} is not YYYY-MM-DD") from None


def _from_rows(rows: list[tuple[str, dict]]) -> list[tuple[str, Disposition]]:
    found: dict[str, tuple[str, Disposition]] = {}
    for where, row in rows:
        status = row.get("disposition")
        if status is None or not str(status).strip():
            continue
        d = Disposition(str(row.get("patient_id") or ""), str(status),
                        str(row["disposition_note"]) if row.get("disposition_note") not in (None, "") else None,
                        _parse_review(row.get("disposition_review"), where),
                        str(row["disposition_by"]) if row.get("disposition_by") not in (None, "") else None)
        prev = found.get(d.patient_id)
        if prev and prev[1] != d:
            raise DispositionError(f"{where}: patient also has a different disposition at {prev[0]}")
        found[d.patient_id] = (where, d)
    return list(found.values())


def read_edited_worklist(path: Path, config_dir: Path | None = None) -> list[Disposition]:
    """The filled-in `disposition` cells of an edited worklist.csv / worklist.xlsx (every sheet with the columns)."""
    path = Path(path)
    if not path.is_file():
        raise OsteoscreenError(f"{path}: no such file")
    rows: list[tuple[str, dict]] = []
    if path.suffix.lower() == ".xlsx":
        from openpyxl import load_workbook

        wb = load_workbook(path, read_only=True, data_only=False)
        for ws in wb.worksheets:
            it = ws.iter_rows()
            first = next(it, None)
            header = [c.value for c in first] if first else None
            if not header or "patient_id" not in header or "disposition" not in header:
                continue
            names = [str(h) if h is not None else "" for h in header]
            wanted = set(IMPORT_COLUMNS)
            for i, cells in enumerate(it, start=2):
                row = {}
                for k, c in zip(names, cells, strict=False):
                    if k not in wanted:
                        continue
                    if c.data_type == "f":  # a formula typed into an edited cell: its value is unknown here
                        raise DispositionError(f"{path.name} {ws.title}!row {i}: {k} holds a formula; "
                                               "type the value as text")
                    row[k] = restore(c.value)
                rows.append((f"{ws.title}!row {i}", row))
        wb.close()
    else:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            if not reader.fieldnames or "patient_id" not in reader.fieldnames or \
                    "disposition" not in reader.fieldnames:
                raise DispositionError(f"{path.name}: needs the columns patient_id and disposition")
            for i, row in enumerate(reader, start=2):
                rows.append((f"line {i}", {k: restore(v) for k, v in row.items()}))
    rules = load_rules(config_dir)
    items = _from_rows(rows)
    return [check(d, rules, where=f"{path.name} {where}") for where, d in items]
