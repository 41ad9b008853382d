"""Partitioned mode: split the input by a hash of the patient id, load and screen each partition into its own
DuckDB file, merge the worklists and run records.

Why this shape: DuckDB is one writer per file, so scale-out means many files. A patient's records (and those of
patients linked to it by Patient.link) always land in one partition, so every rule sees all of a patient's
facts; resources without a patient (Medication, Practitioner, Organization, Bulk deletions) go to every
partition and are counted once in the merged record. Files: `<db stem>.partitions/part-K/` (input) and
`part-K.duckdb` beside `--db`; on a multi-node Dask cluster that folder must be shared storage.
"""

from __future__ import annotations

import os
import shutil
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from screening.database import open_database
from screening.db import run_sql_file, sql_text
from screening.errors import DatabaseError, InputPathError
from screening.export.safe_files import ensure_private_dir
from screening.load import SourceError, discover, load_source
from screening.load.files import Limits, ReadStats, display_path, record_batches

SHARED_TAG = ".shared"  # shared records go to `<name>.shared<suffix>` files: counted once when merging


def partition_root(db: Path) -> Path:
    db = Path(db)
    return db.with_name(f"{db.stem}.partitions")


def line_map_path(root: Path) -> Path:
    return Path(root) / "line_map.duckdb"


def _suffix(name: str) -> tuple[str, str]:
    for suf in (".ndjson.gz", ".ndjson", ".json.gz", ".json"):
        if name.lower().endswith(suf):
            return name[: -len(suf)], name[-len(suf):]
    return name, ""


def _stage(con: duckdb.DuckDBPyConnection, files, only: int | None = None) -> None:
    from screening.settings import load_settings

    con.execute("CREATE OR REPLACE TEMP TABLE _part_stage (file_no INTEGER, line_no BIGINT, raw BLOB)")
    limits = Limits.from_settings(load_settings(None).params)
    for no, f in enumerate(files):
        if only is not None and no != only:
            continue
        stats = ReadStats()
        for batch in record_batches(f, limits, stats):
            con.register("_batch", batch)
            con.execute("INSERT INTO _part_stage SELECT ?, source_line, raw FROM _batch WHERE "
                        "length(trim(coalesce(try(decode(raw)), 'x'), ' ' || chr(9) || chr(10) || chr(13))) > 0",
                        [no])
            con.unregister("_batch")
        if stats.oversized:  # the reader yields no bytes for it: it could not reach any partition's quarantine
            raise InputPathError(f"{f.path}: line {stats.oversized[0][0]} is over the record-size limit "
                                 "(load_record_size_limit_mib); partitioned mode cannot place it: raise the limit "
                                 "or run single-process, which quarantines it")


