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
