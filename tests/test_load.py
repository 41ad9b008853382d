"""Loader: NDJSON, gzip, Bundles, versions, duplicates, deletions, quarantine; read = loaded + quarantined."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import orjson
import pytest

from screening.load import SourceError, load_source
from tests.conftest import SHARED_DATA, write_ndjson


def patient(pid: str, **extra) -> dict:
    return {"resourceType": "Patient", "id": pid, "gender": "female", "birthDate": "1950-02-03",
            "identifier": [{"type": {"coding": [{"code": "MR"}]}, "value": f"MRN-{pid}"}],
            "name": [{"family": "Doe", "given": ["Ann"]}], **extra}


def obs(oid: str, pid: str = "p1", value: float = -2.1, **extra) -> dict:
    return {"resourceType": "Observation", "id": oid, "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "85394-5"}]},
            "subject": {"reference": f"Patient/{pid}"}, "effectiveDateTime": "2026-01-05",
            "valueQuantity": {"value": value, "unit": "{Z-score}"}, **extra}


def assert_balanced(con, result) -> None:
    assert result.records_read == result.loaded + result.quarantined
    (q,) = con.execute("SELECT count(*) FROM quarantine WHERE load_run_id = ?", [result.run_id]).fetchone()
    assert q == result.quarantined


def test_ndjson_folder_loads_typed_tables(con, tmp_path):
    write_ndjson(tmp_path / "Patient.ndjson", [patient("p1"), patient("p2")])
    write_ndjson(tmp_path / "Observation.ndjson", [obs("o1"), obs("o2", "p2", -1.0)])
    r = load_source(con, tmp_path)
    assert (r.records_read, r.loaded, r.quarantined, r.inserted) == (4, 4, 0, 4)
    assert_balanced(con, r)
    row = con.execute("SELECT id, mrn, family_name, given_name, birth_date::VARCHAR FROM patient WHERE id='p1'")
    assert row.fetchone() == ("p1", "MRN-p1", "Doe", "Ann", "1950-02-03")
    assert con.execute("SELECT patient_id, value_num FROM observation ORDER BY id").fetchall() == [
        ("p1", -2.1), ("p2", -1.0)]
    assert con.execute("SELECT code FROM observation_coding WHERE observation_id='o1'").fetchone() == ("85394-5",)
    src = con.execute("SELECT source_file, source_line FROM resource_raw WHERE id='o2'").fetchone()
    assert src[0].endswith("Observation.ndjson") and src[1] == 2


def test_gzip_ndjson(con, tmp_path):
    with gzip.open(tmp_path / "Observation.ndjson.gz", "wb") as fh:
        fh.write(b"\n".join(orjson.dumps(obs(f"o{i}")) for i in range(50)) + b"\n")
    r = load_source(con, tmp_path)
    assert r.loaded == 50 and r.quarantined == 0


def test_corrupt_gzip_is_quarantined_and_other_files_load(con, tmp_path):
    (tmp_path / "Observation.ndjson.gz").write_bytes(gzip.compress(orjson.dumps(obs("o1")))[:-12] + b"garbage!")
    write_ndjson(tmp_path / "Patient.ndjson", [patient("p1")])
    r = load_source(con, tmp_path)
    assert r.loaded == 1 and r.quarantined == 1
    (reason,) = con.execute("SELECT reason FROM quarantine WHERE source_line IS NULL").fetchone()
    assert reason.startswith("unreadable file")
    assert_balanced(con, r)


def test_reload_is_idempotent(con, tmp_path):
    write_ndjson(tmp_path / "Observation.ndjson", [obs("o1"), obs("o2")])
    r1 = load_source(con, tmp_path)
    r2 = load_source(con, tmp_path)  # same path, size, mtime, content: the file is skipped
    assert (r2.files_skipped, r2.records_read, r2.inserted, r2.replaced, r2.unchanged) == (1, 0, 0, 0, 0)
    f = tmp_path / "Observation.ndjson"
    os.utime(f, ns=(f.stat().st_atime_ns, f.stat().st_mtime_ns + 10**9))  # touched: read again, nothing rewritten
    r3 = load_source(con, tmp_path)
    assert (r3.files_skipped, r3.inserted, r3.replaced, r3.unchanged) == (0, 0, 0, 2)
    assert con.execute("SELECT DISTINCT load_run_id FROM resource_raw").fetchall() == [(r1.run_id,)]
    assert con.execute("SELECT count(*) FROM observation").fetchone() == (2,)
    assert con.execute("SELECT count(*) FROM resource_raw").fetchone() == (2,)


def test_newer_version_replaces_older_whatever_the_load_order(con, tmp_path):
    v2 = obs("o1", value=-2.6, meta={"versionId": "2", "lastUpdated": "2026-02-01T00:00:00Z"})
    v1 = obs("o1", value=-1.0, meta={"versionId": "1", "lastUpdated": "2026-03-01T00:00:00Z"})
    write_ndjson(tmp_path / "a" / "Observation.ndjson", [v2])
    write_ndjson(tmp_path / "b" / "Observation.ndjson", [v1])
    load_source(con, tmp_path / "a")
    r = load_source(con, tmp_path / "b")  # older versionId loaded later: kept out
    assert r.unchanged == 1
    assert con.execute("SELECT value_num FROM observation").fetchall() == [(-2.6,)]


def test_last_updated_then_load_order_break_ties(con, tmp_path):
    # 01:30+02:00 is 23:30Z: later than 23:00Z although its written date is the next day.
    newer = obs("o1", value=-3.0, meta={"lastUpdated": "2026-05-01T01:30:00+02:00"})
    older = obs("o1", value=-1.0, meta={"lastUpdated": "2026-04-30T23:00:00Z"})
    trap = obs("o1", value=-1.5, meta={"lastUpdated": "2026-05-01T00:30:00+02:00"})  # 22:30Z: older
    write_ndjson(tmp_path / "Observation.ndjson", [newer, older, trap])
    load_source(con, tmp_path)
    assert con.execute("SELECT value_num FROM observation").fetchall() == [(-3.0,)]
    # No version information at all: the last one loaded wins.
    write_ndjson(tmp_path / "x" / "Observation.ndjson", [obs("o9", value=-1.0), obs("o9", value=-2.0)])
    load_source(con, tmp_path / "x")
    assert con.execute("SELECT value_num FROM observation WHERE id='o9'").fetchall() == [(-2.0,)]


def test_malformed_lines_quarantined_with_file_line_field(con, tmp_path):
    lines = [
        orjson.dumps(patient("p1")),
        b'{"resourceType": "Patient", "id": "p2"',  # truncated
        b"",  # blank: not a record
        b"\xff\xfe not utf-8",
        b"[1, 2]",
        b'{"id": "x"}',
        orjson.dumps(obs("o1", effectiveDateTime="2023-02-30")),
        orjson.dumps({k: v for k, v in obs("o2").items() if k != "subject"}),
        orjson.dumps(obs("o3", valueQuantity={"value": "-2.1"})),
        orjson.dumps(obs("o4", status="done")),
        b"\xef\xbb\xbf" + orjson.dumps(patient("p3")) + b"\r",  # BOM and CRLF: fine
    ]
    write_ndjson(tmp_path / "Patient.ndjson", lines[:6] + [lines[10]])
    write_ndjson(tmp_path / "Observation.ndjson", lines[6:10])
    r = load_source(con, tmp_path)
    assert r.blank_lines == 1
    assert (r.loaded, r.quarantined) == (2, 8)
    assert_balanced(con, r)
    q = {(Path(f).name, line): (field, reason) for f, line, field, reason in con.execute(
        "SELECT source_file, source_line, field, reason FROM quarantine").fetchall()}
    assert q[("Patient.ndjson", 2)][1].startswith("invalid JSON:")
    assert q[("Patient.ndjson", 4)][1].startswith("invalid UTF-8")
    assert q[("Patient.ndjson", 5)][1].startswith("not a JSON object")
    assert q[("Patient.ndjson", 6)][0] == "resourceType"
    assert q[("Observation.ndjson", 1)] == ("effectiveDateTime", "effectiveDateTime: invalid date '2023-02-30'")
    assert q[("Observation.ndjson", 2)][0] == "subject"
    assert q[("Observation.ndjson", 3)][0] == "valueQuantity.value"
    assert q[("Observation.ndjson", 4)][0] == "status"
    assert sorted(con.execute("SELECT id FROM patient").fetchall()) == [("p1",), ("p3",)]


def test_transaction_bundle_with_urn_uuid_references(con, tmp_path):
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": "urn:uuid:aaa", "resource": {k: v for k, v in patient("aaa").items()},
         "request": {"method": "POST", "url": "Patient"}},
        {"fullUrl": "urn:uuid:bbb", "resource": {**obs("bbb"), "subject": {"reference": "urn:uuid:aaa"}},
         "request": {"method": "POST", "url": "Observation"}},
        {"fullUrl": "urn:uuid:ccc", "resource": {**obs("ccc"), "subject": {"reference": "urn:uuid:nowhere"}}},
    ]}
    (tmp_path / "bundle.json").write_bytes(orjson.dumps(bundle))
    r = load_source(con, tmp_path)
    assert (r.loaded, r.quarantined) == (2, 1)
    assert con.execute("SELECT patient_id FROM observation").fetchall() == [("aaa",)]
    (entry, reason) = con.execute("SELECT source_entry, reason FROM quarantine").fetchone()
    assert entry == 2 and "resolves to no entry" in reason


def test_bulk_deleted_entries_remove_records(con, tmp_path):
    write_ndjson(tmp_path / "Observation.ndjson", [obs("o1"), obs("o2")])
    load_source(con, tmp_path)
    export2 = tmp_path / "second"
    write_ndjson(export2 / "deleted" / "del.ndjson", [{"resourceType": "Bundle", "type": "transaction", "entry": [
        {"request": {"method": "DELETE", "url": "Observation/o1"}}]}])
    r = load_source(con, export2)
    assert r.deleted == 1 and r.loaded == 1
    assert con.execute("SELECT id FROM observation").fetchall() == [("o2",)]


def test_missing_and_empty_sources_raise_clear_errors(con, tmp_path):
    with pytest.raises(SourceError, match="no such file"):
        load_source(con, tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("hello")
    with pytest.raises(SourceError, match="no FHIR files"):
        load_source(con, tmp_path / "empty")


def test_failed_load_leaves_database_unchanged(con, tmp_path, monkeypatch):
    write_ndjson(tmp_path / "a" / "Observation.ndjson", [obs("o1")])
    load_source(con, tmp_path / "a")
    write_ndjson(tmp_path / "b" / "Observation.ndjson", [obs("o2")])
    import screening.load.loader as loader

    def boom(_con, **_kw):
        raise RuntimeError("disk full")

    monkeypatch.setattr(loader, "maintain_typed_tables", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        load_source(con, tmp_path / "b")
    assert con.execute("SELECT id FROM resource_raw").fetchall() == [("o1",)]
    assert con.execute("SELECT count(*) FROM load_run").fetchone() == (1,)


def test_checkpoint_threshold_is_raised_only_while_staging(con, tmp_path, monkeypatch):
    """Phase 1 raises DuckDB's auto-checkpoint threshold (temp-catalog checkpoints cost half of `_checked_line`);
    the working database's own threshold is back before the publish, and after a staging failure too."""
    import screening.load.loader as loader

    def setting() -> str:
        return con.execute("SELECT current_setting('checkpoint_threshold')").fetchall()[0][0]

    default = setting()
    seen = []
    real_batches = loader._Batches.flush

    def spy(self):
        seen.append(setting())
        real_batches(self)

    monkeypatch.setattr(loader._Batches, "flush", spy)
    write_ndjson(tmp_path / "a" / "Observation.ndjson", [obs("o1")])
    load_source(con, tmp_path / "a")
    assert seen and all(s != default for s in seen)
    assert setting() == default

    def boom(self):
        raise RuntimeError("disk full")

    monkeypatch.setattr(loader._Batches, "flush", boom)
    write_ndjson(tmp_path / "b" / "Observation.ndjson", [obs("o2")])
    with pytest.raises(RuntimeError, match="disk full"):
        load_source(con, tmp_path / "b")
    assert setting() == default