def split_source(source: Path, root: Path, partitions: int) -> dict:
    """Write partition input folders under `root`; returns counts (records, shared, per partition)."""
    try:
        files = discover(Path(source))
    except SourceError as exc:
        raise InputPathError(str(exc)) from None
    base = Path(source) if Path(source).is_dir() else Path(source).parent
    if root.exists():
        shutil.rmtree(root)
    ensure_private_dir(root)
    dirs = [ensure_private_dir(root / f"part-{k}") for k in range(partitions)]
    con = duckdb.connect()
    # Where every line of a split copy came from, so the merged quarantine names the input file and line, never the
    # copy (merge(), sql/ops/52_merge_quarantine.sql). Beside the partition folders: no loader reads it.
    line_map = line_map_path(root)
    con.execute("ATTACH '" + str(line_map).replace("'", "''") + "' AS lm")
    con.execute("CREATE TABLE lm.line_map (part INTEGER, split_file VARCHAR, split_line BIGINT, source_file VARCHAR, "
                "source_line BIGINT)")
    con.execute("CREATE TEMP TABLE _part_link (pid VARCHAR, other VARCHAR, link_type VARCHAR)")
    for no in range(len(files)):  # pass 1: Patient.link edges anywhere in the input
        _stage(con, files, only=no)
        run_sql_file(con, "ops/61_partition_links.sql")
    run_sql_file(con, "ops/63_partition_canon.sql")
    counts = {"records": 0, "shared": 0, "per_partition": [0] * partitions, "files": len(files)}
    for no, f in enumerate(files):  # pass 2: assign and write, one file at a time (bounded memory)
        _stage(con, files, only=no)
        run_sql_file(con, "ops/60_partition_lines.sql")
        run_sql_file(con, "ops/62_partition_assign.sql", {"partitions": partitions})
        if f.kind == "json":
            _json_file_parts(con, f, partitions)
        rel = f.path.relative_to(base) if f.path != base else Path(f.path.name)
        stem, suf = _suffix(rel.name)
        for k, d in enumerate(dirs):
            for shared, name in ((False, rel.name), (True, f"{stem}{SHARED_TAG}{suf}")):
                where = "part = -1" if shared else "part = $k"
                rows = con.sql("SELECT raw FROM _part_assigned WHERE " + where + " ORDER BY line_no",
                               params={} if shared else {"k": k}).to_arrow_table()
                if rows.num_rows == 0:
                    continue
                _write(d / rel.parent / name, rows.column("raw"), gz=suf.endswith(".gz"))
                con.execute("INSERT INTO lm.line_map SELECT $k, $split, NULL, $source, NULL UNION ALL "  # the file
                            "SELECT $k, $split, row_number() OVER (ORDER BY line_no), $source, line_no "
                            "FROM _part_assigned WHERE " + where,
                            {"k": k, "split": (rel.parent / name).as_posix(), "source": display_path(f.path)})
                if not shared:
                    counts["per_partition"][k] += rows.num_rows
        (shared_n, total), = con.execute("SELECT count(*) FILTER (WHERE part = -1), count(*) FROM _part_assigned"
                                         ).fetchall()
        counts["shared"] += shared_n
        counts["records"] += total
    con.close()
    return counts


def _json_file_parts(con: duckdb.DuckDBPyConnection, f, partitions: int) -> None:
    """A .json file (one resource or a Bundle) moves as a whole: to its one patient's partition, or to every
    partition when it names no patient. A Bundle with several patients cannot be split here: clear error."""
    # fetchall(), not fetchone(): DuckDB 2 refuses the next con.sql() while a result is not fetched to its end
    # (partitioned mode failed on any .json file)
    n = con.execute("SELECT count(*) FROM _part_assigned").fetchall()[0][0]
    if n != 1:
        return
    parts = con.execute(sql_text("ops/64_partition_bundle.sql"), {"partitions": partitions}).fetchall()[0][0]
    if parts is not None and len(parts) > 1:
        raise InputPathError(f"{f.path}: a Bundle with resources of several patients; partitioned mode needs "
                             "NDJSON (Bulk export) or one patient per Bundle")
    if parts:
        con.execute("UPDATE _part_assigned SET part = ?", [parts[0]])


def _write(path: Path, raw: pa.ChunkedArray, gz: bool) -> None:
    import gzip

    ensure_private_dir(path.parent)
    # The reader hands lines over without their LF (screening/load/files.py): each line gets its own back.
    data = b"".join(line if line.endswith(b"\n") else line + b"\n" for line in raw.to_pylist())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(gzip.compress(data, mtime=0) if gz else data)


