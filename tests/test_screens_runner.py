"""run_screens API: bound parameters, counts without PHI, run record appended, atomic runs."""

from __future__ import annotations

import json
import re
from datetime import date

import pytest

from screening.db import connect
from screening.errors import ConfigError
from screening.load import load_source
from screening.screens import run_screens
from screening.screens.runner import MANIFEST, SQL_DIR, manifest_files
from tests.conftest import write_ndjson

PHI = "Zzyzxfamily"


@pytest.fixture
def loaded(tmp_path):
    write_ndjson(
        tmp_path / "src" / "data.ndjson",
        [
            {
                "resourceType": "Patient",
                "id": "p1",
                "gender": "female",
                "birthDate": "1990-01-01",
                "name": [{"family": PHI, "given": ["A"]}],
            },
            {
                "resourceType": "Observation",
                "id": "o1",
                "status": "final",
                "subject": {"reference": "Patient/p1"},
                "code": {"coding": [{"system": "http://loinc.org", "code": "85394-5"}]},
                "effectiveDateTime": "2026-03-01",
                "valueQuantity": {"value": -2.4, "unit": "{Z-score}"},
            },
        ],
    )
    con = connect(tmp_path / "db.duckdb")
    load_source(con, tmp_path / "src")
    yield con
    con.close()


def test_counts_and_run_record(loaded):
    out = run_screens(loaded, date(2026, 6, 30))
    assert out["listed"] == 1 and out["by_priority"] == {"low": 1}
    assert out["rules"] == {"low_z_score": 1, "unexplained": 1}
    assert PHI not in json.dumps(out) and "p1" not in json.dumps(out)
    assert run_screens(loaded, date(2026, 6, 30))["skipped"] is True  # unchanged: no second record
    run_screens(loaded, date(2026, 6, 30), force=True)
    runs = loaded.execute("SELECT as_of, config_hash, code_lists, counts, listed FROM screen_run").fetchall()
    assert len(runs) == 2 and runs[0][1] == runs[1][1]
    assert "fracture.csv" in json.loads(runs[0][2])
    assert PHI not in str(runs)


def test_as_of_moves_every_look_back(loaded):
    assert run_screens(loaded, date(2026, 2, 28))["listed"] == 0  # the scan is after the as-of date
    assert run_screens(loaded, date(2029, 3, 1))["listed"] == 1  # 36 months inclusive
    assert run_screens(loaded, date(2029, 3, 2))["listed"] == 0


def test_sql_has_no_formatted_values():
    """Thresholds live in config: the SQL binds $parameters, has no format placeholders or look-backs."""
    for rel in manifest_files(MANIFEST):
        text = (SQL_DIR / rel).read_text()
        assert re.search(r"\{[a-z_]+\}", text) is None, rel
        assert re.search(r"INTERVAL\s+'?\d", text, re.I) is None, rel


def test_failed_run_keeps_previous_results(loaded, tmp_path):
    run_screens(loaded, date(2026, 6, 30))
    bad = tmp_path / "cfg"
    bad.mkdir()
    (bad / "settings.toml").write_text("[dxa]\nvalid_min = 9.0\n")
    with pytest.raises(ConfigError):
        run_screens(loaded, date(2026, 6, 30), bad)
    assert loaded.execute("SELECT count(*) FROM worklist").fetchone()[0] == 1
    assert loaded.execute("SELECT count(*) FROM screen_run").fetchone()[0] == 1


def test_empty_database_screens_nothing(tmp_path):
    con = connect(tmp_path / "empty.duckdb")
    out = run_screens(con, date(2026, 6, 30))
    assert out["screened"] == 0 and out["listed"] == 0
    con.close()


def test_the_pipeline_imports_no_pandas(tmp_path):
    """pandas is no runtime dependency (pyproject: dev extra, for the bench baseline only): `osteoscreen run`
    (load, screen, export in every format) on generated patients never imports it; the config tables go into
    DuckDB as typed lists (screening/codes/valuesets.py replace_table). A fresh interpreter, so nothing that the
    test session imported counts."""
    import subprocess
    import sys
    from pathlib import Path

    code = ("import atexit, sys\n"
            "atexit.register(lambda: print('PANDAS', 'pandas' in sys.modules))\n"
            "from screening.cli import main\n"
            "sys.argv = ['osteoscreen', *sys.argv[1:]]\n"
            "main()\n")
    root = Path(__file__).resolve().parents[1]

    def cli(*args: str) -> str:
        out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=root)
        assert out.returncode == 0, out.stderr[-2000:]
        return out.stdout

    cli("synth", "--patients", "40", "--seed", "3", "--as-of", "2026-06-30", "--out", str(tmp_path / "src"))
    out = cli("run", "--source", str(tmp_path / "src"), "--db", str(tmp_path / "o.duckdb"), "--out",
              str(tmp_path / "out"), "--as-of", "2026-06-30")
    assert "PANDAS False" in out
    assert (tmp_path / "out" / "worklist.csv").read_text().count("\n") > 1  # it did screen and list someone