def test_batch_size_follows_the_budget_and_batches_change_nothing(tmp_path, monkeypatch):
    """A batch is BATCH_BYTES_MAX (192 MiB) under the default budget and a sixth of DuckDB's share under a small
    one, and JSON files (Bundles) flush at JSON_BATCH_BYTES; cutting the same input into one batch per file block
    gives the same resources and quarantine."""
    import screening.load.loader as loader
    from screening.database import open_database
    from screening.db import duckdb_connect

    mib = 1024 * 1024
    assert loader.batch_bytes(duckdb_connect(":memory:", memory_limit="2GiB")) == 192 * mib
    assert loader.batch_bytes(duckdb_connect(":memory:", memory_limit="512MiB")) == 358 * mib // 6
    assert loader.batch_bytes(duckdb_connect(":memory:", memory_limit="64MiB")) == 16 * mib

    src = tmp_path / "in"
    write_ndjson(src / "Patient.ndjson", [patient("p1"), patient("p2"), {"resourceType": "Patient"}])
    write_ndjson(src / "Observation.ndjson", [obs("o1"), obs("o2", "p2", meta={"versionId": "1"}), "{not json"])
    write_ndjson(src / "Observation.002.ndjson", [obs("o2", "p2", -2.9, meta={"versionId": "2"}), obs("o3"),
                                                  obs("o4", status="unknown-status")])
    (src / "b.json").write_bytes(orjson.dumps({"resourceType": "Bundle", "type": "collection", "entry": [
        {"fullUrl": "urn:uuid:aaaa", "resource": patient("p3")},
        {"resource": obs("o5", "p3")}, {"resource": {"resourceType": "Observation", "id": "o6"}}]}))

    def snapshot(path: Path, batch: int | None, json_batch: int | None = None) -> tuple:
        flushes = []
        real = loader._Batches.flush

        def counted(self):
            flushes.append(1)
            real(self)

        with monkeypatch.context() as m:
            m.setattr(loader._Batches, "flush", counted)
            if batch is not None:
                m.setattr(loader, "batch_bytes", lambda con: batch)
            if json_batch is not None:
                m.setattr(loader, "JSON_BATCH_BYTES", json_batch)
            c = open_database(path)
            r = load_source(c, src)
        assert_balanced(c, r)
        rows = c.execute("SELECT resource_type, id, version_id, body FROM resource_raw ORDER BY ALL").fetchall()
        q = c.execute("SELECT source_file, source_line, source_entry, field, reason FROM quarantine "
                      "ORDER BY ALL").fetchall()
        c.close()
        return len(flushes), (r.records_read, r.loaded, r.quarantined), rows, q

    one = snapshot(tmp_path / "one.duckdb", None)
    many = snapshot(tmp_path / "many.duckdb", 1)
    bundle = snapshot(tmp_path / "bundle.duckdb", None, json_batch=1)
    assert one[0] == 1 and many[0] >= 4  # one batch for everything; a batch per file block
    assert bundle[0] == 2 and bundle[1:] == one[1:]  # b.json (last in file order) flushes on its own
    assert one[1] == many[1] and one[1][2] >= 3
    assert one[2] == many[2] and len(one[2]) >= 6
    assert one[3] == many[3]


