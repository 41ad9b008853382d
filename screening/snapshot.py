"""The analysts' read-only snapshot: a DuckDB file beside the working database, swapped in by rename.

Analysts never open the working database (the run holds it), so they never block a run, and a run never
changes data under an open analyst connection: a connection keeps reading the inode it opened, while the next
snapshot is written to a temp file and renamed over the path. A Parquet-behind-views layout would change under
an open connection, which is why it is a whole DuckDB file.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from screening.db import run_sql_file, sql_text
from screening.housekeeping import snapshot_history_dir
from screening.paths import SQL_DIR


def snapshot_path(db: Path) -> Path:
    """Default snapshot location: `<db stem>.analytics.duckdb` beside the working database."""
    db = Path(db)
    return db.with_name(f"{db.stem}.analytics.duckdb")


def fingerprint(con: duckdb.DuckDBPyConnection, worklist_history: bool = True) -> str:
    """Digest of what the snapshot would show: data and screen output (40), and the export's decisions (41:
    status, dispositions; `worklist_history=False` for a partition file, which has no export tables)."""
    content = con.execute(sql_text("ops/40_fingerprint.sql")).fetchone()[0]
    if not worklist_history:
        return content
    return content + ":" + con.execute(sql_text("ops/41_fingerprint_worklist.sql")).fetchone()[0]


def _private_copy(src: Path, dst: Path) -> None:
    fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # owner-only before any byte is written
    with os.fdopen(fd, "wb") as out, open(src, "rb") as inp:
        shutil.copyfileobj(inp, out, 1 << 22)
        out.flush()
        os.fsync(out.fileno())


def publish_snapshot(db: Path, target: Path, keep_history: bool = True) -> Path:
    """Copy the working database file (checkpointed first), add the `analytics` views to the copy, rename it
    onto `target`. A file copy runs at disk speed (a table-by-table copy took longer than the screens).

    Call it under the run lock with the working database closed in this process (no writer can be active).
    """
    db, target = Path(db), Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    for stale in target.parent.glob(f".{target.name}.*.tmp*"):  # left by a publisher that was killed
        stale.unlink(missing_ok=True)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        con = duckdb.connect(str(db))
        try:
            con.execute("CHECKPOINT")  # everything in the main file: the copy is the whole database
        finally:
            con.close()
        _private_copy(db, tmp)
        wal = db.with_name(db.name + ".wal")
        if wal.exists():
            _private_copy(wal, tmp.with_name(tmp.name + ".wal"))
        con = duckdb.connect(str(tmp))
        try:
            for path in sorted((SQL_DIR / "analytics").glob("*.sql")):
                run_sql_file(con, str(path.relative_to(SQL_DIR)))
            con.execute("CHECKPOINT")
        finally:
            con.close()
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        if keep_history and target.exists():  # the previous snapshot stays readable for a while (retention)
            hist = snapshot_history_dir(target)
            hist.mkdir(mode=0o700, exist_ok=True)
            stamp = datetime.fromtimestamp(target.stat().st_mtime, UTC).strftime("%Y%m%dT%H%M%S%fZ")
            with contextlib.suppress(FileExistsError):
                os.link(target, hist / f"{stamp}.duckdb")  # a hard link: no copy, same inode
        os.replace(tmp, target)  # atomic: a reader sees the old file or the new one, never half of one
        dir_fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    finally:
        for leftover in (tmp, tmp.with_name(tmp.name + ".wal")):
            if leftover.exists():
                leftover.unlink()
    return target
