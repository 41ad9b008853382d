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


# No extension is ever fetched or auto-loaded (a foreign file such as SQLite must not trigger a download); the
# project needs only json and icu, which ship inside the duckdb wheel and are loaded explicitly.
DUCKDB_CONFIG = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}
NEEDED_EXTENSIONS = ("json", "icu")
DEFAULT_MEMORY_LIMIT = "2GiB"
MEMORY_ENV = "OSTEOSCREEN_MEMORY_LIMIT"  # set by --memory-limit for the whole process
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*", re.IGNORECASE)


def parse_memory_limit(value: str) -> str:
    """A DuckDB size ('2GiB', '1500MB'), checked: at least 64 MiB."""
    m = _SIZE.fullmatch(value)
    if not m:
        raise ValueError(f"{value!r} is not a size such as 2GiB or 1500MB")
    n, unit = float(m.group(1)), m.group(2).lower()
    factor = {"b": 1, "kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12, "kib": 1024, "mib": 1024**2, "gib": 1024**3,
              "tib": 1024**4}[unit]
    if n * factor < 64 * 1024**2:
        raise ValueError(f"{value!r} is below the 64 MiB minimum")
    return f"{int(n * factor // 1024**2)}MiB"


DUCKDB_SHARE = 0.7  # of the process budget: the rest is Python, Arrow blocks and DuckDB's own untracked buffers


def duckdb_share(budget: str) -> str:
    """DuckDB's memory_limit for a process budget: the budget is for the whole process (peak RSS)."""
    return f"{max(64, int(int(parse_memory_limit(budget).removesuffix('MiB')) * DUCKDB_SHARE))}MiB"


def default_memory_limit() -> str:
    """--memory-limit (environment) if given, else settings.toml [limits] memory_limit_mib, else 2 GiB."""
    import os

    if os.environ.get(MEMORY_ENV):
        return parse_memory_limit(os.environ[MEMORY_ENV])
    try:
        from screening.settings import load_settings, memory_limit

        return memory_limit(load_settings())
    except Exception:  # a broken settings file is reported by the config pre-flight, not here
        return DEFAULT_MEMORY_LIMIT


def duckdb_connect(db_path: Path | str, read_only: bool = False, memory_limit: str | None = None,
                   temp_directory: Path | str | None = None) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with extensions locked down, the memory budget set and a spill folder."""
    config = dict(DUCKDB_CONFIG)
    config["memory_limit"] = duckdb_share(memory_limit or default_memory_limit())
    if temp_directory is not None:
        config["temp_directory"] = str(temp_directory)
    con = duckdb.connect(str(db_path), read_only=read_only, config=config)
    con.execute("LOAD json")  # NEEDED_EXTENSIONS, one literal statement each
    con.execute("LOAD icu")
    return con


def connect(db_path: Path | str, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the project database and make sure its schema and macros exist."""
    con = duckdb_connect(db_path, read_only=read_only)
    if not read_only:
        ensure_schema(con)
    return con


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    for path in sorted((SQL_DIR / "schema").glob("*.sql")):
        con.execute(path.read_text(encoding="utf-8"))
