"""Detect schema drift: the tables `sql/schema/` creates must still have the columns and types it gave them.

`CREATE TABLE IF NOT EXISTS` leaves a table altered by hand as it is, and the loader would then fail half-way
with a DuckDB error. Checking at open turns that into one clear line (exit 4) before anything is written.
"""

from __future__ import annotations

import functools

import duckdb

from screening.errors import SchemaDriftError

_COLUMNS = ("SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'main' AND table_catalog = current_database() ORDER BY table_name, "
            "ordinal_position")


@functools.lru_cache(maxsize=1)
def expected_columns() -> dict[str, tuple[tuple[str, str], ...]]:
    """Columns of every table the schema files create, from a fresh in-memory database."""
    from screening.db import ensure_schema

    con = duckdb.connect()
    try:
        ensure_schema(con)
        return _columns(con)
    finally:
        con.close()


def _columns(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[tuple[str, str], ...]]:
    out: dict[str, list[tuple[str, str]]] = {}
    for table, column, dtype in con.execute(_COLUMNS).fetchall():
        out.setdefault(table, []).append((column, dtype))
    return {t: tuple(c) for t, c in out.items()}


def check_schema(con: duckdb.DuckDBPyConnection, where: str) -> None:
    """Raise SchemaDriftError naming the first table whose columns differ (names and types; order is free, so
    a column a migration appends is not drift)."""
    actual = _columns(con)
    for table, columns in expected_columns().items():
        got = actual.get(table)
        if got is None or set(got) == set(columns):
            continue
        want_names, got_names = [c for c, _ in columns], [c for c, _ in got]
        missing = [c for c in want_names if c not in got_names]
        extra = [c for c in got_names if c not in want_names]
        if missing:
            what = f"column(s) {', '.join(missing)} missing"
        elif extra:
            what = f"unexpected column(s) {', '.join(extra)}"
        else:
            types = dict(columns)
            changed = [c for c, t in got if types.get(c) != t]
            what = f"column(s) {', '.join(changed)} changed type"
        raise SchemaDriftError(
            f"{where}: table {table} was altered ({what}); osteoscreen cannot write to it safely. Restore the "
            "database from a backup or start a new database file")
