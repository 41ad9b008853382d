"""`extract-fhir`: the extraction steps of screening.sources.extract as a Prefect flow.

Tasks: prepare -> (bulk: kick-off/poll -> download files, mapped with bounded concurrency | search: crawl)
-> hydrate -> finish. Tasks return paths and counts only (persisted Prefect results are world-readable), and
logs carry counts only. Credentials enter as file paths, environment-variable names or Prefect Secret block
names, never as values, because flow parameters are stored by the Prefect API.

The tasks share one `Extraction` (HTTP session, tokens) through an in-process registry, so the flow needs an
in-process task runner (the default thread pool).
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import timedelta
from pathlib import Path

from prefect import flow, get_run_logger, task, unmapped
from prefect.cache_policies import NO_CACHE
from prefect.task_runners import ThreadPoolTaskRunner
from prefect.tasks import exponential_backoff

from screening.latest import repoint_latest
from screening.sources.auth import AuthConfig
from screening.sources.errors import BulkNotSupportedError
from screening.sources.extract import Extraction

_RUNS: dict[str, Extraction] = {}


def _secret_block(name: str | None) -> str | None:
    if not name:
        return None
    from prefect.blocks.system import Secret

    return str(Secret.load(name).get())


@task(name="extract-prepare", cache_policy=NO_CACHE)
def prepare_task(run_key: str) -> dict:
    ext = _RUNS[run_key]
    ext.prepare()
    get_run_logger().info("extraction mode %s, %s", ext.mode, "resumed" if ext.resumed else "new export")
    return {"export_dir": str(ext.export_dir), "mode": ext.mode, "resumed": ext.resumed}


@task(name="bulk-kickoff-poll", retries=2, retry_delay_seconds=exponential_backoff(backoff_factor=10),
      retry_jitter_factor=0.5, cache_policy=NO_CACHE)
def kickoff_poll_task(run_key: str) -> list[str] | None:
    """Kick off (or re-attach to) the export and poll until the manifest; returns the manifest's output keys.

    None: the server has no $export and mode was auto, so the flow falls back to a search crawl.
    """
    ext = _RUNS[run_key]
    try:
        ext.bulk_start()
    except BulkNotSupportedError:
        if ext.mode_requested != "auto":
            raise
        ext._switch_to_search()
        get_run_logger().info("no $export at this level: falling back to REST search")
        return None
    pending = [o.key for o in ext.pending_outputs()]
    get_run_logger().info("manifest: %d files, %d still to download", len(ext.outputs), len(pending))
    # Every file of the manifest is mapped: on a rerun the finished ones are Prefect cache hits (keyed on the
    # export's transactionTime); without a cache, download_one still skips a file the landing state has.
    return [o.key for o in ext.outputs]


def _download_cache_key(context, parameters: dict) -> str | None:
    """Keyed on the export's transactionTime and the file: a rerun re-attached to the same export (the landing
    state file) skips files already fetched. Only paths and counts are persisted, never resource data."""
    ext = _RUNS.get(parameters["run_key"])
    state = getattr(ext, "state", None)
    tt = state.doc.get("transactionTime") if state is not None else None
    if not tt:
        return None
    return hashlib.sha256(f"{ext.scope_key()}|{tt}|{parameters['output_key']}".encode()).hexdigest()


@task(name="download-file", retries=3, retry_delay_seconds=exponential_backoff(backoff_factor=2),
      retry_jitter_factor=0.5, cache_key_fn=_download_cache_key, cache_expiration=timedelta(days=2),
      persist_result=True)
def download_task(run_key: str, output_key: str) -> dict:
    ext = _RUNS[run_key]
    out = next(o for o in ext.outputs if o.key == output_key)
    info = ext.download_one(out)
    return {"file": info["file"], "lines": info["lines"]}


@task(name="search-crawl", retries=3, retry_delay_seconds=exponential_backoff(backoff_factor=5),
      retry_jitter_factor=0.5, cache_policy=NO_CACHE)
def crawl_task(run_key: str) -> int:
    ext = _RUNS[run_key]
    ext.crawl()  # finished units are skipped on retry
    return len(ext.state.get("units"))


@task(name="hydrate-references", retries=3, retry_delay_seconds=exponential_backoff(backoff_factor=5),
      retry_jitter_factor=0.5, cache_policy=NO_CACHE)
def hydrate_task(run_key: str) -> int:
    n = _RUNS[run_key].hydrate()
    get_run_logger().info("hydrated %d referenced resources", n)
    return n


@task(name="extract-finish", cache_policy=NO_CACHE)
def finish_task(run_key: str) -> dict:
    ext = _RUNS[run_key]
    result = ext.finish()
    repoint_latest(ext.landing, result.export_dir)  # only a finished export becomes `latest`
    get_run_logger().info(
        "landed %d resources in %d files (%d errors, %d deletions)",
        result.resources,
        result.files,
        result.errors,
        result.deleted,
    )
    return result.as_dict()


@flow(name="extract-fhir", log_prints=False, task_runner=ThreadPoolTaskRunner(max_workers=8))
def extract_fhir(
    fhir_url: str,
    landing: str,
    mode: str = "auto",
    level: str = "system",
    group_id: str | None = None,
    types: list[str] | None = None,
    since: str | None = None,
    type_filters: list[str] | None = None,
    client_id: str | None = None,
    private_key_path: str | None = None,
    private_key_env: str | None = None,
    private_key_block: str | None = None,
    key_id: str | None = None,
    token_file: str | None = None,
    token_env: str | None = None,
    token_block: str | None = None,
    scope: str | None = None,
    verify_tls: bool = True,
    max_concurrency: int = 4,
) -> dict:
    """Extract from a FHIR server into `landing`; returns counts and the export folder path."""
    auth = AuthConfig.from_options(
        client_id=client_id,
        private_key_path=private_key_path,
        private_key_env=private_key_env,
        private_key_pem=_secret_block(private_key_block),
        key_id=key_id,
        token_file=token_file,
        bearer_env=token_env,
        bearer_token=_secret_block(token_block),
        scope=scope,
    )
    ext = Extraction(
        fhir_url,
        Path(landing),
        mode=mode,
        level=level,
        group_id=group_id,
        types=types,
        since=since,
        type_filters=type_filters,
        auth=auth,
        verify_tls=verify_tls,
        max_concurrency=max_concurrency,
    )
    run_key = uuid.uuid4().hex
    _RUNS[run_key] = ext
    try:
        prepared = prepare_task(run_key)
        pending = kickoff_poll_task(run_key) if prepared["mode"] == "bulk" else None
        if pending is not None:
            for i in range(0, len(pending), max_concurrency):  # bounded concurrency
                futures = download_task.map(unmapped(run_key), pending[i : i + max_concurrency])
                futures.result()
        else:
            crawl_task(run_key)
        hydrate_task(run_key)
        return finish_task(run_key)
    except KeyboardInterrupt:
        ext.cancel_export()
        raise
    finally:
        _RUNS.pop(run_key, None)
        ext.session.close()