def run_partition(part_dir: str, db: str, as_of: date, config_dir: str | None, memory_mb: int | None,
                  threads: int | None) -> dict:
    """Load and screen one partition into its own DuckDB file; counts only come back (picklable for Dask)."""
    from screening.screens import run_screens

    Path(db).unlink(missing_ok=True)
    Path(db + ".wal").unlink(missing_ok=True)
    con = open_database(Path(db))
    try:
        if memory_mb:
            setting = "SET memory_limit = '" + str(int(memory_mb)) + "MB'"  # an int we computed, not user text
            con.execute(setting)
        if threads:
            setting = "SET threads = " + str(int(threads))
            con.execute(setting)
        loaded = load_source(con, Path(part_dir)).as_dict()
        screened = run_screens(con, as_of, Path(config_dir) if config_dir else None)
        shared_q = con.execute("SELECT count(*) FROM quarantine WHERE contains(source_file, ?)",
                               [SHARED_TAG + "."]).fetchone()[0]
        shared_loaded = con.execute("SELECT count(*) FROM resource_raw WHERE contains(source_file, ?)",
                                    [SHARED_TAG + "."]).fetchone()[0]
        loaded["patients"] = con.execute("SELECT count(*) FROM patient").fetchone()[0]
        from screening.snapshot import fingerprint

        return {"db": db, "load": loaded, "screen": screened, "shared_quarantined": shared_q,
                "shared_stored": shared_loaded, "fingerprint": fingerprint(con, worklist_history=False)}
    finally:
        con.close()


# The tables the export step (screening/export/run_export.py, sql/export/*.sql) reads, besides `worklist` (merged
# and re-ranked by sql/ops/50_merge_worklist.sql) and its own history tables, which live in the merged database.
MERGED_TABLES = ("screen_patient", "screen_hits", "worklist_action", "data_quality", "patient", "care_team",
                 "observation", "medication_use",
                 # ... and those the analytics views of the snapshot read (sql/analytics/10_views.sql)
                 "screen_person", "dxa_result", "dxa_latest", "med_exposure", "gc_exposure")


def _merge_table(con: duckdb.DuckDBPyConnection, table: str, n: int) -> None:
    """One table as the union of the partitions'. A patient's rows sit in one partition only (UNION ALL); a table
    without `patient_id` may hold shared resources present in every partition: identical rows are kept once."""
    cols = {r[0] for r in con.execute("SELECT column_name FROM duckdb_columns() WHERE database_name = 'p0' "
                                      "AND schema_name = 'main' AND table_name = ?", [table]).fetchall()}
    if not cols:
        return  # not produced by this build (e.g. data_quality without the clinical-rules screens)
    glue = " UNION ALL BY NAME " if "patient_id" in cols or table == "patient" else " UNION BY NAME "
    union = glue.join("SELECT * FROM p" + str(k) + ".main." + table for k in range(n))
    con.execute("CREATE OR REPLACE TABLE main." + table + " AS " + union)


def _merge_quarantine(con: duckdb.DuckDBPyConnection, results: list[dict], line_map: Path, run_id: str) -> None:
    """The merged database's `quarantine`: every partition's, named by the input file and line (the line map of
    split_source), a shared record's copies once, under the merged load run. Replaced every run: the partitions
    are rebuilt from the whole input each time."""
    con.execute("CREATE OR REPLACE TEMP TABLE _part_dir (part INTEGER, prefix VARCHAR)")
    for k, r in enumerate(results):  # run_partition loads part-K/ beside part-K.duckdb (display_path as the loader)
        con.execute("INSERT INTO _part_dir VALUES (?, ?)", [k, display_path(Path(r["db"]).with_suffix("")) + "/"])
    union = " UNION ALL BY NAME ".join("SELECT " + str(k) + " AS part, * FROM p" + str(k) + ".main.quarantine"
                               for k in range(len(results)))
    con.execute("CREATE OR REPLACE TEMP VIEW _part_q AS " + union)  # --partitions >= 1
    con.execute("ATTACH '" + str(line_map).replace("'", "''") + "' AS lm (READ_ONLY)")
    try:
        run_sql_file(con, "ops/52_merge_quarantine.sql", {"run_id": run_id})
    finally:
        con.execute("DROP VIEW _part_q")
        con.execute("DETACH lm")


