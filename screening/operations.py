"""The step after export: record the run, publish the analysts' snapshot when something changed, write the
run report (and Prefect artifacts inside a flow run), apply retention. Counts and paths only come back."""

from __future__ import annotations

import hashlib
from pathlib import Path

from screening.database import open_database
from screening.housekeeping import prune_landing, prune_run_history, prune_snapshots
from screening.report import (
    build_report,
    ensure_ops_tables,
    publish_prefect_artifacts,
    record_run,
    write_report_files,
)
from screening.settings import load_settings
from screening.snapshot import fingerprint, publish_snapshot, snapshot_path


def finish_step(db: Path, out: Path, summary: dict, config_dir: Path | None = None,
                snapshot: Path | None = None, landing: Path | None = None,
                report_types: list[dict] | None = None, fingerprint_parts: list[str] | None = None) -> dict:
    """Runs under the run lock, after export; the working database is closed again before the snapshot copy.

    Partitioned mode (screening.partition.finish) passes the per-type table merged over the partitions
    (`report_types`) and the partitions' content digests (`fingerprint_parts`): the merged database holds no
    resource_raw or quarantine of its own."""
    db, out = Path(db), Path(out)
    keep = load_settings(config_dir).params
    target = Path(snapshot) if snapshot else snapshot_path(db)
    con = open_database(db)
    try:
        ensure_ops_tables(con)
        fp = fingerprint(con)
        if fingerprint_parts:
            fp = hashlib.sha256("|".join([fp, *fingerprint_parts]).encode()).hexdigest()  # digests of digests
        last = con.execute("SELECT fingerprint FROM run_record ORDER BY finished_at DESC LIMIT 1").fetchone()
        changed = last is None or last[0] != fp or not target.exists()
        record = record_run(con, summary, fp, str(target) if changed else None)
        summary = {**summary, "outputs": {"database": str(db), "worklist": summary["export"].get("worklist"),
                                          "snapshot": str(target)}}
        report = build_report(con, summary, record)
        if report_types is not None:
            report["types"] = report_types
        pruned_runs = prune_run_history(con, int(keep["housekeeping_run_history_days"]))
    finally:
        con.close()
    if changed:
        publish_snapshot(db, target)
    files = write_report_files(report, out)
    artifacts = publish_prefect_artifacts(report)
    pruned_snaps = prune_snapshots(target, int(keep["housekeeping_snapshot_days"]))
    pruned_landing = prune_landing(landing, int(keep["housekeeping_landing_days"])) if landing else []
    return {
        "run_id": record["run_id"], "new": record["new"], "resolved": record["resolved"],
        "snapshot": str(target), "snapshot_published": changed, "prefect_artifacts": artifacts, **files,
        "pruned": {"runs": pruned_runs, "snapshots": len(pruned_snaps), "landing": len(pruned_landing)},
    }
