"""Issue 10 points 1, 3, 6: unchanged files are skipped and say so; identical records are never rewritten; an
incremental sequence of loads ends in the same database content as one full load; --memory-limit is checked."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from screening.database import open_database
from screening.load import load_source
from tests.conftest import write_ndjson

ROOT = Path(__file__).resolve().parents[1]
CLI = str(ROOT / ".venv" / "bin" / "osteoscreen")
TABLES = ["resource_raw", "patient", "observation", "observation_coding", "medication_use", "condition"]


def obs(i: int, value: float = -2.1, version: str = "1") -> dict:
    return {"resourceType": "Observation", "id": f"o{i}", "status": "final", "meta": {"versionId": version},
            "code": {"coding": [{"system": "http://loinc.org", "code": "38267-4"}]},
            "subject": {"reference": f"Patient/p{i % 5}"}, "effectiveDateTime": "2026-01-05",
            "valueQuantity": {"value": value, "unit": "{T-score}"}}


def content(db: Path) -> dict:
    con = open_database(db, read_only=True)
    try:
        out = {}
        for t in TABLES:
            names = [r[0] for r in con.execute(f"DESCRIBE {t}").fetchall()]
            keep = [n for n in names if n not in ("source_file", "source_line", "source_entry", "load_run_id",
                                                   "load_seq", "last_updated")]
            out[t] = con.execute(f"SELECT {', '.join(keep)} FROM {t} ORDER BY ALL").fetchall()
        return out
    finally:
        con.close()


def test_incremental_sequence_equals_one_full_load(tmp_path):
    patients = [{"resourceType": "Patient", "id": f"p{i}", "gender": "female", "birthDate": "1950-01-01"}
                for i in range(5)]
    land = tmp_path / "landing"
    days = [
        lambda: (write_ndjson(land / "day1" / "Patient.ndjson", patients),
                 write_ndjson(land / "day1" / "Observation.ndjson", [obs(i) for i in range(100)])),
        lambda: write_ndjson(land / "day2" / "Observation.ndjson", [obs(i, -3.0, "2") for i in range(50, 101)]),
        lambda: write_ndjson(land / "day3" / "Observation.ndjson", [obs(i) for i in range(200, 210)]
                             + [obs(7, -1.0, "1")]),  # an older version arriving late changes nothing
    ]
    inc = tmp_path / "inc.duckdb"
    con = open_database(inc)
    for write_day in days:
        write_day()  # the landing folder grows day by day: earlier files are skipped
        load_source(con, land)
    con.close()

    full = tmp_path / "full.duckdb"
    con = open_database(full)
    load_source(con, land)
    con.close()
    a, b = content(inc), content(full)
    assert len(a["observation"]) == 111 and a == b


def test_growing_landing_folder_reads_only_new_files(con, tmp_path):
    write_ndjson(tmp_path / "a" / "Observation.ndjson", [obs(i) for i in range(20)])
    r1 = load_source(con, tmp_path)
    write_ndjson(tmp_path / "b" / "Observation.ndjson", [obs(i, -3.0, "2") for i in range(2)] + [obs(99)])
    r2 = load_source(con, tmp_path)
    assert (r2.files, r2.files_skipped, r2.records_read, r2.inserted, r2.replaced) == (2, 1, 3, 1, 2)
    untouched = con.execute("SELECT count(*) FROM resource_raw WHERE load_run_id = ?", [r1.run_id]).fetchone()
    assert untouched == (18,)


def test_cli_says_nothing_new_and_checks_memory_limit(tmp_path):
    write_ndjson(tmp_path / "in" / "Observation.ndjson", [obs(i) for i in range(5)])
    db = tmp_path / "db" / "o.duckdb"
    db.parent.mkdir()
    args = [CLI, "load", "--source", str(tmp_path / "in"), "--db", str(db), "--memory-limit", "512MiB"]
    env = {**os.environ, "HOME": str(tmp_path)}
    first = subprocess.run(args, capture_output=True, text=True, env=env)
    assert first.returncode == 0 and "nothing new" not in first.stdout, first.stderr
    second = subprocess.run(args, capture_output=True, text=True, env=env)
    assert second.returncode == 0 and "nothing new: all 1 files are unchanged" in second.stdout
    bad = subprocess.run(args[:-1] + ["12 apples"], capture_output=True, text=True, env=env)
    assert bad.returncode == 2 and "memory-limit" in bad.stderr


@pytest.mark.parametrize("value,expected", [("2GiB", "2048MiB"), ("1500MB", "1430MiB"), (" 64 MiB ", "64MiB")])
def test_memory_limit_values(value, expected):
    from screening.db import parse_memory_limit

    assert parse_memory_limit(value) == expected
    with pytest.raises(ValueError):
        parse_memory_limit("1MiB")
