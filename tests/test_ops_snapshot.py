"""Issue 12.6: the run publishes a read-only analytics snapshot by rename; an analyst holding it open keeps
reading the previous one and never blocks the run; nothing changed = nothing republished; issue 12.4: the run
report files carry counts only."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb

from screening.pipeline import run_pipeline

AS_OF = date(2026, 6, 30)

READER = """
import sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
q = "SELECT count(*), count(*) FILTER (WHERE listed) FROM analytics.patient"
print(*con.execute(q).fetchone(), flush=True)
sys.stdin.readline()
print(*con.execute(q).fetchone(), flush=True)
"""


def tiny_population(folder: Path, patients: int = 40, seed: int = 3) -> Path:
    from screening.synth import generate

    generate(folder, patients=patients, seed=seed, as_of=AS_OF)
    return folder


def one_more_patient(folder: Path) -> Path:
    from tests.conftest import write_ndjson

    write_ndjson(folder / "Patient.ndjson", [{"resourceType": "Patient", "id": "late-arrival", "gender": "female",
                                              "birthDate": "1950-01-01"}])
    return folder


def test_open_reader_keeps_previous_snapshot_and_run_proceeds(tmp_path):
    db, out = tmp_path / "work" / "w.duckdb", tmp_path / "out"
    first = run_pipeline(tiny_population(tmp_path / "a", 30, 3), db, out, AS_OF)
    snap = Path(first["finish"]["snapshot"])
    assert first["finish"]["snapshot_published"] and snap == db.with_name("w.analytics.duckdb")
    assert stat.S_IMODE(snap.stat().st_mode) == 0o600

    reader = subprocess.Popen([sys.executable, "-c", READER, str(snap)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        before = reader.stdout.readline().split()
        assert int(before[0]) == first["screen"]["screened"]
        # New data arrives while the analyst's connection is open: the run must not be blocked by it.
        second = run_pipeline(one_more_patient(tmp_path / "b"), db, out, AS_OF)
        assert second["finish"]["snapshot_published"]
        reader.stdin.write("\n")
        reader.stdin.flush()
        during = reader.stdout.readline().split()
    finally:
        reader.kill()
        reader.wait()
    assert during == before, "an open connection must keep reading the snapshot it opened"
    con = duckdb.connect(str(snap), read_only=True)
    total, listed = con.execute("SELECT count(*), count(*) FILTER (WHERE listed) FROM analytics.patient").fetchone()
    per_patient = con.execute("SELECT count(DISTINCT patient_id) FROM analytics.patient").fetchone()[0]
    wl = con.execute("SELECT count(*) FROM analytics.worklist").fetchone()[0]
    con.close()
    assert total == int(before[0]) + 1 and per_patient == total and listed == wl == second["export"]["listed"]
    history = list(snap.with_name("w.analytics.history").glob("*.duckdb"))
    assert len(history) == 1  # the previous snapshot, kept for retention

    # Same data, same day: nothing changed, so the snapshot file is not replaced.
    inode = snap.stat().st_ino
    third = run_pipeline(tmp_path / "b", db, out, AS_OF)
    assert not third["finish"]["snapshot_published"] and snap.stat().st_ino == inode
    assert third["finish"]["new"] == 0 and third["finish"]["resolved"] == 0


def test_run_report_files_hold_counts_only(tmp_path):
    src = tiny_population(tmp_path / "src", 40, 11)
    summary = run_pipeline(src, tmp_path / "w.duckdb", tmp_path / "out", AS_OF)
    report = json.loads((tmp_path / "out" / "run-report.json").read_text())
    md = (tmp_path / "out" / "run-report.md").read_text()
    assert report["totals"]["records_read"] == summary["load"]["records_read"]
    assert report["totals"]["listed"] == summary["export"]["listed"] > 0
    types = {r["resource_type"]: r for r in report["types"]}
    assert types["Patient"]["stored"] == summary["load"]["patients"]
    assert sum(r["quarantined"] for r in report["types"]) == summary["load"]["quarantined"]
    priorities = {r["value"]: r["patients"] for r in report["listed"] if r["dimension"] == "priority"}
    assert priorities == summary["export"]["by_priority"]
    assert str(tmp_path / "out" / "worklist.csv") in md
    for f in ("run-report.json", "run-report.md"):
        assert stat.S_IMODE((tmp_path / "out" / f).stat().st_mode) == 0o600
    # No identifier, name, birth date or clinical value of any patient appears in either file.
    con = duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True)
    phi = set()
    q = "SELECT id, mrn, family_name, given_name, CAST(birth_date AS VARCHAR) FROM patient"
    for row in con.execute(q).fetchall():
        phi |= {v for v in row if v}
    phi |= {str(r[0]) for r in con.execute("SELECT DISTINCT value FROM dxa_result").fetchall()}
    con.close()
    text = json.dumps(report) + md
    leaks = sorted(v for v in phi if len(v) > 3 and v in text)
    assert leaks == []
    assert os.path.exists(tmp_path / "w.analytics.duckdb")


def test_analytics_patient_has_worklist_status_and_last_disposition_from_the_cli(tmp_path):
    """Issue 12.6: one row per patient with the worklist status (new / continuing / resolved ...) and the last
    disposition, recorded with `osteoscreen disposition` into its own file, read from the self-contained
    snapshot (the dispositions the run read are in it). A disposition alone (no new data) republishes it."""
    from tests.test_worklist_support import write_population

    cli = Path(sys.executable).parent / "osteoscreen"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_API", "OSTEOSCREEN"))}
    env["PREFECT_HOME"] = str(tmp_path / "prefect")
    db, snap = tmp_path / "data" / "w.duckdb", tmp_path / "data" / "w.analytics.duckdb"

    def osteoscreen(*args: str) -> str:
        r = subprocess.run([cli, *args], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
        assert r.returncode == 0, r.stderr[-2000:]
        return r.stdout

    def run(n: int, as_of: str) -> str:
        return osteoscreen("run", "--source", str(write_population(tmp_path / "src", n)), "--db", str(db),
                           "--out", str(tmp_path / "out"), "--as-of", as_of)

    def view() -> dict[str, tuple]:
        out = osteoscreen("query", "--db", str(snap), "--csv", "--max-rows", "1000",
                          "SELECT patient_id, worklist_status, last_disposition, last_disposition_by, dispositions, "
                          "resolved_reason FROM analytics.patient ORDER BY patient_id")
        rows = [line.split(",") for line in out.strip().splitlines()[1:]]
        return {r[0]: tuple(r[1:]) for r in rows}

    run(1, "2026-06-30")
    first = view()
    assert first["wl-disp1"] == ("new", "", "", "0", "") and first["wl-cont"][0] == "new"
    assert "published" in run(1, "2026-06-30")  # statuses moved on: new -> continuing
    osteoscreen("disposition", "wl-disp1", "--status", "contacted", "--db", str(db), "--by", "cm7")
    osteoscreen("disposition", "wl-unreach", "--status", "unable to reach", "--db", str(db), "--by", "cm7")
    inode = snap.stat().st_ino
    assert "snapshot:  " in run(1, "2026-06-30")
    assert snap.stat().st_ino != inode, "a disposition alone must republish the snapshot"
    after = view()
    assert after["wl-disp1"] == ("suppressed", "contacted", "cm7", "1", "")
    assert after["wl-unreach"] == ("continuing", "unable to reach", "cm7", "1", "")
    assert after["wl-cont"] == ("continuing", "", "", "0", "")
    run(2, "2026-07-31")  # wl-gone's aromatase inhibitor ended: resolved, with why
    second = view()
    assert second["wl-gone"][0] == "resolved" and second["wl-gone"][4] == "cause gone"
    assert second["wl-new"][0] == "new"
    con = duckdb.connect(str(snap), read_only=True)
    (n,) = con.execute("SELECT count(*) FROM analytics.dispositions WHERE recorded_by = 'cm7'").fetchone()
    (resolved,) = con.execute("SELECT resolved FROM analytics.worklist_runs ORDER BY run_seq DESC LIMIT 1").fetchone()
    (in_view,) = con.execute("SELECT count(*) FROM analytics.patient WHERE worklist_status = 'resolved'").fetchone()
    con.close()
    assert n == 2 and resolved == in_view >= 1
    alone = tmp_path / "elsewhere" / "copy.duckdb"  # self-contained: no dispositions file or database beside it
    alone.parent.mkdir()
    alone.write_bytes(snap.read_bytes())
    con = duckdb.connect(str(alone), read_only=True)
    got = con.execute("SELECT last_disposition FROM analytics.patient WHERE patient_id = 'wl-disp1'").fetchone()
    con.close()
    assert got == ("contacted",)
