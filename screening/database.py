"""Open the project DuckDB file with clear errors for the usual failures (missing, locked, foreign file)."""

from __future__ import annotations

from pathlib import Path

import duckdb

from screening.db import duckdb_connect
from screening.errors import DatabaseError
from screening.migrations import migrate

REQUIRED_TABLES = {"resource_raw", "quarantine", "load_run"}


SQLITE_MAGIC = b"SQLite format 3\x00"


def open_database(path: Path, *, read_only: bool = False, create: bool = True,
                  memory_limit: str | None = None) -> duckdb.DuckDBPyConnection:
    """A connection with our schema in place. Read-only opens never create or alter the file.

    `memory_limit` (default 2 GiB, config/settings.toml [limits]) bounds DuckDB; it spills to a folder next to
    the database (`<db>.tmp/`, owner-only) instead of growing."""
    path = Path(path)
    if path.exists() and not path.is_file():  # DuckDB would block forever on a FIFO
        raise DatabaseError(f"{path}: not a regular file (a folder, pipe or device cannot be a database)")
    try:
        with open(path, "rb") as fh:
            head = fh.read(16)
    except OSError:
        head = b""
    if head == SQLITE_MAGIC:
        raise DatabaseError(f"{path}: a SQLite database, not a DuckDB file (osteoscreen never opens it)")
    if read_only or not create:
        if not path.exists():
            raise DatabaseError(f"{path}: no such database file (run `osteoscreen run` first)")
    elif not path.parent.exists():
        raise DatabaseError(f"{path.parent}: folder for the database does not exist")
    try:
        con = duckdb_connect(path, read_only=read_only, memory_limit=memory_limit,
                             temp_directory=path.parent / (path.name + ".tmp"))
    except duckdb.IOException as exc:
        text = str(exc)
        if "lock" in text.lower():
            raise DatabaseError(
                f"{path}: the database is in use by another osteoscreen process (a run or a writer); "
                "wait for it to finish and try again") from None
        if "not a valid DuckDB database" in text or "database file" in text.lower():
            raise DatabaseError(f"{path}: not a DuckDB database file (or written by an incompatible "
                                f"DuckDB version {duckdb.__version__} cannot read)") from None
        raise DatabaseError(f"{path}: cannot open database: {text.splitlines()[0]}") from None
    except duckdb.Error as exc:
        raise DatabaseError(f"{path}: cannot open database: {str(exc).splitlines()[0]}") from None
    con.execute("SET enable_progress_bar = false")
    if read_only:
        tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        if not REQUIRED_TABLES <= tables:
            con.close()
            raise DatabaseError(f"{path}: a DuckDB file, but not an osteoscreen database (no load tables)")
    else:
        try:
            migrate(con, path)  # forward migrations of an older database, then the schema (screening/migrations.py)
        except DatabaseError:
            con.close()
            raise
        except duckdb.Error as exc:
            con.close()
            raise DatabaseError(f"{path}: cannot set up the osteoscreen schema: {str(exc).splitlines()[0]}") \
                from None
        from screening.schema_check import check_schema

        try:
            check_schema(con, str(path))  # a table altered by hand: one clear line before anything is written
        except DatabaseError:
            con.close()
            raise
    return con