@pytest.mark.skipif(not (SHARED_DATA / "synthea-r4-bundles").exists(), reason="shared Synthea data not present")
def test_real_synthea_bundles_load_completely(con):
    r = load_source(con, SHARED_DATA / "synthea-r4-bundles")
    assert r.files == 103 and r.quarantined == 0 and r.loaded == r.records_read > 38000
    # Every Observation's urn:uuid subject resolved to a Patient that exists.
    (dangling,) = con.execute("""SELECT count(*) FROM observation o ANTI JOIN patient p ON p.id = o.patient_id""") \
        .fetchone()
    assert dangling == 0
    (tscores,) = con.execute("SELECT count(*) FROM observation_coding WHERE code = '38265-5'").fetchone()
    assert tscores > 0


def test_a_load_imports_no_pandas(tmp_path):
    """pa.array / pa.scalar import pandas on first use (0.16-0.25 s of every load's start-up, most of a small
    delta load's fixed cost); the loader builds its Arrow columns from buffers. Run in a fresh interpreter over
    every reader path: whole blocks, blank lines and a short bad line (the take path), a Bundle, gzip."""
    import subprocess
    import sys

    src = tmp_path / "in"
    write_ndjson(src / "Patient.ndjson", [patient("p1"), patient("p2")])
    (src / "Observation.ndjson").write_bytes(orjson.dumps(obs("o1")) + b"\n\n \n" + orjson.dumps(obs("o2")) + b"\nx\n")
    with gzip.open(src / "Condition.ndjson.gz", "wb") as fh:
        fh.write(orjson.dumps({"resourceType": "Condition", "id": "c1", "subject": {"reference": "Patient/p1"}}))
    (src / "b.json").write_bytes(orjson.dumps({"resourceType": "Bundle", "type": "collection",
                                               "entry": [{"resource": patient("p3")}]}))
    code = ("import sys\nfrom pathlib import Path\nfrom screening.database import open_database\n"
            "from screening.load import load_source\n"
            "con = open_database(Path(sys.argv[2]))\nr = load_source(con, Path(sys.argv[1]))\n"
            "print(r.records_read, r.loaded, r.quarantined, 'pandas' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code, str(src), str(tmp_path / "o.duckdb")], capture_output=True,
                         text=True, cwd=Path(__file__).resolve().parents[1], check=True)
    assert out.stdout.split() == ["7", "6", "1", "False"]
