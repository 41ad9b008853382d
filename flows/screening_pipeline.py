"""`screening-pipeline`: load -> screen -> export as a Prefect flow. Tasks return counts and paths, never rows."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from screening import pipeline
from screening.runlock import pipeline_lock


@task(name="load", retries=1, retry_delay_seconds=2, cache_policy=NO_CACHE)  # the database decides re-loads
def load_task(source: str, db: str) -> dict:
    counts = pipeline.load_step(Path(source), Path(db))
    get_run_logger().info("loaded %d of %d records, %d quarantined", counts["loaded"], counts["records_read"],
                          counts["quarantined"])
    return counts


@task(name="screen", cache_policy=NO_CACHE)
def screen_task(db: str, as_of: date, config_dir: str | None) -> dict:
    counts = pipeline.screen_step(Path(db), as_of, Path(config_dir) if config_dir else None)
    get_run_logger().info("screened as of %s", as_of.isoformat())
    return counts


@task(name="export")
def export_task(db: str, out: str, as_of: date | None = None, config_dir: str | None = None,
                export_options: dict | None = None) -> dict:
    result = pipeline.export_step(Path(db), Path(out), as_of, Path(config_dir) if config_dir else None,
                                  export_options)
    get_run_logger().info("worklist: %d patients listed", result["listed"])
    return result


@task(name="publish", cache_policy=NO_CACHE)
def publish_task(db: str, out: str, summary: dict, config_dir: str | None, landing: str | None,
                 snapshot: str | None = None) -> dict:
    """Run record, analytics snapshot (when changed), run report files and Prefect artifacts, retention."""
    from screening.operations import finish_step

    result = finish_step(Path(db), Path(out), summary, Path(config_dir) if config_dir else None,
                         snapshot=Path(snapshot) if snapshot else None, landing=Path(landing) if landing else None)
    get_run_logger().info("run %s: %d new, %d resolved; snapshot %s", result["run_id"], result["new"],
                          result["resolved"], "published" if result["snapshot_published"] else "unchanged")
    return result


@flow(name="screening-pipeline", log_prints=False)
def screening_pipeline(
    source: str, db: str, out: str, as_of: date | None = None, config_dir: str | None = None,
    export_options: dict | None = None, landing: str | None = None, snapshot: str | None = None,
) -> dict:
    """The main job on local files (a landing folder from `osteoscreen extract` is a local folder too).

    `landing`: the landing folder whose old exports retention may remove (the nightly flow passes it);
    `snapshot`: the analytics snapshot path (default `<db stem>.analytics.duckdb` beside the database).
    """
    os.umask(0o077)  # deployments run the flow without the CLI: keep database and worklist owner-only here too
    as_of = as_of or date.today()
    with pipeline_lock(Path(db)):
        loaded = load_task(source, db)
        screened = screen_task(db, as_of, config_dir, wait_for=[loaded])
        exported = export_task(db, out, as_of, config_dir, export_options, wait_for=[screened])
        summary = {"load": loaded, "screen": screened, "export": exported, "db": db}
        summary["finish"] = publish_task(db, out, summary, config_dir, landing, snapshot)
    return summary

