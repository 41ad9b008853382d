"""Skip a screen run when nothing it depends on changed since the last committed one (issue 10, point 3).

A screen result is a function of four things, each kept as a digest on its `screen_run` row:
- the as-of date;
- the configuration (`config_hash`: the settings and every config file, runner._config_hash);
- the code (`code_hash`): every SQL file the screens and the typed tables are built from, the manifest, and the
  Python that shapes results (code lists, settings, the DXA report reader, this package);
- the loaded data (`inputs_digest`, sql/screens/skip/inputs_digest.sql, plus the typed-table digest).

When the latest committed screen run has the same four, and its output tables still hold what it wrote (row
counts kept in `outputs`), its results stand: the run is not redone. Everything downstream (export, worklist
lifecycle, run record, analytics snapshot) reads those tables, so it sees exactly what a full re-screen would
have written. Anything else, or `force`, screens in full.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import duckdb

from screening.db import sql_text
from screening.paths import SQL_DIR

PACKAGE_DIR = Path(__file__).resolve().parents[1]
CODE_SQL = ("load", "model", "schema", "screens")
CODE_PY = ("screens", "reports", "codes")
CODE_PY_FILES = ("settings.py", "db.py")
OUTPUT_TABLES = ("screen_hits", "screen_patient", "worklist", "worklist_action")


def code_hash() -> str:
    """sha256 over the SQL and Python the screen result depends on (paths and contents)."""
    h = hashlib.sha256()
    paths = [SQL_DIR / "manifest.toml"]
    for folder in CODE_SQL:
        paths += sorted((SQL_DIR / folder).rglob("*.sql"))
    for folder in CODE_PY:
        paths += sorted((PACKAGE_DIR / folder).rglob("*.py"))
    paths += [PACKAGE_DIR / f for f in CODE_PY_FILES]
    for p in paths:
        if p.is_file():
            h.update(p.as_posix().rsplit("/screening/", 1)[-1].encode() + b"\0")
            h.update(p.read_bytes() + b"\0")
    return h.hexdigest()


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {r[0] for r in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' AND database_name = current_database()"
    ).fetchall()}


def _screen_run_columns(con: duckdb.DuckDBPyConnection) -> set[str]:
    """Columns of screen_run (empty when there is none yet; older databases lack the digests)."""
    return {r[0] for r in con.execute("SELECT column_name FROM duckdb_columns() WHERE table_name = 'screen_run' "
                                      "AND schema_name = 'main' AND database_name = current_database()").fetchall()}


def inputs_digest(con: duckdb.DuckDBPyConnection) -> str:
    """The loaded data the screens read, as one digest (no ids or values leave DuckDB)."""
    (digest,) = con.execute(sql_text("screens/skip/inputs_digest.sql")).fetchone()
    typed = ""
    if "typed_state" in _tables(con):
        typed = ",".join(r[0] for r in con.execute("SELECT digest FROM typed_state ORDER BY digest").fetchall())
    return hashlib.sha256(f"{digest}|{typed}".encode()).hexdigest()


def output_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    have = _tables(con)
    return {t: con.execute("SELECT count(*) FROM " + t).fetchone()[0] for t in OUTPUT_TABLES if t in have}


def unchanged_run(con: duckdb.DuckDBPyConnection, as_of, config: str, code: str, inputs: str) -> dict | None:
    """The latest committed screen run, when its as-of, config, code and inputs equal these and its output
    tables are intact; else None (screen in full)."""
    if not {"code_hash", "inputs_digest", "outputs"} <= _screen_run_columns(con):
        return None
    cur = con.execute("SELECT * FROM screen_run ORDER BY finished_at DESC, started_at DESC LIMIT 1")
    rows = cur.fetchall()  # consumed in full: an open result would block the connection's next statement
    if not rows:
        return None
    prev = dict(zip([d[0] for d in cur.description], rows[0], strict=True))
    if (prev["as_of"] != as_of or prev["config_hash"] != config or prev["code_hash"] != code
            or prev["inputs_digest"] != inputs or prev["outputs"] is None):
        return None
    if json.loads(prev["outputs"]) != output_counts(con):
        return None
    return prev


def known_unread(con: duckdb.DuckDBPyConnection, code: str, inputs: str) -> dict | None:
    """The `unread` record of an earlier screen run on the same data and code (it depends on nothing else: not the
    as-of date, not the config), so a nightly run whose as-of moved does not parse every JSON body again."""
    if not {"code_hash", "inputs_digest", "unread"} <= _screen_run_columns(con):
        return None
    rows = con.execute("SELECT unread FROM screen_run WHERE code_hash = ? AND inputs_digest = ? AND unread IS NOT NULL "
                       "ORDER BY finished_at DESC LIMIT 1", [code, inputs]).fetchall()
    return json.loads(rows[0][0]) if rows else None
