"""DuckDB connection and SQL-file helpers: SQL lives in sql/ as files, never as scattered strings."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

from screening.paths import SQL_DIR


def sql_text(relative: str) -> str:
    """The text of a SQL file under sql/."""
    return (SQL_DIR / relative).read_text(encoding="utf-8")


_PARAM = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


def statement_params(statement: str) -> set[str]:
    """The named parameters ($name) a statement uses, comments left out."""
    code = "\n".join(line.split("--", 1)[0] for line in statement.splitlines())
    return set(_PARAM.findall(code))


def run_sql_file(con: duckdb.DuckDBPyConnection, relative: str, params: dict | None = None) -> None:
    """Run every statement of a SQL file; named parameters ($name) are bound, never formatted in."""
    params = params or {}
    for statement in split_statements(sql_text(relative)):
        names = statement_params(statement)
        missing = names - params.keys()
        if missing:
            raise KeyError(f"{relative}: no value for SQL parameter(s) {sorted(missing)}")
        con.execute(statement, {k: params[k] for k in names} or None)


def split_statements(text: str) -> list[str]:
    """Split a SQL script on ';' at line ends (our SQL files keep one statement per ';\\n')."""
    parts, current = [], []
    for line in text.splitlines():
        current.append(line)
        if line.rstrip().endswith(";") and not line.lstrip().startswith("--"):
            stmt = "\n".join(current).strip()
            if stmt and not all(ln.strip().startswith("--") or not ln.strip() for ln in current):
                parts.append(stmt)
            current = []
    tail = "\n".join(current).strip()
    if tail and not all(ln.strip().startswith("--") or not ln.strip() for ln in current):
        parts.append(tail)
    return parts


def connect(db_path: Path | str, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the project database and make sure its schema and macros exist."""
    con = duckdb.connect(str(db_path), read_only=read_only)
    if not read_only:
        ensure_schema(con)
    return con


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    for path in sorted((SQL_DIR / "schema").glob("*.sql")):
        con.execute(path.read_text(encoding="utf-8"))
