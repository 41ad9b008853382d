"""Skipping an unchanged screen (issue 10, point 3): same as-of, config, code and data as the last committed screen
run -> nothing is redone and the tables equal a full re-screen row for row; anything changed -> a full screen. The
export after a skipped screen (worklist, resolved, dispositions, history) is byte-identical to one after a forced
full screen, dispositions included."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from screening.database import open_database
from screening.load import load_source
from screening.screens import run_screens
from tests.conftest import write_ndjson

AS_OF = date(2026, 6, 30)
LOAD_TABLES = {"resource_raw", "quarantine", "load_run", "load_file", "bundle_ref_map", "deleted_resource",
               "screen_run", "typed_state", "schema_version"}


@pytest.fixture(scope="module")
def population(tmp_path_factory) -> Path:
    from screening.synth import generate

    src = tmp_path_factory.mktemp("skip") / "src"
    generate(src, patients=300, seed=7, as_of=AS_OF)
    return src


@pytest.fixture
def loaded(tmp_path, population):
    src = tmp_path / "src"
    shutil.copytree(population, src)
    con = open_database(tmp_path / "db.duckdb")
    load_source(con, src)
    yield con, src
    con.close()


def _tables(con) -> set[str]:
    return {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' "
                                      "AND NOT temporary").fetchall()}


def snapshot(con, tables: set[str]) -> dict[str, list]:
    """Every row of every table, order-independent (rows sorted by their text form)."""
    out = {}
    for t in sorted(tables):
        rows = con.execute(f"SELECT * FROM {t}").fetchall()
        out[t] = sorted(rows, key=repr)
    return out


def screen_tables(con) -> set[str]:
    return _tables(con) - LOAD_TABLES - {t for t in _tables(con) if t.startswith(("vs_", "cfg_", "med_drug",
                                                                                    "med_ingredient"))}


def test_unchanged_rerun_is_skipped_and_equals_a_full_rescreen(loaded):
    con, _ = loaded
    first = run_screens(con, AS_OF)
    assert first["skipped"] is False and first["listed"] > 0
    tables = screen_tables(con)
    assert {"screen_hits", "screen_patient", "worklist", "worklist_action", "lab_result", "med_exposure"} <= tables
    full = snapshot(con, tables)

    again = run_screens(con, AS_OF)
    assert again["skipped"] is True and again["unchanged_since"] == first["run_id"]
    assert again["run_id"] == first["run_id"]
    for key in ("as_of", "screened", "listed", "by_priority", "rules", "excluded", "unread_types"):
        assert again[key] == first[key], key
    assert con.execute("SELECT count(*) FROM screen_run").fetchone()[0] == 1  # nothing was redone

    forced = run_screens(con, AS_OF, force=True)
    assert forced["skipped"] is False and forced["run_id"] != first["run_id"]
    assert con.execute("SELECT count(*) FROM screen_run").fetchone()[0] == 2
    rescreened = snapshot(con, tables)
    assert screen_tables(con) == tables
    for t in sorted(tables):
        assert rescreened[t] == full[t], f"{t}: the skipped result differs from a full re-screen"


def test_changed_as_of_config_or_data_forces_a_full_screen(loaded, tmp_path):
    con, src = loaded
    first = run_screens(con, AS_OF)
    next_day = run_screens(con, date(2026, 7, 1))
    assert next_day["skipped"] is False and next_day["as_of"] == "2026-07-01"
    back = run_screens(con, AS_OF)  # the latest run is the next day's: the tables hold its results
    assert back["skipped"] is False and back["run_id"] != first["run_id"]

    cfg = tmp_path / "config"
    cfg.mkdir()
    (cfg / "settings.toml").write_text("[dxa]\nlow_z = -2.1\n", encoding="utf-8")
    changed = run_screens(con, AS_OF, cfg)
    assert changed["skipped"] is False
    assert run_screens(con, AS_OF, cfg)["skipped"] is True  # the same override again: unchanged
    (cfg / "settings.toml").write_text("[dxa]\nlow_z = -2.2\n", encoding="utf-8")
    assert run_screens(con, AS_OF, cfg)["skipped"] is False  # one threshold changed
    assert run_screens(con, AS_OF)["skipped"] is False  # back to the shipped config: its own digest

    assert run_screens(con, AS_OF)["skipped"] is True
    pid = con.execute("SELECT id FROM patient ORDER BY id LIMIT 1").fetchone()[0]
    write_ndjson(src / "extra.ndjson", [{
        "resourceType": "Observation", "id": "skip-new-obs", "status": "final",
        "subject": {"reference": f"Patient/{pid}"},
        "code": {"coding": [{"system": "http://loinc.org", "code": "2951-2"}]},
        "effectiveDateTime": "2026-05-01", "valueQuantity": {"value": 140, "unit": "mmol/L"}}])
    load_source(con, src)
    assert run_screens(con, AS_OF)["skipped"] is False  # one new resource: screened in full
    load_source(con, src)  # an identical re-load changes nothing
    assert run_screens(con, AS_OF)["skipped"] is True


def _copy_db(src: Path, dest: Path) -> None:
    """The working database and its dispositions file (`<db>.dispositions.duckdb`), with their WALs."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", ".wal", ".dispositions.duckdb", ".dispositions.duckdb.wal"):
        f = src.with_name(src.name + suffix)
        if f.exists():
            shutil.copy(f, dest.with_name(dest.name + suffix))


def test_export_after_a_skipped_screen_equals_export_after_a_full_one(tmp_path, population):
    from screening.export.dispositions import Disposition, record
    from screening.pipeline import export_step, load_step, run_pipeline, screen_step

    src = tmp_path / "src"
    shutil.copytree(population, src)
    db = tmp_path / "a" / "w.duckdb"
    first = run_pipeline(src, db, tmp_path / "out1", AS_OF)
    assert first["screen"]["skipped"] is False and first["export"]["listed"] > 0
    con = open_database(db, read_only=True)
    try:
        listed = [r[0] for r in con.execute("SELECT patient_id FROM worklist ORDER BY rank LIMIT 2").fetchall()]
    finally:
        con.close()
    record(db, [Disposition(listed[0], "referred", None, recorded_by="cm1")], "cli")  # suppresses the next run
    db2 = tmp_path / "b" / "w.duckdb"
    _copy_db(db, db2)

    second = run_pipeline(src, db, tmp_path / "outA", AS_OF)
    assert second["screen"]["skipped"] is True and second["screen"]["unchanged_since"] == first["screen"]["run_id"]
    # the data stand, but the export decided anew (new -> continuing, the disposition): analytics.patient shows it
    assert second["finish"]["snapshot_published"] is True
    load_step(src, db2)
    assert screen_step(db2, AS_OF, force=True)["skipped"] is False
    export_step(db2, tmp_path / "outB", AS_OF)

    for name in ("worklist.csv", "resolved.csv", "dispositions.csv"):
        assert (tmp_path / "outA" / name).read_bytes() == (tmp_path / "outB" / name).read_bytes(), name
    text = (tmp_path / "outA" / "worklist.csv").read_text(encoding="utf-8")
    assert ",continuing," in text and ",new," not in text
    history = "SELECT * EXCLUDE (run_id) FROM worklist_history ORDER BY ALL"
    a, b = open_database(db, read_only=True), open_database(db2, read_only=True)
    try:
        assert a.execute(history).fetchall() == b.execute(history).fetchall()
        status = "SELECT status, suppressed FROM worklist_history WHERE patient_id = ? ORDER BY run_id"
        assert a.execute(status, [listed[0]]).fetchall()[-1][1] is True  # the disposition still suppresses
    finally:
        a.close()
        b.close()
