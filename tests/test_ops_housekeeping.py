"""Issue 12.8: retention of landing exports, run history and snapshots; the failure-notification template."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta

import duckdb
import orjson
import yaml

from screening.housekeeping import prune_landing, prune_run_history, prune_snapshots, snapshot_history_dir
from screening.latest import repoint_latest
from screening.paths import CONFIG_DIR
from screening.report import ensure_ops_tables

OLD = time.time() - 40 * 86400


def _export(landing, name, status="complete", old=True):
    d = landing / name
    d.mkdir(parents=True)
    (d / ".extract-state.json").write_bytes(orjson.dumps({"status": status}))
    (d / "Patient.ndjson").write_text("{}\n")
    if old:
        os.utime(d, (OLD, OLD))
    return d


def test_landing_retention_keeps_latest_recent_and_unfinished(tmp_path):
    landing = tmp_path / "landing"
    old_done = _export(landing, "20250101T000000Z-bulk")
    old_latest = _export(landing, "20250102T000000Z-bulk")
    old_running = _export(landing, "20250103T000000Z-bulk", status="started")
    recent = _export(landing, "20260101T000000Z-bulk", old=False)
    repoint_latest(landing, old_latest)
    removed = prune_landing(landing, 31)
    assert removed == [old_done.name]
    assert old_latest.is_dir() and old_running.is_dir() and recent.is_dir() and (landing / "latest").exists()


def test_run_history_retention_keeps_the_latest_run(tmp_path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    ensure_ops_tables(con)
    now = datetime.now(UTC)
    for i, age in enumerate([60, 45, 40]):
        con.execute("INSERT INTO run_record (run_id, finished_at) VALUES (?, ?)", [f"r{i}", now - timedelta(days=age)])
        con.execute("INSERT INTO run_listed VALUES (?, 'p', 'high')", [f"r{i}"])
    assert prune_run_history(con, 31) == 2
    assert con.execute("SELECT run_id FROM run_record").fetchall() == [("r2",)]
    assert con.execute("SELECT DISTINCT run_id FROM run_listed").fetchall() == [("r2",)]


def test_snapshot_history_retention(tmp_path):
    snap = tmp_path / "w.analytics.duckdb"
    hist = snapshot_history_dir(snap)
    hist.mkdir()
    old, new = hist / "20250101T000000000000Z.duckdb", hist / "20260101T000000000000Z.duckdb"
    old.write_text("x")
    new.write_text("y")
    os.utime(old, (OLD, OLD))
    assert prune_snapshots(snap, 31) == [old.name] and new.exists()


def test_failure_notification_template_is_a_valid_automation_without_phi_fields():
    from prefect.automations import Automation

    text = (CONFIG_DIR / "templates" / "notify-on-failure.yaml").read_text()
    automation = Automation.model_validate(yaml.safe_load(text))
    assert {"prefect.flow-run.Failed", "prefect.flow-run.Crashed"} <= set(automation.trigger.expect)
    (action,) = automation.actions
    message = action.subject + action.body
    assert "flow_run.parameters" not in message and "result" not in message and "{{ flow_run.name }}" in message


def test_retention_end_to_end_through_the_pipeline(tmp_path):
    """The wiring, not the pruning rules (those are above): two runs of the main job (run_pipeline, what
    `osteoscreen run` calls) with a site settings.toml of one-day retention and a landing folder. Between them
    three days pass for the first run's records, snapshot and export (aged in place); the second run's finish step
    removes exactly those three kinds of old things and keeps the latest run, the current snapshot, the export
    `latest` names and an old export that never finished."""
    import shutil
    from datetime import date

    from screening.pipeline import run_pipeline
    from screening.snapshot import snapshot_path
    from screening.synth import generate

    three_days_ago = time.time() - 3 * 86400
    site = tmp_path / "site"
    site.mkdir()
    (site / "settings.toml").write_text("[housekeeping]\nlanding_days = 1\nrun_history_days = 1\nsnapshot_days = 1\n")
    landing = tmp_path / "landing"
    first = landing / "20260629T010000Z-bulk"
    generate(first, patients=40, seed=5, as_of=date(2026, 6, 30))
    (first / ".extract-state.json").write_bytes(orjson.dumps({"status": "complete"}))
    unfinished = _export(landing, "20260628T010000Z-bulk", status="started")  # 40 days old, never finished
    repoint_latest(landing, first)
    db, out = tmp_path / "data" / "w.duckdb", tmp_path / "out"
    db.parent.mkdir()

    one = run_pipeline(first, db, out, date(2026, 6, 30), config_dir=site, landing=landing)
    assert one["finish"]["pruned"] == {"runs": 0, "snapshots": 0, "landing": 0}  # nothing is old yet
    snap = snapshot_path(db)
    assert snap.is_file() and one["finish"]["snapshot_published"]

    # Three days later: the first run's record, snapshot and export are old; a new export has landed.
    con = duckdb.connect(str(db))
    con.execute("UPDATE run_record SET finished_at = finished_at - INTERVAL 3 DAY")
    con.close()
    os.utime(snap, (three_days_ago, three_days_ago))
    second = landing / "20260701T010000Z-bulk"
    shutil.copytree(first, second)
    (second / "Patient.new.ndjson").write_bytes(orjson.dumps(
        {"resourceType": "Patient", "id": "p-new", "gender": "female", "birthDate": "1950-01-01"}) + b"\n")
    os.utime(first, (three_days_ago, three_days_ago))
    repoint_latest(landing, second)

    two = run_pipeline(second, db, out, date(2026, 7, 1), config_dir=site, landing=landing)
    assert two["finish"]["snapshot_published"]
    assert two["finish"]["pruned"] == {"runs": 1, "snapshots": 1, "landing": 1}
    assert not first.exists() and second.is_dir() and unfinished.is_dir()
    assert (landing / "latest").resolve() == second.resolve()
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT run_id FROM run_record").fetchall() == [(two["finish"]["run_id"],)]
    con.close()
    assert list(snapshot_history_dir(snap).glob("*.duckdb")) == []  # the old snapshot, linked there, was removed
    con = duckdb.connect(str(snap), read_only=True)
    assert con.execute("SELECT count(*) FROM worklist").fetchone()[0] > 0  # the current snapshot is whole
    con.close()
