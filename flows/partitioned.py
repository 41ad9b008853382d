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
               config_dir: str | None = None) -> dict:
    return partition.merge(results, split, Path(db), Path(out), as_of, Path(config_dir) if config_dir else None)


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
                         config_dir: str | None = None, workers: int = 2, memory_mb: int | None = None) -> dict:
    """Split, screen every partition (concurrently on the flow's task runner), merge. The run lock covers it."""
    os.umask(0o077)
    as_of = as_of or date.today()
    root = partition.partition_root(Path(db))
    mem = partition.memory_per_partition(memory_mb, min(workers, partitions))
    with pipeline_lock(Path(db)):
        split = split_task(source, str(root), partitions)
        futures = [partition_task.submit(str(root / f"part-{k}"), str(root / f"part-{k}.duckdb"), as_of,
                                         config_dir, mem, 1, wait_for=[split]) for k in range(partitions)]
        results = [f.result() for f in futures]
        return merge_task(results, split, db, out, as_of, config_dir)


def run_with(kind: str, workers: int, address: str | None, **params) -> dict:
    """Run the flow on the chosen task runner (Dask LocalCluster by default for kind='dask')."""
    return partitioned_pipeline.with_options(task_runner=task_runner_for(kind, workers, address))(
        workers=workers, **params)
