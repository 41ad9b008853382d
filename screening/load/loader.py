"""Load a folder or file of FHIR NDJSON / Bundles into DuckDB; the run's data becomes visible in one commit.

Bytes are cut into lines in Python (NumPy over blocks, bounded by the limits in screening/load/files.py); every
JSON decision is DuckDB's (sql/ingest/). read = loaded + quarantined holds for every run, and the counts are stored
in `load_run`. Files already loaded unchanged (same path, size, mtime and content hash) are skipped.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from screening.db import parse_memory_limit, run_sql_file
from screening.faults import crashpoint
from screening.load.fields import FieldRule, fhir_types, field_rules, field_values_sql
from screening.load.files import (
    CORRUPT_ERRORS,
    MIB,
    InputFile,
    LimitExceeded,
    Limits,
    ReadStats,
    discover,
    display_path,
    int64_array,
    record_batches,
    repeated_text,
)
from screening.load.typed import maintain_typed_tables

log = logging.getLogger(__name__)

INGEST_SQL = ["ingest/05_check_macro.sql", "ingest/10_records.sql", "ingest/18_resources.sql"]
VALIDATE_SQL = "ingest/20_validate.sql"
MERGE_SQL = "ingest/30_merge.sql"


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
    field_quarantined: int = 0
    files_skipped: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


def load_source(con: duckdb.DuckDBPyConnection, source: Path, run_id: str | None = None, *,
                limits: Limits | None = None, config_dirs: list[Path] | None = None,
                fhir_base: str | None = None) -> LoadResult:
    """Load every FHIR file under `source`; the data becomes visible in one commit or not at all.

    `fhir_base`: the FHIR server the files came from (default: the `request` of a manifest.json under `source`);
    absolute references resolve locally only against it.
    """
    source = Path(source)
    files = discover(source)
    if limits is None:
        from screening.settings import load_settings

        extra = [d for d in (config_dirs or [])[1:]]
        limits = Limits.from_settings(load_settings(extra[-1] if extra else None).params)
    run_id = run_id or uuid.uuid4().hex[:12]
    fhir_base = fhir_base if fhir_base is not None else manifest_base(source)
    started = datetime.now(UTC)
    in_tx = False
    try:
        # Stage and validate in connection-local TEMP tables, each statement committed on its own (autocommit):
        # DuckDB frees every dropped intermediate at once and nothing of the working database changes, so a crash
        # here leaves the previous state. Then publish with one short transaction (docs/performance.md).
        with _no_auto_checkpoint(con):
            staged = _stage_and_validate(con, files, limits, config_dirs, fhir_base)
        con.execute("BEGIN TRANSACTION")
        in_tx = True
        result = _publish(con, files, run_id, display_path(source), started, fhir_base, *staged)
        crashpoint("load:before-commit")
        _drop_temp(con)  # before COMMIT: it would otherwise merge the transaction's changes to them (1 s at 100k)
        con.execute("COMMIT")
        in_tx = False
        crashpoint("load:after-commit")
    except BaseException:
        if in_tx:
            con.execute("ROLLBACK")
        raise
    finally:
        _drop_temp(con)
    log.info("load %s: read %d, loaded %d, quarantined %d, %d file(s) unchanged and skipped", run_id,
             result.records_read, result.loaded, result.quarantined, result.files_skipped)
    return result


_EXPORT_SUFFIX = re.compile(r"/(?:Patient|Group/[^/]+)?/?\$export.*$")


def manifest_base(source: Path) -> str | None:
    """The server base of a Bulk export (manifest.json `request` up to /$export), when exactly one is found."""
    folder = source if source.is_dir() else source.parent
    bases = set()
    for m in [folder / "manifest.json", *folder.glob("*/manifest.json")]:
        try:
            req = orjson.loads(m.read_bytes()).get("request")
        except (OSError, orjson.JSONDecodeError, AttributeError):
            continue
        if isinstance(req, str) and "$export" in req:
            bases.add(_EXPORT_SUFFIX.sub("", req.split("?", 1)[0]).rstrip("/"))
    return bases.pop() if len(bases) == 1 else None


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:  # reported by _fingerprint, in file order
        return 0


def _fingerprint(path: Path) -> tuple[int, int, str]:
    """(size, mtime_ns, sha256): what "already loaded unchanged" means for a file."""
    st = path.stat()
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(8 * MIB):
            h.update(block)
    return st.st_size, st.st_mtime_ns, h.hexdigest()


TEMP_TABLES = ("_checked_line", "_entry_record", "_bundle", "_bundle_entry", "_entry_checked",
               "_cand", "_winner", "_file_q", "_fieldq", "_range", "_conflict", "_fv_type", "_fv", "_fv_flat",
               "_fv_range", "_blank", "_q", "_deletion", "_ref_map_new", "_status_vs", "_subject_types", "_problem",
               "_good", "_empty_bundle", "_merge_stats", "_resurrect", "_file_type", "_bad_date", "_changed",
               "_typed_key", "_link_old", "_link_moved", "_link_key")
TEMP_VIEWS = ("_base", "_res", "_record")


def _drop_temp(con, keep: tuple[str, ...] = ()) -> None:
    """Release every intermediate of the load (also after a failure, so a retry starts clean)."""
    for v in TEMP_VIEWS:
        con.execute("DROP VIEW IF EXISTS " + v)  # v: a name from TEMP_VIEWS, never input
    for t in (*TEMP_TABLES, *(f"_acc{t}" for t in BATCH_OUT)):
        if t not in keep:
            con.execute(f"DROP TABLE IF EXISTS {t}")


# Staged input checked at a time: the working set of phase 1, whatever the population. DuckDB runs a statement on
# one thread per row group (122,880 rows) of the table it reads, and a 64 MiB batch (~90,000 Observations) was one
# row group: every check after the first ran on one core. 192 MiB gives typical records three row groups (load
# 18.5 -> 16 s at 100k, 187 -> 152 s at 1M, same peak RSS; docs/performance.md). A small memory budget gets a
# batch of a sixth of DuckDB's share instead. JSON files (Bundles) keep 64 MiB: their entries are unpacked into
# many rows in SQL anyway, and a 192 MiB batch of them only raised the peak (278 MB of Synthea Bundles: 1,086 ->
# 1,668 MiB, no faster).
BATCH_BYTES_MAX = 192 * MIB
BATCH_BYTES_MIN = 16 * MIB
JSON_BATCH_BYTES = 64 * MIB


def batch_bytes(con: duckdb.DuckDBPyConnection) -> int:
    """BATCH_BYTES_MAX, or a sixth of this connection's DuckDB memory_limit when that is smaller."""
    limit = parse_memory_limit(con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0])
    return max(BATCH_BYTES_MIN, min(BATCH_BYTES_MAX, int(limit.removesuffix("MiB")) * MIB // 6))


BATCH_OUT = ("_good", "_q", "_deletion", "_ref_map_new", "_blank", "_empty_bundle")


class _Batches:
    """Runs the checks (sql/ingest 05-20) on every batch_bytes(con) of staged lines and keeps only their results.

    Batches end between lines, and every check is per line (a Bundle is one line or one file), so the results are
    those of one pass over everything; only the compact outputs (BATCH_OUT) accumulate. A batch's lines stay in
    their Arrow buffers and DuckDB reads them in place as `_stage_line` (no copy); they are released after it."""

    def __init__(self, con, params: dict, rules: list[FieldRule]):
        self.con, self.params, self.rules = con, params, rules
        self.pending: list[tuple[str, pa.Table, int]] = []  # (file, staged lines, bytes read)
        self.pending_bytes = 0
        self.batch_bytes = batch_bytes(con)
        run_sql_file(con, "ingest/02_accumulators.sql")

    def add(self, name: str, kind: str, offset: int, batch: pa.Table) -> None:
        """Queue one Arrow table of (source_line, raw) of file `name`; its stage_no is offset + source_line."""
        n = batch.num_rows
        self.pending.append((name, pa.table({
            "stage_no": pc.add(batch.column("source_line"), int64_array([offset])[0]),
            "source_file": repeated_text(name, n),
            "source_line": batch.column("source_line"),
            "raw": batch.column("raw"),
            "file_kind": repeated_text(kind, n)}), batch.nbytes))
        self.pending_bytes += batch.nbytes
        if self.pending_bytes >= (min(self.batch_bytes, JSON_BATCH_BYTES) if kind == "json" else self.batch_bytes):
            self.flush()

    def flush(self) -> None:
        con = self.con
        stage = pa.concat_tables([t for _, t, _ in self.pending]) if self.pending else _EMPTY_STAGE
        self.pending, self.pending_bytes = [], 0
        con.register("_stage_line", stage)
        try:
            for relative in INGEST_SQL:
                run_sql_file(con, relative, self.params)
        finally:
            con.unregister("_stage_line")
            del stage
        _field_values(con, self.rules)
        run_sql_file(con, VALIDATE_SQL, self.params)
        _clean_fields(con, self.rules)
        run_sql_file(con, "ingest/26_batch_append.sql")
        _drop_temp(con, keep=("_file_q",) + tuple(f"_acc{t}" for t in BATCH_OUT))

    def forget_file(self, name: str) -> None:
        """A file that failed half way loads nothing: drop what earlier batches kept of it."""
        self.pending = [p for p in self.pending if p[0] != name]
        self.pending_bytes = sum(nbytes for _, _, nbytes in self.pending)
        run_sql_file(self.con, "ingest/27_batch_forget.sql", {"name": name})

    def finish(self) -> None:
        self.flush()
        run_sql_file(self.con, "ingest/28_batch_finish.sql")


# From no batches, not pa.array() / empty_table(): those import pandas (screening/load/files.py, int64_array).
_EMPTY_STAGE = pa.Table.from_batches([], pa.schema([("stage_no", pa.int64()), ("source_file", pa.string()),
                                                    ("source_line", pa.int64()), ("raw", pa.large_binary()),
                                                    ("file_kind", pa.string())]))


@contextmanager
def _no_auto_checkpoint(con):
    """Phase 1 writes only TEMP tables, one autocommit statement at a time; with DuckDB's default threshold
    (16 MiB) nearly every batch triggered a checkpoint of the temp catalog that recompressed the growing
    accumulators (about half of `_checked_line`'s time at 100k, docs/performance.md). The working database is not
    written in phase 1, so the threshold is raised only for it and reset before publishing."""
    con.execute("SET checkpoint_threshold = '1TiB'")
    try:
        yield
    finally:
        con.execute("RESET checkpoint_threshold")  # the project never sets it otherwise: DuckDB's default


def _stage_and_validate(con, files: list[InputFile], limits: Limits, config_dirs,
                        fhir_base: str | None) -> tuple[int, int, list]:
    """Phase 1 (autocommit, TEMP tables only): read, cut, check. Returns (blank lines, skipped files, files seen)."""
    rules = field_rules(config_dirs)
    batches = _Batches(con, {"fhir_types": fhir_types(config_dirs), "fhir_base": fhir_base}, rules)
    con.execute("CREATE OR REPLACE TEMP TABLE _file_q (source_file VARCHAR, source_line BIGINT, reason VARCHAR, "
                "raw BLOB)")
    staged = 0  # a running line number over all files: the load order, without sorting the data later
    blank = 0
    skipped = 0
    seen_files = []
    # The SHA-256 of every file, two at a time ahead of the checks (hashlib releases the GIL): an unchanged re-load
    # is mostly hashing, and in a full load it overlaps DuckDB's work instead of preceding each file's. Largest
    # first: one big file (Observation) on one thread while the other takes the rest.
    hasher = ThreadPoolExecutor(max_workers=2, thread_name_prefix="osteoscreen-hash")
    order = sorted((i for i, f in enumerate(files) if not f.problem), key=lambda i: -_size(files[i].path))
    prints = {i: hasher.submit(_fingerprint, files[i].path) for i in order}
    try:
        for i, f in enumerate(files):
            name = display_path(f.path)
            if f.problem:
                con.execute("INSERT INTO _file_q VALUES (?, NULL, ?, NULL)", [name, f.problem])
                continue
            try:
                fp = prints[i].result()
            except OSError as exc:
                con.execute("INSERT INTO _file_q VALUES (?, NULL, ?, NULL)",
                            [name, f"unreadable file: {type(exc).__name__}: {exc.strerror or exc}"])
                continue
            if con.execute("SELECT count(*) FROM load_file WHERE source_file = ? AND size = ? AND mtime_ns = ? "
                           "AND sha256 = ?", [name, *fp]).fetchall()[0][0]:
                skipped += 1
                continue
            last_line = 0
            stats = ReadStats()
            try:
                for batch in record_batches(f, limits, stats):
                    last_line = batch.column("source_line")[-1].as_py() if batch.num_rows else last_line
                    batches.add(name, f.kind, staged, batch)
                    del batch
            except (*CORRUPT_ERRORS, LimitExceeded) as exc:
                # A file we cannot read to the end loads nothing: one quarantine row names it.
                batches.forget_file(name)
                reason = str(exc) if isinstance(exc, LimitExceeded) else \
                    f"unreadable file: {type(exc).__name__}: {exc}"
                con.execute("INSERT INTO _file_q VALUES (?, NULL, ?, NULL)", [name, reason])
                continue
            blank += stats.blank_lines
            for line, size in stats.oversized:
                con.execute("INSERT INTO _file_q VALUES (?, ?, ?, NULL)", [
                    name, line, f"record of {size} bytes or more exceeds the record-size limit of "
                                f"{limits.record_max_bytes // MIB} MiB ([load] record_size_limit_mib); not read"])
                last_line = max(last_line, line)
            staged += max(last_line, max((ln for ln, _ in stats.oversized), default=0)) + stats.blank_lines + 1
            seen_files.append((name, *fp))
    finally:
        hasher.shutdown(wait=False, cancel_futures=True)  # after an error or Ctrl-C: no more files are hashed

    batches.finish()
    crashpoint("load:staged")
    return blank, skipped, seen_files


def _publish(con, files: list[InputFile], run_id: str, source: str, started, fhir_base: str | None,
             blank: int, skipped: int, seen_files: list) -> LoadResult:
    """Phase 2 (one short transaction): merge into resource_raw, quarantine, typed tables, the run record."""
    seq_base = _next_seq_base(con)
    run_sql_file(con, MERGE_SQL, {"run_id": run_id, "seq_base": seq_base})
    crashpoint("load:merged")
    con.execute("INSERT INTO _q (source_file, source_line, reason, raw, disposition) "
                "SELECT source_file, source_line, reason, raw, 'record' FROM _file_q")
    _explain_invalid_json(con)

    con.execute("INSERT INTO quarantine (load_run_id, source_file, source_line, source_entry, resource_type, "
                "resource_id, field, reason, raw, disposition) SELECT ?, * FROM _q", [run_id])
    log.info("load %s: typed tables %s", run_id, maintain_typed_tables(con))
    crashpoint("load:typed")

    counts = con.execute("""
        SELECT (SELECT count(*) FROM _blank),
               (SELECT count(*) FROM _good) + (SELECT count(*) FROM _deletion),
               (SELECT count(*) FROM _q WHERE disposition = 'record'),
               (SELECT inserted FROM _merge_stats), (SELECT replaced FROM _merge_stats),
               (SELECT count(*) FROM _deletion), (SELECT count(*) FROM _empty_bundle),
               (SELECT count(*) FROM _good),
               (SELECT count(*) FROM _q WHERE disposition = 'field')
    """).fetchone()
    sql_blank, loaded, quarantined, inserted, replaced, deleted, empty_bundles, good, field_q = counts
    blank += sql_blank
    result = LoadResult(
        run_id=run_id, files=len(files), blank_lines=blank, records_read=loaded + quarantined,
        loaded=loaded, quarantined=quarantined, inserted=inserted, replaced=replaced,
        unchanged=good - inserted - replaced, deleted=deleted, empty_bundles=empty_bundles,
        field_quarantined=field_q, files_skipped=skipped,
    )
    con.execute(
        "INSERT INTO load_run (run_id, started_at, finished_at, source, files, blank_lines, records_read, loaded, "
        "quarantined, inserted, replaced, unchanged, deleted, status, fhir_base, field_quarantined, files_skipped) "
        "VALUES (?, ?, now(), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'committed', ?, ?, ?)",
        [run_id, started, source, result.files, blank, result.records_read, loaded, quarantined, inserted,
         replaced, result.unchanged, deleted, fhir_base, field_q, skipped],
    )
    if seen_files:
        con.executemany("DELETE FROM load_file WHERE source_file = ?", [[s[0]] for s in seen_files])
        con.executemany("INSERT INTO load_file VALUES (?, ?, ?, ?, ?)", [[*s, run_id] for s in seen_files])
    return result


def _field_values(con, rules: list[FieldRule]) -> None:
    """_range: the element rules as a table; _fv: their values per record (sql/ingest/15_field_values.sql)."""
    con.execute("CREATE OR REPLACE TEMP TABLE _range (rule INTEGER, types VARCHAR[], path VARCHAR, "
                "json_type VARCHAR, lo DOUBLE, hi DOUBLE)")
    con.executemany("INSERT INTO _range VALUES (?, ?, ?, ?, ?, ?)",
                    [[r.rule, list(r.types), r.path, r.json_type, r.lo, r.hi] for r in rules])
    if not rules:
        con.execute("CREATE OR REPLACE TEMP TABLE _fv (rec_no BIGINT, rule INTEGER, vals JSON[])")
        return
    con.execute("CREATE OR REPLACE TEMP TABLE _fv AS " + field_values_sql(rules))


def _clean_fields(con, rules: list[FieldRule]) -> None:
    """Records with field-level problems load without those fields (the few records concerned, in Python).

    The quarantine row keeps the record as read; resource_raw keeps it without the implausible values."""
    rows = con.execute("SELECT g.rec_no, g.resource_type, g.text, list(f.field) FROM _acc_good g JOIN _fieldq f "
                       "USING (rec_no) GROUP BY ALL").fetchall()
    by_key = {(t, r.path): r for r in rules for t in r.types}
    for rec_no, rtype, text, fields in rows:
        doc = json.loads(text)
        for field in set(fields):
            _remove(doc, field.split("."), by_key.get((rtype, field)))
        con.execute("UPDATE _acc_good SET text = ? WHERE rec_no = ?", [json.dumps(doc, ensure_ascii=False),
                                                                        rec_no])


def _remove(node, parts: list[str], rule: FieldRule | None) -> None:
    """Delete the leaf at `parts` (a[*].b.c) where it is implausible (or always, without a rule)."""
    if not parts or not isinstance(node, dict):
        return
    key, wild = parts[0].removesuffix("[*]"), parts[0].endswith("[*]")
    if key not in node:
        return
    if wild:
        for item in node[key] if isinstance(node[key], list) else []:
            _remove(item, parts[1:], rule)
    elif len(parts) == 1:
        if rule is None or _implausible(node[key], rule):
            del node[key]
    else:
        _remove(node[key], parts[1:], rule)


def _implausible(v, rule: FieldRule) -> bool:
    if isinstance(v, bool) or not isinstance(v, int | float):
        return False
    x = float(v) if not isinstance(v, int) or abs(v) < 1 << 1000 else math.inf
    lo = -math.inf if rule.lo is None else rule.lo
    hi = math.inf if rule.hi is None else rule.hi
    return not (math.isfinite(x) and lo <= x <= hi)


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