def merge(results: list[dict], split: dict, db: Path, out: Path, as_of: date,
          config_dir: Path | None = None, export_options: dict | None = None, source: str | None = None) -> dict:
    """Merge the partitions' screening tables into the merged database (worklist re-ranked over all partitions,
    one run record, shared resources counted once), then run the single-process export step on it, so the
    worklist, its history, status and dispositions are exactly those of a single-process run.

    Returns counts, the merged per-type table of the run report and the partitions' fingerprints (digests):
    `finish` (the single-process finish step) takes them from there."""
    from screening.pipeline import export_step

    db = Path(db)
    refuse_single_process_db(db)
    n = len(results)
    started = datetime.now(UTC)
    con = open_database(db)  # kept between runs: worklist_history / worklist_run give status across runs
    try:
        for k, r in enumerate(results):
            attach = "ATTACH '" + r["db"].replace("'", "''") + "' AS p" + str(k) + " (READ_ONLY)"
            con.execute(attach)
        parts = ["SELECT w.*, s.safety AS _safety FROM p" + str(k) + ".main.worklist w JOIN p" + str(k)
                 + ".main.screen_patient s USING (patient_id)" for k in range(n)]
        con.execute("CREATE OR REPLACE TEMP TABLE _part_worklist AS " + " UNION ALL ".join(parts))
        run_sql_file(con, "ops/50_merge_worklist.sql")
        for table in MERGED_TABLES:
            _merge_table(con, table, n)
        load_run_id = "partitioned-" + uuid.uuid4().hex[:12]
        _merge_quarantine(con, results, line_map_path(partition_root(db)), load_run_id)
        types = _merged_types(con, n)
        for k in range(n):
            con.execute("DETACH p" + str(k))
        extra = n - 1  # copies of each shared record beyond the first
        shared_q = results[0]["shared_quarantined"] if results else 0
        load = {key: sum(r["load"][key] for r in results)
                for key in ("records_read", "loaded", "quarantined", "files")}
        load["records_read"] -= extra * split["shared"]
        load["quarantined"] -= extra * shared_q
        load["loaded"] = load["records_read"] - load["quarantined"]
        load["patients"] = sum(r["load"]["patients"] for r in results)  # Patient resources: never shared
        load["files"] = split.get("files", load["files"])  # input files, not their copies in every partition
        load["run_id"] = load_run_id
        # One load_run row for the whole partitioned load: analytics.loads shows it, and `nightly` reads it to
        # know the export was loaded (the partitions' own load_run rows name their split copies).
        con.execute("INSERT INTO load_run (run_id, started_at, finished_at, source, files, records_read, loaded, "
                    "quarantined, status) VALUES (?, ?, now(), ?, ?, ?, ?, ?, 'committed')",
                    [load["run_id"], started, str(source or ""), load["files"], load["records_read"],
                     load["loaded"], load["quarantined"]])
        con.execute("CREATE OR REPLACE TABLE partitioned_run AS SELECT ? AS partitions, ? AS records_read, "
                    "? AS loaded, ? AS quarantined, ? AS shared_records, CAST(? AS DATE) AS as_of",
                    [n, load["records_read"], load["loaded"], load["quarantined"], split["shared"], as_of])
        con.execute("CREATE OR REPLACE TABLE partition_run (part INTEGER, db VARCHAR, records_read BIGINT, "
                    "loaded BIGINT, quarantined BIGINT, screened BIGINT, listed BIGINT)")
        for k, r in enumerate(results):
            con.execute("INSERT INTO partition_run VALUES (?, ?, ?, ?, ?, ?, ?)",
                        [k, r["db"], r["load"]["records_read"], r["load"]["loaded"], r["load"]["quarantined"],
                         r["screen"]["screened"], r["screen"]["listed"]])
    finally:
        con.close()
    exported = export_step(db, Path(out), as_of, Path(config_dir) if config_dir else None, export_options)
    return {"load": load, "export": exported,
            "screen": {"screened": sum(r["screen"]["screened"] for r in results), "as_of": as_of.isoformat()},
            "db": str(db), "partitions": n, "report_types": types,
            "fingerprints": [r.get("fingerprint", "") for r in results]}


