"""`nightly`: extract from the FHIR server, then screen and export what landed, as one scheduled flow.

A rerun after a failure never redoes finished extraction: when the export `landing/latest` points to was never
loaded (the database's own `load_run` record says so: the load or anything before it failed), the rerun loads
that export instead of extracting again; an export that failed half-way is re-attached from its landing state and
its finished files are skipped (download tasks cached on the export's transactionTime, see extract_flow). The
load itself never trusts a Prefect cache. Results Prefect persists hold paths and counts.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import duckdb
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows.extract_flow import extract_fhir
from flows.screening_pipeline import screening_pipeline


@task(name="unloaded-latest", cache_policy=NO_CACHE)
def unloaded_latest_task(landing: str, db: str) -> str | None:
    """The export `landing/latest` points to, if the database has no committed load of it; else None."""
    latest = Path(landing) / "latest"
    if not latest.is_symlink() or not latest.exists():
        return None
    export = str(latest.resolve())
    if not Path(db).exists():
        return export
    con = duckdb.connect(db, read_only=True)
    try:
        (loaded,) = con.execute("SELECT count(*) FROM load_run WHERE source = ? AND status = 'committed'",
                                [export]).fetchone()
    except duckdb.CatalogException:
        loaded = 0
    finally:
        con.close()
    return None if loaded else export


@flow(name="nightly", log_prints=False)
def nightly(
    fhir_url: str,
    landing: str = "landing",
    db: str = "data/osteoscreen.duckdb",
    out: str = "out",
    as_of: date | None = None,
    config_dir: str | None = None,
    mode: str = "auto",
    level: str = "system",
    group_id: str | None = None,
    since: str | None = "auto",
    client_id: str | None = None,
    private_key_path: str | None = None,
    private_key_block: str | None = None,
    key_id: str | None = None,
    token_file: str | None = None,
    token_env: str | None = None,
    token_block: str | None = None,
    scope: str | None = None,
    max_concurrency: int = 4,
) -> dict:
    """Extract -> `landing/latest` -> load, screen, export, publish. Credentials are names, never values."""
    os.umask(0o077)
    pending = unloaded_latest_task(landing, db)
    if pending is not None:
        get_run_logger().info("landing/latest holds an export that was never loaded: loading it, no extraction")
        extracted = {"export_dir": pending, "skipped": True}
    else:
        extracted = extract_fhir(
            fhir_url, landing, mode=mode, level=level, group_id=group_id, since=since, client_id=client_id,
            private_key_path=private_key_path, private_key_block=private_key_block, key_id=key_id,
            token_file=token_file, token_env=token_env, token_block=token_block, scope=scope,
            max_concurrency=max_concurrency,
        )
    # The dated folder behind `latest`, so the load record names the export (and a later repoint cannot race).
    source = str((Path(landing) / "latest").resolve())
    summary = screening_pipeline(source, db, out, as_of, config_dir, landing=landing)
    return {"extract": extracted, **summary}
