"""CLI error paths: one clear line on stderr, no traceback, and a distinct exit code per failure kind."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from tests.conftest import write_ndjson

ROOT = Path(__file__).resolve().parents[1]
EXE = [sys.executable, "-c", "from screening.cli import main; main()"]


def cli(*args: str, cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*EXE, *args], capture_output=True, text=True, cwd=cwd or ROOT, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})


def one_clear_line(p: subprocess.CompletedProcess) -> str:
    assert "Traceback" not in p.stderr, p.stderr
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, p.stderr
    return lines[0]


@pytest.fixture
def small_source(tmp_path) -> Path:
    return write_ndjson(tmp_path / "src" / "Patient.ndjson",
                        [{"resourceType": "Patient", "id": "p1", "birthDate": "1950-01-01"}]).parent


def test_missing_source_path(tmp_path):
    p = cli("load", "--source", str(tmp_path / "nope"), "--db", str(tmp_path / "x.duckdb"))
    assert p.returncode == 3 and "no such file or directory" in one_clear_line(p)


def test_empty_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    p = cli("run", "--source", str(tmp_path / "empty"), "--db", str(tmp_path / "x.duckdb"), "--out",
            str(tmp_path / "out"), "--as-of", "2026-01-01")
    assert p.returncode == 3 and "no FHIR files" in one_clear_line(p)


def test_unreadable_duckdb_file(tmp_path, small_source):
    bad = tmp_path / "garbage.duckdb"
    bad.write_bytes(b"this is not a database" * 1000)
    p = cli("load", "--source", str(small_source), "--db", str(bad))
    assert p.returncode == 4 and str(bad) in one_clear_line(p)
    p = cli("query", "--db", str(bad), "SELECT 1")
    assert p.returncode == 4


def test_duckdb_file_from_another_tool(tmp_path):
    other = tmp_path / "other.duckdb"
    con = duckdb.connect(str(other))
    con.execute("CREATE TABLE sales (x INT)")
    con.close()
    p = cli("query", "--db", str(other), "SELECT * FROM sales")
    assert p.returncode == 4 and "not an osteoscreen database" in one_clear_line(p)


def test_missing_database_for_query(tmp_path):
    p = cli("query", "--db", str(tmp_path / "none.duckdb"), "SELECT 1")
    assert p.returncode == 4 and "no such database file" in one_clear_line(p)


def test_bad_as_of_is_a_usage_error(tmp_path, small_source):
    p = cli("run", "--source", str(small_source), "--db", str(tmp_path / "x.duckdb"), "--as-of", "31/12/2026")
    assert p.returncode == 2 and "YYYY-MM-DD" in p.stderr and "Traceback" not in p.stderr


def test_bad_sql_in_query(tmp_path, small_source):
    db = tmp_path / "x.duckdb"
    assert cli("load", "--source", str(small_source), "--db", str(db)).returncode == 0
    p = cli("query", "--db", str(db), "SELEC nonsense")
    assert p.returncode == 4 and one_clear_line(p).startswith("error: query failed")


def test_query_is_read_only_by_default(tmp_path, small_source):
    db = tmp_path / "x.duckdb"
    cli("load", "--source", str(small_source), "--db", str(db))
    p = cli("query", "--db", str(db), "DELETE FROM patient")
    assert p.returncode == 4 and "read-only" in one_clear_line(p).lower()
    p = cli("query", "--db", str(db), "--csv", "SELECT id, birth_date FROM patient")
    assert p.returncode == 0 and p.stdout.splitlines() == ["id,birth_date", "p1,1950-01-01"]


def test_database_folder_is_created_or_fails_clearly(tmp_path, small_source):
    p = cli("load", "--source", str(small_source), "--db", str(tmp_path / "new" / "dir" / "x.duckdb"))
    assert p.returncode == 0 and (tmp_path / "new" / "dir" / "x.duckdb").exists()
    assert oct((tmp_path / "new" / "dir").stat().st_mode & 0o777) == "0o700"
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    p = cli("load", "--source", str(small_source), "--db", str(blocker / "x.duckdb"))
    assert p.returncode == 7 and "cannot create the database folder" in one_clear_line(p)


def test_second_writer_fails_clearly_and_readers_share(tmp_path, small_source):
    db = tmp_path / "x.duckdb"
    assert cli("load", "--source", str(small_source), "--db", str(db)).returncode == 0
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
         "print('locked', flush=True); time.sleep(60)", str(db)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        p = cli("load", "--source", str(small_source), "--db", str(db))
        assert p.returncode == 4 and "in use by another" in one_clear_line(p)
        p = cli("query", "--db", str(db), "SELECT 1")
        assert p.returncode == 4 and "in use by another" in one_clear_line(p)
    finally:
        holder.kill()
        holder.wait()
    # No writer: two readers at once are fine.
    readers = [subprocess.Popen([*EXE, "query", "--db", str(db), "--csv", "SELECT count(*) AS n FROM patient"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                                env={**os.environ, "PYTHONPATH": str(ROOT)}) for _ in range(2)]
    outs = [r.communicate(timeout=120) for r in readers]
    assert all(r.returncode == 0 for r in readers), outs
    assert all(o[0].splitlines() == ["n", "1"] for o in outs)
    time.sleep(0)


def test_malformed_config_fails_before_the_flow(tmp_path, small_source):
    cfg = tmp_path / "cfg"
    cfg.mkdir()
    (cfg / "settings.toml").write_text("[lookback\ndxa_months = 36\n")
    args = ["run", "--source", str(small_source), "--db", str(tmp_path / "x.duckdb"), "--out", str(tmp_path / "o"),
            "--as-of", "2026-01-01", "--config", str(cfg)]
    p = cli(*args)
    assert p.returncode == 5 and "not valid TOML" in one_clear_line(p)
    (cfg / "settings.toml").write_text("[lookback]\ndxa_months = 'three years'\n")
    p = cli(*args)
    assert p.returncode == 5 and "dxa_months" in one_clear_line(p)
    (cfg / "settings.toml").unlink()
    (cfg / "local").mkdir()
    (cfg / "local" / "dxa_z_score.csv").write_text("system,code\nhttp://nobody.example/x,Z1\n")
    p = cli(*args)
    assert p.returncode == 5 and "unknown code system" in one_clear_line(p)
    assert not (tmp_path / "x.duckdb").exists(), "nothing ran"


def test_second_pipeline_run_on_the_same_database_fails_at_once(tmp_path, small_source):
    """The run lock covers the whole load -> screen -> export, not only the moments DuckDB holds the file."""
    db = tmp_path / "x.duckdb"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from pathlib import Path; from screening.runlock import "
         "pipeline_lock\nwith pipeline_lock(Path(sys.argv[1])):\n    print('running', flush=True); time.sleep(60)",
         str(db)], stdout=subprocess.PIPE, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert holder.stdout.readline().strip() == "running"
        p = cli("run", "--source", str(small_source), "--db", str(db), "--out", str(tmp_path / "o"),
                "--as-of", "2026-01-01")
        assert p.returncode == 4 and "another osteoscreen run" in one_clear_line(p)
    finally:
        holder.kill()
        holder.wait()
