"""`nightly`: extract from the FHIR server, then screen and export what landed, as one scheduled flow.

Extraction is the only cached part (download tasks keyed on the export's transactionTime, see extract_flow), so a
rerun after a failure re-attaches to the unfinished export instead of downloading again; the load itself never
trusts a Prefect cache (the database records what it loaded). Results Prefect persists hold paths and counts.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

from prefect import flow

from flows.extract_flow import extract_fhir
from flows.screening_pipeline import screening_pipeline


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
    extracted = extract_fhir(
        fhir_url, landing, mode=mode, level=level, group_id=group_id, since=since, client_id=client_id,
        private_key_path=private_key_path, private_key_block=private_key_block, key_id=key_id,
        token_file=token_file, token_env=token_env, token_block=token_block, scope=scope,
        max_concurrency=max_concurrency,
    )
    latest = str(Path(landing) / "latest")
    summary = screening_pipeline(latest, db, out, as_of, config_dir, landing=landing)
    return {"extract": extracted, **summary}
