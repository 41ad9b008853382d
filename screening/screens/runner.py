"""Run the clinical SQL (sql/model, sql/screens) in the order of sql/manifest.toml.

All values (as-of date, thresholds, look-backs) are bound as named parameters; code lists are tables
(see screening.codes). One run = one transaction: a failing rule leaves the previous results in place.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tomllib
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from screening.codes import load_code_tables
from screening.codes.valuesets import read_commented_csv, replace_table
from screening.db import split_statements, statement_params
from screening.errors import ConfigError
from screening.faults import crashpoint
from screening.load.typed import TYPED_TABLES
from screening.paths import SQL_DIR
from screening.reports.udf import register_report_functions
from screening.screens import skip
from screening.screens.unread import unread_counts
from screening.settings import Settings, load_settings

log = logging.getLogger(__name__)

MANIFEST = SQL_DIR / "manifest.toml"

SCREEN_RUN_DDL = """
CREATE TABLE IF NOT EXISTS screen_run (
    run_id        VARCHAR PRIMARY KEY,
    as_of         DATE NOT NULL,
    started_at    TIMESTAMPTZ NOT NULL,
    finished_at   TIMESTAMPTZ NOT NULL,
    config_hash   VARCHAR NOT NULL,   -- sha256 of the settings and every code-list file
    config_dirs   VARCHAR NOT NULL,
    code_lists    VARCHAR NOT NULL,   -- JSON {file: version}
    counts        VARCHAR NOT NULL,   -- JSON {rule_id: patients}
    screened      BIGINT NOT NULL,
    listed        BIGINT NOT NULL
)"""
# Added by clinical-rules.md 8 (older databases gain the columns on their next screen run):
#   excluded  JSON {reason: patients} of patients never listed whatever else holds (deceased, hospice / palliative)
#   unread    JSON {resource type: {"resources": n, "read_by_rules": bool, "elements": {element: resources}}} of what
#             was loaded but read by no rule (screening.screens.unread)
# Added by issue 10 (skip an unchanged screen, screening.screens.skip):
#   code_hash      sha256 of the SQL and Python the result depends on
#   inputs_digest  digest of the loaded data the screens read
#   outputs        JSON {table: rows} of the output tables this run wrote
SCREEN_RUN_MIGRATE = (
    "ALTER TABLE screen_run ADD COLUMN IF NOT EXISTS excluded VARCHAR",
    "ALTER TABLE screen_run ADD COLUMN IF NOT EXISTS unread VARCHAR",
    "ALTER TABLE screen_run ADD COLUMN IF NOT EXISTS code_hash VARCHAR",
    "ALTER TABLE screen_run ADD COLUMN IF NOT EXISTS inputs_digest VARCHAR",
    "ALTER TABLE screen_run ADD COLUMN IF NOT EXISTS outputs VARCHAR",
)


def manifest_stages(manifest: Path = MANIFEST) -> list[tuple[str, list[str]]]:
    data = tomllib.loads(manifest.read_text(encoding="utf-8"))
    return [(stage["name"], stage["files"]) for stage in data["stages"]]


def manifest_files(manifest: Path = MANIFEST) -> list[str]:
    return [f for _name, files in manifest_stages(manifest) for f in files]


def execute_file(con: duckdb.DuckDBPyConnection, path: Path, params: dict) -> None:
    for stmt in split_statements(path.read_text(encoding="utf-8")):
        names = statement_params(stmt)
        missing = names - params.keys()
        if missing:
            raise ConfigError(f"{path.name}: SQL parameter(s) not in settings: {sorted(missing)}")
        try:
            con.execute(stmt, {k: params[k] for k in names} if names else None)
        except duckdb.Error as exc:
            raise RuntimeError(f"{path.relative_to(SQL_DIR)}: {str(exc).splitlines()[0]}") from exc


def _config_tables(con: duckdb.DuckDBPyConnection, s: Settings) -> None:
    replace_table(con, "cfg_pred_factor", s.pred_factors())
    replace_table(con, "cfg_op_window", s.op_windows())
    replace_table(con, "cfg_unit", s.lab_units())
    replace_table(con, "cfg_unit_canonical", s.canonical_units())
    replace_table(con, "cfg_lab_range", s.lab_ranges())
    replace_table(con, "cfg_dose_unit", s.dose_units())


def _load_actions(con: duckdb.DuckDBPyConnection, s: Settings) -> None:
    path = next((d / "actions.csv" for d in reversed(s.config_dirs) if (d / "actions.csv").exists()), None)
    if path is None:
        raise ConfigError("config/actions.csv is missing")
    rows, _ = read_commented_csv(path)
    try:
        actions = [
            {"rule_id": r["rule_id"].strip(), "ord": int(r["order"]), "action": r["action"].strip(),
             "specialist": (r.get("specialist") or "").strip() or None}
            for r in rows
        ]
    except (KeyError, ValueError, AttributeError) as exc:
        raise ConfigError(f"{path}: needs the columns rule_id,order,action[,specialist] ({exc})") from None
    replace_table(con, "cfg_action", actions)


def _config_hash(s: Settings) -> str:
    h = hashlib.sha256(s.digest.encode())
    for d in s.config_dirs:
        for p in sorted(d.rglob("*")):
            if p.is_file() and p.suffix.lower() in {".csv", ".json", ".toml"}:
                h.update(str(p.relative_to(d)).encode())
                h.update(p.read_bytes())
    return h.hexdigest()


def _ensure_typed_tables(con: duckdb.DuckDBPyConnection) -> None:
    """A database with resources but no typed tables (screened before any load built them) gets them first; the
    list is the one sql/load writes (screening.load.typed)."""
    have = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    if not set(TYPED_TABLES) <= have:
        from screening.load import rebuild_typed_tables

        rebuild_typed_tables(con)


def _skipped(con: duckdb.DuckDBPyConnection, prev: dict) -> dict:
    """The result of the unchanged run `prev`, as run_screens returns it, marked skipped."""
    by_priority = dict(
        con.execute("SELECT priority, count(*) FROM worklist GROUP BY priority ORDER BY priority").fetchall())
    log.info("screen: nothing changed since screen run %s (as of %s, same config, code and data): its results "
             "stand", prev["run_id"], prev["as_of"])
    return {
        "run_id": prev["run_id"],
        "as_of": prev["as_of"].isoformat(),
        "screened": prev["screened"],
        "listed": prev["listed"],
        "by_priority": by_priority,
        "rules": json.loads(prev["counts"]),
        "excluded": json.loads(prev["excluded"] or "{}"),
        "unread_types": sorted(json.loads(prev["unread"] or "{}")),
        "skipped": True,
        "unchanged_since": prev["run_id"],
    }


def run_screens(con: duckdb.DuckDBPyConnection, as_of: date, config_dir: Path | None = None,
                force: bool = False) -> dict:
    """Screen every patient as of `as_of`: (re)creates screen_hits, screen_patient, worklist; appends
    screen_run. When the as-of date, config, code and loaded data equal those of the latest committed screen
    run (screening.screens.skip) its results stand and nothing is redone (`skipped`), unless `force`.

    Returns counts only (no patient data): {"run_id", "as_of", "screened", "listed", "by_priority", "rules",
    "skipped"}.
    """
    if isinstance(as_of, datetime):
        as_of = as_of.date()
    settings = load_settings(config_dir)
    started = datetime.now(UTC)
    run_id = uuid.uuid4().hex[:12]
    params = {**settings.params, "as_of": as_of}
    config_hash, code = _config_hash(settings), skip.code_hash()
    con.execute("BEGIN TRANSACTION")
    try:
        _ensure_typed_tables(con)
        inputs = skip.inputs_digest(con)
        prev = None if force else skip.unchanged_run(con, as_of, config_hash, code, inputs)
        if prev is not None:
            result = _skipped(con, prev)
            con.execute("COMMIT")
            return result
        versions = load_code_tables(con, settings.config_dirs)
        _config_tables(con, settings)
        _load_actions(con, settings)
        register_report_functions(con, settings.config_dirs)
        for stage, files in manifest_stages():
            for relative in files:
                execute_file(con, SQL_DIR / relative, params)
            crashpoint(f"screen:{stage}")
        counts = dict(
            con.execute(
                "SELECT rule_id, count(DISTINCT patient_id) FROM screen_hits "
                "GROUP BY rule_id ORDER BY rule_id"
            ).fetchall()
        )
        screened, listed = con.execute(
            "SELECT count(*), count(*) FILTER (WHERE listed) FROM screen_patient"
        ).fetchone()
        by_priority = dict(
            con.execute(
                "SELECT priority, count(*) FROM worklist GROUP BY priority ORDER BY priority"
            ).fetchall()
        )
        excluded = dict(
            con.execute(
                "SELECT not_listed_reason, count(*) FROM screen_patient "
                "WHERE not_listed_reason IN ('deceased', 'hospice / palliative care') GROUP BY ALL ORDER BY 1"
            ).fetchall()
        )
        unread = skip.known_unread(con, code, inputs)
        if unread is None:
            unread = unread_counts(con)
        con.execute(SCREEN_RUN_DDL)
        for stmt in SCREEN_RUN_MIGRATE:
            con.execute(stmt)
        con.execute(
            "INSERT INTO screen_run (run_id, as_of, started_at, finished_at, config_hash, config_dirs, code_lists, "
            "counts, screened, listed, excluded, unread, code_hash, inputs_digest, outputs) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                run_id,
                as_of,
                started,
                datetime.now(UTC),
                config_hash,
                json.dumps([str(d) for d in settings.config_dirs]),
                json.dumps(versions, sort_keys=True),
                json.dumps(counts, sort_keys=True),
                screened,
                listed,
                json.dumps(excluded, sort_keys=True),
                json.dumps(unread, sort_keys=True),
                code,
                inputs,
                json.dumps(skip.output_counts(con), sort_keys=True),
            ],
        )
        crashpoint("screen:before-commit")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    log.info("screen run %s as of %s: %d screened, %d listed", run_id, as_of, screened, listed)
    return {
        "run_id": run_id,
        "as_of": as_of.isoformat(),
        "screened": screened,
        "listed": listed,
        "by_priority": by_priority,
        "rules": counts,
        "excluded": excluded,
        "unread_types": sorted(unread),
        "skipped": False,
    }
