"""`partitioned-pipeline`: screening.partition's steps as a Prefect flow whose partition tasks run on a task
runner: Dask through prefect-dask (`--task-runner dask`: a LocalCluster, or an existing scheduler address) or a
thread pool. Tasks take and return paths and counts only, so they pickle to Dask workers and persist no PHI."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from screening import partition
from screening.runlock import pipeline_lock


@task(name="split-input", cache_policy=NO_CACHE)
def split_task(source: str, root: str, partitions: int) -> dict:
    counts = partition.split_source(Path(source), Path(root), partitions)
    get_run_logger().info("split %d records into %d partitions (%d shared records)", counts["records"], partitions,
                          counts["shared"])
    return counts


@task(name="partition", cache_policy=NO_CACHE, retries=1, retry_delay_seconds=5)
def partition_task(part_dir: str, db: str, as_of: date, config_dir: str | None, memory_mb: int | None,
                   threads: int | None) -> dict:
    return partition.run_partition(part_dir, db, as_of, config_dir, memory_mb, threads)


@task(name="merge", cache_policy=NO_CACHE)
def merge_task(results: list[dict], split: dict, db: str, out: str, as_of: date,
               config_dir: str | None = None, export_options: dict | None = None,
               source: str | None = None) -> dict:
    """Merge the partitions into --db and run the single-process export step there (worklist files, history)."""
    merged = partition.merge(results, split, Path(db), Path(out), as_of, Path(config_dir) if config_dir else None,
                             export_options, source)
    get_run_logger().info("merged %d partitions: %d patients listed", merged["partitions"],
                          merged["export"]["listed"])
    return merged


@task(name="publish", cache_policy=NO_CACHE)
def publish_task(merged: dict, out: str, config_dir: str | None, snapshot: str | None,
                 landing: str | None) -> dict:
    """Run record, analytics snapshot from the merged database, run report files and Prefect artifacts, retention."""
    result = partition.finish(merged, Path(out), Path(config_dir) if config_dir else None,
                              Path(snapshot) if snapshot else None, Path(landing) if landing else None)
    get_run_logger().info("run %s: %d new, %d resolved; snapshot %s", result["run_id"], result["new"],
                          result["resolved"], "published" if result["snapshot_published"] else "unchanged")
    return result


def task_runner_for(kind: str, workers: int, address: str | None):
    if kind == "dask":
        from prefect_dask import DaskTaskRunner

        if address:
            return DaskTaskRunner(address=address)
        return DaskTaskRunner(cluster_kwargs={"n_workers": workers, "threads_per_worker": 1,
                                              "processes": True, "dashboard_address": None})
    from prefect.task_runners import ThreadPoolTaskRunner

    return ThreadPoolTaskRunner(max_workers=workers)


@flow(name="partitioned-pipeline", log_prints=False)
def partitioned_pipeline(source: str, db: str, out: str, as_of: date | None = None, partitions: int = 4,
                         config_dir: str | None = None, workers: int = 2, memory_mb: int | None = None,
                         export_options: dict | None = None, snapshot: str | None = None,
                         landing: str | None = None) -> dict:
    """Split, screen every partition (concurrently on the flow's task runner), merge and export, publish: the
    same options and outputs as `screening-pipeline`. The run lock covers it."""
    os.umask(0o077)
    as_of = as_of or date.today()
    root = partition.partition_root(Path(db))
    mem = partition.memory_per_partition(memory_mb, min(workers, partitions))
    with pipeline_lock(Path(db)):
        partition.refuse_single_process_db(Path(db))  # before any work, not only at the merge
        split = split_task(source, str(root), partitions)
        futures = [partition_task.submit(str(root / f"part-{k}"), str(root / f"part-{k}.duckdb"), as_of,
                                         config_dir, mem, 1, wait_for=[split]) for k in range(partitions)]
        results = [f.result() for f in futures]
        merged = merge_task(results, split, db, out, as_of, config_dir, export_options, source)
        merged["finish"] = publish_task(merged, out, config_dir, snapshot, landing)
        return merged


def run_with(kind: str, workers: int, address: str | None, **params) -> dict:
    """Run the flow on the chosen task runner (Dask LocalCluster by default for kind='dask')."""
    return partitioned_pipeline.with_options(task_runner=task_runner_for(kind, workers, address))(
        workers=workers, **params)
