"""Load a folder or file of FHIR NDJSON / Bundles into DuckDB in one transaction.

Bytes are cut into lines in Python (C-speed `bytes.split`); every JSON decision is DuckDB's (sql/ingest/).
read = loaded + quarantined holds for every run, and the counts are stored in `load_run`.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import orjson

from screening.db import run_sql_file
from screening.faults import crashpoint
from screening.load.files import CORRUPT_ERRORS, InputFile, discover, record_batches
from screening.load.typed import rebuild_typed_tables

log = logging.getLogger(__name__)

INGEST_SQL = ["ingest/05_check_macro.sql", "ingest/10_records.sql", "ingest/20_validate.sql", "ingest/30_merge.sql"]


@dataclass
class LoadResult:
    run_id: str
    files: int
    blank_lines: int
    records_read: int
    loaded: int
    quarantined: int
    inserted: int
    replaced: int
    unchanged: int
    deleted: int
    empty_bundles: int

    def as_dict(self) -> dict:
        return asdict(self)


def load_source(con: duckdb.DuckDBPyConnection, source: Path, run_id: str | None = None) -> LoadResult:
    """Load every FHIR file under `source`; the data becomes visible in one commit or not at all."""
    files = discover(Path(source))
    run_id = run_id or uuid.uuid4().hex[:12]
    started = datetime.now(UTC)
    con.execute("BEGIN TRANSACTION")
    try:
        result = _load_in_transaction(con, files, run_id, str(source), started)
        crashpoint("load:before-commit")
        con.execute("COMMIT")
        crashpoint("load:after-commit")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    log.info("load %s: read %d, loaded %d, quarantined %d", run_id, result.records_read, result.loaded,
             result.quarantined)
    return result


def _load_in_transaction(con, files: list[InputFile], run_id: str, source: str, started) -> LoadResult:
    con.execute("CREATE OR REPLACE TEMP TABLE _stage_line (stage_no BIGINT, source_file VARCHAR, "
                "source_line BIGINT, raw BLOB, file_kind VARCHAR)")
    staged = 0  # a running line number over all files: the load order, without sorting the data later
    file_failures: list[tuple[str, str]] = []
    for f in files:
        last_line = 0
        try:
            for batch in record_batches(f):
                con.register("_batch", batch)
                con.execute("INSERT INTO _stage_line SELECT ? + source_line, ?, source_line, raw, ? FROM _batch",
                            [staged, str(f.path), f.kind])
                con.unregister("_batch")
                last_line = batch.column("source_line")[-1].as_py() if batch.num_rows else last_line
        except CORRUPT_ERRORS as exc:
            # A file we cannot read to the end loads nothing: one quarantine row names it.
            con.execute("DELETE FROM _stage_line WHERE source_file = ?", [str(f.path)])
            file_failures.append((str(f.path), f"unreadable file: {type(exc).__name__}: {exc}"))
        staged += last_line

    crashpoint("load:staged")
    seq_base = _next_seq_base(con)
    for relative in INGEST_SQL:
        run_sql_file(con, relative, {"run_id": run_id, "seq_base": seq_base})
    crashpoint("load:merged")
    for path, reason in file_failures:
        con.execute("INSERT INTO _q VALUES (?, NULL, NULL, NULL, NULL, NULL, ?, NULL)", [path, reason])
    _explain_invalid_json(con)

    con.execute("INSERT INTO quarantine SELECT ?, * FROM _q", [run_id])
    rebuild_typed_tables(con)
    crashpoint("load:typed")

    counts = con.execute("""
        SELECT (SELECT count(*) FROM _blank),
               (SELECT count(*) FROM _good) + (SELECT count(*) FROM _deletion),
               (SELECT count(*) FROM _q),
               (SELECT inserted FROM _merge_stats), (SELECT replaced FROM _merge_stats),
               (SELECT count(*) FROM _deletion), (SELECT count(*) FROM _empty_bundle),
               (SELECT count(*) FROM _good)
    """).fetchone()
    blank, loaded, quarantined, inserted, replaced, deleted, empty_bundles, good = counts
    result = LoadResult(
        run_id=run_id, files=len(files), blank_lines=blank, records_read=loaded + quarantined,
        loaded=loaded, quarantined=quarantined, inserted=inserted, replaced=replaced,
        unchanged=good - inserted - replaced, deleted=deleted, empty_bundles=empty_bundles,
    )
    con.execute(
        "INSERT INTO load_run VALUES (?, ?, now(), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'committed')",
        [run_id, started, source, result.files, blank, result.records_read, loaded, quarantined, inserted,
         replaced, result.unchanged, deleted],
    )
    con.execute("DROP VIEW IF EXISTS _res")
    for t in ("_stage_line", "_line", "_checked_line", "_record", "_bundle", "_bundle_entry", "_cand", "_winner"):
        con.execute(f"DROP TABLE IF EXISTS {t}")
    return result


def _next_seq_base(con) -> int:
    """Load order across runs: run ordinal x 2^64 (HUGEINT) leaves room for any run's record numbers."""
    (runs,) = con.execute("SELECT count(*) FROM load_run").fetchone()
    return (runs + 1) << 64


def _explain_invalid_json(con) -> None:
    """Replace 'invalid JSON' with the parser's own words (position and cause) for the few bad lines."""
    rows = con.execute(
        "SELECT rowid, raw FROM _q WHERE reason = 'invalid JSON' LIMIT 10000").fetchall()
    for rowid, raw in rows:
        text = raw.decode("utf-8", "replace").lstrip("\ufeff").rstrip("\r\n")
        try:
            orjson.loads(text)
            detail = "invalid JSON"
        except orjson.JSONDecodeError as exc:
            detail = f"invalid JSON: {exc}"
        con.execute("UPDATE _q SET reason = ? WHERE rowid = ?", [detail, rowid])
