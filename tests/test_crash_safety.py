"""Issue 5: SIGKILL at named points of a load; the DuckDB file opens afterwards, holds exactly the previous
run's state (or the new one, once committed), and a re-run converges to the same state as a clean run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import date
from pathlib import Path

import orjson
import pytest

from screening.database import open_database
from tests.conftest import write_ndjson

ROOT = Path(__file__).resolve().parents[1]
LOAD = "import sys; from pathlib import Path; from screening.database import open_database; " \
       "from screening.load import load_source; con = open_database(Path(sys.argv[1])); " \
       "load_source(con, Path(sys.argv[2])); con.close()"


def obs(i: int, value: float) -> dict:
    return {"resourceType": "Observation", "id": f"o{i}", "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "85394-5"}]},
            "subject": {"reference": f"Patient/p{i % 7}"}, "effectiveDateTime": "2026-01-05",
            "valueQuantity": {"value": value, "unit": "{Z-score}"}}


def run_load(db: Path, source: Path, crash_at: str | None = None) -> int:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if crash_at:
        env["OSTEOSCREEN_CRASH_AT"] = crash_at
    return subprocess.run([sys.executable, "-c", LOAD, str(db), str(source)], env=env, cwd=ROOT,
                          capture_output=True, timeout=120).returncode


def snapshot(db: Path) -> tuple:
    con = open_database(db, read_only=True)
    try:
        return (
            con.execute("SELECT resource_type, id, CAST(body AS VARCHAR) FROM resource_raw ORDER BY ALL").fetchall(),
            con.execute("SELECT id, value_num FROM observation ORDER BY id").fetchall(),
            con.execute("SELECT count(*), sum(loaded) FROM load_run").fetchone(),
        )
    finally:
        con.close()


@pytest.fixture
def two_exports(tmp_path):
    a = write_ndjson(tmp_path / "a" / "Observation.ndjson", [obs(i, -1.0) for i in range(3000)]).parent
    b = write_ndjson(tmp_path / "b" / "Observation.ndjson",
                     [obs(i, -2.5) for i in range(1500, 4500)] + [b"{broken"]).parent
    return a, b


@pytest.mark.parametrize("point", ["load:staged", "load:merged", "load:typed", "load:before-commit"])
def test_kill_before_commit_keeps_previous_state(tmp_path, two_exports, point):
    a, b = two_exports
    db = tmp_path / "crash.duckdb"
    assert run_load(db, a) == 0
    before = snapshot(db)
    assert run_load(db, b, crash_at=point) == -signal.SIGKILL
    assert snapshot(db) == before, f"state changed after a kill at {point}"
    # Re-run converges to what a clean sequence produces.
    assert run_load(db, b) == 0
    clean = tmp_path / "clean.duckdb"
    run_load(clean, a)
    run_load(clean, b)
    assert snapshot(db)[:2] == snapshot(clean)[:2]


def test_kill_right_after_commit_keeps_new_state(tmp_path, two_exports):
    a, b = two_exports
    db = tmp_path / "crash.duckdb"
    assert run_load(db, a) == 0
    assert run_load(db, b, crash_at="load:after-commit") == -signal.SIGKILL
    clean = tmp_path / "clean.duckdb"
    run_load(clean, a)
    run_load(clean, b)
    assert snapshot(db) == snapshot(clean)


def test_kill_at_random_moments_never_corrupts(tmp_path, two_exports):
    """Timing-based kills on top of the named points: the file always opens holding a whole state."""
    a, b = two_exports
    only_a, a_then_b = tmp_path / "only_a.duckdb", tmp_path / "a_then_b.duckdb"
    run_load(only_a, a)
    run_load(a_then_b, a)
    run_load(a_then_b, b)
    whole_states = [snapshot(only_a)[:2], snapshot(a_then_b)[:2]]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for delay in (0.3, 0.8, 1.5, 2.5):
        db = tmp_path / f"crash-{delay}.duckdb"
        assert run_load(db, a) == 0
        proc = subprocess.Popen([sys.executable, "-c", LOAD, str(db), str(b)], env=env, cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            proc.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        assert snapshot(db)[:2] in whole_states, f"partial state after a kill at {delay}s"
        assert run_load(db, b) == 0
        assert snapshot(db)[:2] == whole_states[1]


def test_worklist_file_is_renamed_into_place(tmp_path):
    """A kill between writing and renaming leaves the old worklist whole and no partial file under its name."""
    from screening.export.safe_files import atomic_write

    target = tmp_path / "worklist.csv"
    atomic_write(target, lambda fh: fh.write("old,complete\n"))
    code = ("import sys; from pathlib import Path; from screening.export.safe_files import atomic_write; "
            "atomic_write(Path(sys.argv[1]), lambda fh: fh.write('new,' * 100000))")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OSTEOSCREEN_CRASH_AT": "export:before-rename"}
    rc = subprocess.run([sys.executable, "-c", code, str(target)], env=env, cwd=ROOT).returncode
    assert rc == -signal.SIGKILL
    assert target.read_text() == "old,complete\n"
    assert oct(target.stat().st_mode & 0o777) == "0o600"


PIPELINE = ("import sys; from datetime import date; from pathlib import Path; "
            "from screening.pipeline import run_pipeline; "
            "run_pipeline(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), date(2026, 6, 30))")


def run_pipeline_proc(src: Path, out: Path, crash_at: str | None = None) -> int:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if crash_at:
        env["OSTEOSCREEN_CRASH_AT"] = crash_at
    return subprocess.run([sys.executable, "-c", PIPELINE, str(src), str(out / "db.duckdb"), str(out)], env=env,
                          cwd=ROOT, capture_output=True, timeout=300).returncode


def screen_state(out: Path) -> tuple:
    con = open_database(out / "db.duckdb", read_only=True)
    try:
        return (con.execute("SELECT * FROM worklist ORDER BY rank").fetchall(),
                con.execute("SELECT count(*) FROM screen_run").fetchone())
    finally:
        con.close()


@pytest.fixture(scope="module")
def populations(tmp_path_factory):
    """A = the planted population; B = A with alendronate added for every patient (a different worklist)."""
    from screening.synth import generate, write_case_resources

    root = tmp_path_factory.mktemp("pop")
    generate(root / "a", patients=1, seed=11, as_of=date(2026, 6, 30))
    b = root / "b"
    b.mkdir()
    for f in (root / "a").glob("*.ndjson"):
        (b / f.name).write_bytes(f.read_bytes())
    pids = [orjson.loads(ln)["id"] for ln in (root / "a" / "Patient.ndjson").read_bytes().splitlines() if ln]
    write_case_resources([{
        "resourceType": "MedicationStatement", "id": f"crash-aln-{i}", "status": "active",
        "medicationCodeableConcept": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                                                  "code": "46041"}], "text": "alendronate 70 MG Oral Tablet"},
        "subject": {"reference": f"Patient/{p}"}, "effectivePeriod": {"start": "2026-06-01"}}
        for i, p in enumerate(pids)], b / "extra")
    clean = root / "clean"
    assert run_pipeline_proc(root / "a", clean) == 0
    assert run_pipeline_proc(b, clean) == 0
    return root / "a", b, (clean / "worklist.csv").read_bytes(), screen_state(clean)[0]


@pytest.mark.parametrize("point", ["screen:model", "screen:causes", "screen:before-commit",
                                   "export:before-rename"])
def test_kill_during_screen_or_export_then_rerun_gives_identical_worklist(tmp_path, populations, point):
    a, b, clean_csv, clean_rows = populations
    out = tmp_path / "out"
    assert run_pipeline_proc(a, out) == 0
    before_rows, before_runs = screen_state(out)
    before_csv = (out / "worklist.csv").read_bytes()
    assert before_csv != clean_csv, "B must change the worklist for this test to mean anything"
    assert run_pipeline_proc(b, out, crash_at=point) == -signal.SIGKILL
    # The worklist file is the previous run's, whole; the screen tables too unless the screen had committed.
    assert (out / "worklist.csv").read_bytes() == before_csv
    if point.startswith("screen:"):
        assert screen_state(out) == (before_rows, before_runs)
    else:
        assert screen_state(out)[0] == clean_rows
    assert run_pipeline_proc(b, out) == 0
    assert (out / "worklist.csv").read_bytes() == clean_csv
    assert screen_state(out)[0] == clean_rows
    assert not list(out.glob(".worklist.csv.*.tmp")), "a killed export's temp file is cleaned up by the next run"
