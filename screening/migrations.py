"""Schema version and forward migrations, applied when the working database is opened for writing.

A database carries its schema version in `schema_version` (a v0.1.0 database has none and is schema 1). On open:
a copy of the file is taken (owner-only, beside it), then in one transaction the `sql/migrations/NNNN_*.sql`
steps above its version run, columns that sql/schema/ declares but the database lacks are added (nullable, so no
row changes), and a version row is appended. A failure rolls back and leaves the file as it was. Migrations only
add: no table is dropped and no row is rewritten, so human-entered data survives (dispositions live in their own
file beside the database and are never opened here). A database from a newer release is refused.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from screening import __version__
from screening.db import ensure_schema, run_sql_file
from screening.errors import DatabaseError
from screening.paths import SQL_DIR

SCHEMA_VERSION = 2
_STEP = re.compile(r"^(\d{4})_.+\.sql$")


def schema_digest() -> str:
    h = hashlib.sha256()
    for path in sorted((SQL_DIR / "schema").glob("*.sql")):
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def migration_steps() -> list[tuple[int, str]]:
    steps = []
    for path in sorted((SQL_DIR / "migrations").glob("*.sql")):
        m = _STEP.match(path.name)
        if m:
            steps.append((int(m.group(1)), f"migrations/{path.name}"))
    return steps


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {r[0] for r in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name = 'main' AND NOT temporary").fetchall()}


def stored_version(con: duckdb.DuckDBPyConnection) -> tuple[int | None, str | None]:
    """(version, schema digest) of an osteoscreen database; (1, None) for 0.1.0; (None, None) for a new file."""
    tables = _tables(con)
    if "schema_version" in tables:
        row = con.execute("SELECT version, schema_digest FROM schema_version "
                          "ORDER BY version DESC, applied_at DESC LIMIT 1").fetchone()
        if row:
            return row[0], row[1]
    if "load_run" in tables:
        return 1, None
    return None, None


def _declared_columns() -> dict[str, list[tuple[str, str]]]:
    mem = duckdb.connect()
    try:
        ensure_schema(mem)
        rows = mem.execute("SELECT table_name, column_name, data_type FROM information_schema.columns "
                           "WHERE table_schema = 'main' ORDER BY table_name, ordinal_position").fetchall()
    finally:
        mem.close()
    out: dict[str, list[tuple[str, str]]] = {}
    for table, column, dtype in rows:
        out.setdefault(table, []).append((column, dtype))
    return out


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _add_missing_columns(con: duckdb.DuckDBPyConnection) -> list[str]:
    have: dict[str, set[str]] = {}
    for table, column in con.execute("SELECT table_name, column_name FROM information_schema.columns "
                                     "WHERE table_schema = 'main' AND table_catalog = current_database()"
                                     ).fetchall():
        have.setdefault(table, set()).add(column)
    added = []
    for table, columns in _declared_columns().items():
        if table not in have:
            continue  # a new table: ensure_schema creates it
        for column, dtype in columns:
            if column not in have[table]:
                # identifiers and type come from our own schema files (catalog names), quoted; no user values
                alter = f"ALTER TABLE main.{_ident(table)} ADD COLUMN {_ident(column)} {dtype}"
                con.execute(alter)
                added.append(f"{table}.{column}")
    return added


def _backup(con: duckdb.DuckDBPyConnection, path: Path, version: int) -> Path:
    con.execute("CHECKPOINT")  # everything in the main file, so a file copy is the whole database
    target = path.with_name(f"{path.name}.schema{version}.bak")
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as dst, open(path, "rb") as src:
        shutil.copyfileobj(src, dst, 1 << 20)
        dst.flush()
        os.fsync(dst.fileno())
    return target


def migrate(con: duckdb.DuckDBPyConnection, path: Path) -> dict:
    """Bring an open (read-write) database to SCHEMA_VERSION and the shipped schema; returns what was done."""
    version, digest = stored_version(con)
    current_digest = schema_digest()
    if version is None:  # a new database
        ensure_schema(con)
        run_sql_file(con, "migrations/0002_schema_version.sql")
        con.execute("INSERT INTO schema_version VALUES (?, ?, ?, ?, NULL)",
                    [SCHEMA_VERSION, __version__, current_digest, datetime.now(UTC)])
        return {"from": None, "to": SCHEMA_VERSION, "added_columns": []}
    if version > SCHEMA_VERSION:
        raise DatabaseError(f"{path}: written by a newer osteoscreen (database schema {version}, this release "
                            f"reads up to {SCHEMA_VERSION}); upgrade osteoscreen")
    if version == SCHEMA_VERSION and digest == current_digest:
        ensure_schema(con)
        return {"from": version, "to": version, "added_columns": []}
    backup = _backup(con, Path(path), version)
    con.execute("BEGIN TRANSACTION")
    try:
        for number, relative in migration_steps():
            if number > version:
                run_sql_file(con, relative)
        added = _add_missing_columns(con)
        ensure_schema(con)
        con.execute("INSERT INTO schema_version VALUES (?, ?, ?, ?, ?)",
                    [SCHEMA_VERSION, __version__, current_digest, datetime.now(UTC), str(backup)])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return {"from": version, "to": SCHEMA_VERSION, "added_columns": added, "backup": str(backup)}