def _merged_types(con: duckdb.DuckDBPyConnection, n: int) -> list[dict]:
    """The run report's per-type table over the ATTACHed partitions, shared records counted once (counts only)."""
    for name, table in (("_part_raw_types", "resource_raw"), ("_part_q_types", "quarantine")):
        union = " UNION ALL ".join(
            "SELECT " + str(k) + " AS k, resource_type, contains(source_file, '" + SHARED_TAG + ".') AS shared, "
            "count(*) AS n FROM p" + str(k) + ".main." + table + " GROUP BY ALL" for k in range(n))
        con.execute("CREATE OR REPLACE TEMP TABLE " + name + " AS " + union)
    cur = con.execute(sql_text("ops/65_partition_types.sql"))
    return [dict(zip(("resource_type", "loaded", "quarantined", "stored"), r, strict=True)) for r in cur.fetchall()]


def finish(merged: dict, out: Path, config_dir: Path | None = None, snapshot: Path | None = None,
           landing: Path | None = None) -> dict:
    """The single-process finish step on the merged database: run record, analytics snapshot (from the merged
    tables), run report files and Prefect artifacts, retention. The snapshot is republished when the merged
    database or any partition's content changed (the partitions' digests join the merged one)."""
    from screening.operations import finish_step

    summary = {k: merged[k] for k in ("load", "screen", "export", "db")}
    return finish_step(Path(merged["db"]), Path(out), summary, Path(config_dir) if config_dir else None,
                       snapshot=Path(snapshot) if snapshot else None, landing=Path(landing) if landing else None,
                       report_types=merged["report_types"], fingerprint_parts=merged["fingerprints"])


def refuse_single_process_db(db: Path) -> None:
    """The merged database is rebuilt each run: never let that replace a single-process working database."""
    if not db.exists():
        return
    con = duckdb.connect(str(db), read_only=True)
    try:
        tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main'"
                                            ).fetchall()}
        has_rows = "resource_raw" in tables and con.execute("SELECT count(*) > 0 FROM resource_raw").fetchone()[0]
    finally:
        con.close()
    if has_rows and "partitioned_run" not in tables:
        raise DatabaseError(f"{db}: holds a single-process database; give partitioned mode its own --db")


def memory_per_partition(total_mb: int | None, concurrent: int) -> int | None:
    """The memory budget split across the partitions that run at the same time."""
    return None if not total_mb else max(256, total_mb // max(1, concurrent))


def run_partitioned(source: Path, db: Path, out: Path, as_of: date, partitions: int,
                    config_dir: Path | None = None, workers: int = 2, memory_mb: int | None = None,
                    export_options: dict | None = None, snapshot: Path | None = None,
                    landing: Path | None = None) -> dict:
    """Partitioned mode without Prefect: partitions run on a thread pool (DuckDB releases the GIL). Same options
    and outputs as screening.pipeline.run_pipeline (export options, snapshot, run report, retention)."""
    from screening.runlock import pipeline_lock

    old_umask = os.umask(0o077)
    try:
        with pipeline_lock(Path(db)):
            refuse_single_process_db(Path(db))  # before any work, not only at the merge
            root = partition_root(db)
            split = split_source(Path(source), root, partitions)
            workers = max(1, min(workers, partitions))
            mem = memory_per_partition(memory_mb, workers)
            threads = max(1, (os.cpu_count() or 1) // workers)
            with ThreadPoolExecutor(max_workers=workers) as pool:
                futures = [pool.submit(run_partition, str(root / f"part-{k}"), str(root / f"part-{k}.duckdb"),
                                       as_of, str(config_dir) if config_dir else None, mem, threads)
                           for k in range(partitions)]
                results = [f.result() for f in futures]
            merged = merge(results, split, db, out, as_of, config_dir, export_options, str(source))
            merged["finish"] = finish(merged, out, config_dir, snapshot, landing)
    finally:
        os.umask(old_umask)
    return merged
