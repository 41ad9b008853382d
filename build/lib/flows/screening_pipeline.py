"""`screening-pipeline`: load -> screen -> export as a Prefect flow. Tasks return counts and paths, never rows."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact

from screening import pipeline
from screening.runlock import pipeline_lock


@task(name="load", retries=1, retry_delay_seconds=2)
def load_task(source: str, db: str) -> dict:
    counts = pipeline.load_step(Path(source), Path(db))
    get_run_logger().info("loaded %d of %d records, %d quarantined", counts["loaded"], counts["records_read"],
                          counts["quarantined"])
    return counts


@task(name="screen")
def screen_task(db: str, as_of: date, config_dir: str | None) -> dict:
    counts = pipeline.screen_step(Path(db), as_of, Path(config_dir) if config_dir else None)
    get_run_logger().info("screened as of %s", as_of.isoformat())
    return counts


@task(name="export")
def export_task(db: str, out: str) -> dict:
    result = pipeline.export_step(Path(db), Path(out))
    get_run_logger().info("worklist: %d patients listed", result["listed"])
    return result


@flow(name="screening-pipeline", log_prints=False)
def screening_pipeline(
    source: str, db: str, out: str, as_of: date | None = None, config_dir: str | None = None
) -> dict:
    """The main job on local files (a landing folder from `osteoscreen extract` is a local folder too)."""
    os.umask(0o077)  # deployments run the flow without the CLI: keep database and worklist owner-only here too
    as_of = as_of or date.today()
    with pipeline_lock(Path(db)):
        loaded = load_task(source, db)
        screened = screen_task(db, as_of, config_dir, wait_for=[loaded])
        exported = export_task(db, out, wait_for=[screened])
    summary = {"load": loaded, "screen": screened, "export": exported, "db": db}
    create_markdown_artifact(key="screening-summary", markdown=summary_markdown(summary),
                             description="Counts only: no patient data.")
    return summary


def summary_markdown(summary: dict) -> str:
    load, export = summary["load"], summary["export"]
    prio = export.get("by_priority", {})
    return "\n".join([
        "# osteoscreen run",
        f"- records read: {load['records_read']} (loaded {load['loaded']}, quarantined {load['quarantined']})",
        f"- patients listed: {export['listed']} (high {prio.get('high', 0)}, medium {prio.get('medium', 0)}, "
        f"low {prio.get('low', 0)})",
    ])
