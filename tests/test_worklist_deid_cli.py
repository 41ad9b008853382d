"""De-identified export (no identifier from the input, stable pseudonyms, shifted dates, 90+), the summary files,
owner-only outputs, and the CLI: `disposition` while a run holds the database, exit codes, the salt never shown."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import duckdb
import orjson
import pytest

from screening.export.deidentify import age
from screening.export.dispositions import read_all
from screening.runlock import pipeline_lock
from tests.test_worklist_support import read_csv, run_once

CLI = str(Path(sys.executable).with_name("osteoscreen"))
SALT = "correct-horse-battery-staple-0123456789"


def identifiers(src: Path) -> set[str]:
    """Every id, reference id, MRN, name part and birth date of the input."""
    found: set[str] = set()
    for line in (src / "data.ndjson").read_text().splitlines():
        r = orjson.loads(line)
        found.add(r["id"])
        if r["resourceType"] == "Patient":
            found.add(r["birthDate"])
            found |= {i["value"] for i in r.get("identifier", [])}
            for n in r.get("name", []):
                found.add(n["family"])
                found |= set(n.get("given", []))
    return found


def test_deidentified_file_holds_no_identifier(tmp_path, monkeypatch):
    salt_file = tmp_path / "salt"
    salt_file.write_text(SALT)
    run_once(tmp_path, 2, deidentify=True, salt_file=str(salt_file))
    out = tmp_path / "out"
    deid = out / "worklist-deidentified.csv"
    text = deid.read_text()
    leaked = [x for x in identifiers(tmp_path / "src") if x in text]
    assert leaked == []
    rows = read_csv(deid)
    assert len(rows) == len(read_csv(out / "worklist.csv"))
    assert set(rows[0]) >= {"pseudo_id", "age", "priority", "unaddressed", "evidence_ids", "first_listed"}
    assert {r["age"] for r in rows} == {"76"}                       # born 1950-01-01, as of 2026-07-31
    assert all(r["evidence_ids"].startswith(("Observation/", "MedicationStatement/")) for r in rows)
    assert len({r["first_listed"] for r in rows}) > 1               # shifted per patient
    first = {r["pseudo_id"] for r in rows}
    run_once(tmp_path, 2, deidentify=True, salt_file=str(salt_file))
    assert {r["pseudo_id"] for r in read_csv(deid)} == first        # stable with the same salt
    for p in out.rglob("*"):
        assert SALT.encode() not in p.read_bytes()


def test_age_rule():
    from datetime import date

    assert age(date(1930, 1, 1), date(2026, 6, 30)) == "90+"
    assert age(date(1936, 7, 1), date(2026, 6, 30)) == "89"
    assert age(None, date(2026, 6, 30)) == ""


def test_summary_files_and_owner_only_outputs(tmp_path):
    result = run_once(tmp_path, 1)
    out = tmp_path / "out"
    s = json.loads((out / "summary.json").read_text())
    assert s == result["export"]["summary"]
    assert s["as_of"] == "2026-06-30" and s["screened"] == 10 and s["listed"] == 10
    assert sum(s["listed_by_priority"].values()) == 10 and s["safety_alerts"] == 0
    assert all(Path(p).exists() for p in s["outputs"].values())
    md = (out / "summary.md").read_text()
    assert "| listed (on the worklist) | 10 |" in md and "wl-" not in md and "Fam" not in md
    for p in [out, *out.rglob("*")]:
        mode = stat.S_IMODE(os.stat(p).st_mode)
        assert mode == (0o700 if p.is_dir() else 0o600), p
    disp = tmp_path / "db" / "w.duckdb.dispositions.duckdb"
    assert not disp.exists()  # created by the first disposition, not by a run


def test_disposition_cli_while_the_run_holds_the_database(tmp_path):
    run_once(tmp_path, 1)
    db = tmp_path / "db" / "w.duckdb"
    with pipeline_lock(db):
        con = duckdb.connect(str(db))  # the nightly run's write connection
        try:
            ok = subprocess.run([CLI, "disposition", "wl-cont", "--status", "contacted", "--db", str(db),
                                 "--note", "voicemail", "--by", "cm7"], capture_output=True, text=True)
        finally:
            con.close()
    assert ok.returncode == 0, ok.stderr
    assert [(d[0], d[1], d[2], d[4]) for d in read_all(db)] == [("wl-cont", "contacted", "voicemail", "cm7")]
    mode = stat.S_IMODE(os.stat(db.with_name("w.duckdb.dispositions.duckdb")).st_mode)
    assert mode == 0o600
    default_by = subprocess.run([CLI, "disposition", "wl-evid", "--status", "unable to reach", "--db", str(db)],
                                capture_output=True, text=True)
    assert default_by.returncode == 0
    assert read_all(db)[-1][4]  # the login user
    bad = subprocess.run([CLI, "disposition", "wl-cont", "--status", "not appropriate", "--db", str(db)],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "needs a reason" in bad.stderr
    bad_date = subprocess.run([CLI, "disposition", "wl-cont", "--status", "contacted", "--review", "31/12/2026",
                               "--db", str(db)], capture_output=True, text=True)
    assert bad_date.returncode == 2
    assert len(read_all(db)) == 2


def test_run_cli_prints_summary_and_needs_a_salt(tmp_path):
    from tests.test_worklist_support import write_population

    src = write_population(tmp_path / "src", 1)
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect")}
    env.pop("OSTEOSCREEN_DEID_SALT", None)
    no_salt = subprocess.run([CLI, "run", "--source", str(src), "--db", str(tmp_path / "db" / "w.duckdb"),
                              "--out", str(tmp_path / "out"), "--as-of", "2026-06-30", "--deidentify"],
                             capture_output=True, text=True, env=env, cwd=tmp_path)
    assert no_salt.returncode == 5 and "salt" in no_salt.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_run_cli_end_to_end_summary_and_salt_never_recorded(tmp_path):
    """The real `osteoscreen run` (Prefect flow with its temporary server): summary printed, salt nowhere."""
    from tests.servers.fhir_server import FhirTestServer
    from tests.test_worklist_support import write_population

    src = write_population(tmp_path / "src", 1)
    prefect_home = tmp_path / "prefect"
    env = {**os.environ, "PREFECT_HOME": str(prefect_home), "OSTEOSCREEN_DEID_SALT": SALT}
    with FhirTestServer([]) as srv:
        p = subprocess.run([CLI, "run", "--source", str(src), "--db", str(tmp_path / "db" / "w.duckdb"),
                            "--out", str(tmp_path / "out"), "--as-of", "2026-06-30", "--deidentify",
                            "--write-back-url", srv.base_url],
                           capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
        tasks = [r for r in srv.all_resources() if r["resourceType"] == "Task"]
    assert p.returncode == 0, p.stderr[-2000:]
    assert len(tasks) == 10 and "write-back: {'created': 10" in p.stdout
    assert "changes:   10 new, 0 changed, 0 back, 0 continuing, 0 resolved, 0 suppressed" in p.stdout
    assert "worklist-deidentified.csv" in p.stdout and "summary.md" in p.stdout
    assert SALT not in p.stdout + p.stderr
    for f in [*prefect_home.rglob("*"), *(tmp_path / "out").rglob("*")]:
        if f.is_file():
            assert SALT.encode() not in f.read_bytes(), f
