"""Issue 8 classes 1, 2, 3, 5, 9: hostile files (bounded reading), file names, Bundle conflicts, versions,
deletions that must not come back, foreign database files."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import orjson
import pytest

from screening.load import load_source
from screening.load.files import MIB, Limits
from tests.conftest import write_ndjson

ROOT = Path(__file__).resolve().parents[1]


def obs(oid: str, patient: str = "p1", **over) -> dict:
    d = {"resourceType": "Observation", "id": oid, "status": "final",
         "code": {"coding": [{"system": "http://loinc.org", "code": "38267-4"}]},
         "subject": {"reference": f"Patient/{patient}"}, "effectiveDateTime": "2026-01-05",
         "valueQuantity": {"value": -2.1, "unit": "{Z-score}"}}
    d.update(over)
    return d


def balanced(con, r):
    assert r.records_read == r.loaded + r.quarantined
    (n,) = con.execute("SELECT count(*) FROM quarantine WHERE disposition = 'record' AND load_run_id = ?",
                       [r.run_id]).fetchone()
    assert n == r.quarantined


def _peak_rss_of_load(tmp_path: Path, source: Path) -> tuple[int, str]:
    """Load `source` in a fresh interpreter; its peak RSS (KiB, from the OS) and its printed counts.

    The peak is the child's own VmHWM: ru_maxrss of a process started by (v)fork + exec starts from the parent's
    high-water mark on Linux, so it reported the pytest process's peak (1.1 GiB in a full run), not the load's."""
    script = textwrap.dedent(f"""
        import re, resource, sys
        from screening.database import open_database
        from screening.load import load_source
        con = open_database({str(tmp_path / 'h.duckdb')!r})
        r = load_source(con, {str(source)!r})
        print(r.records_read, r.loaded, r.quarantined, r.blank_lines)
        try:
            print(re.search(r"VmHWM:\\s*(\\d+)", open("/proc/self/status").read()).group(1))
        except OSError:
            print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, check=True)
    counts, rss = out.stdout.strip().splitlines()
    return int(rss), counts


@pytest.mark.slow
def test_gzip_of_newlines_stays_bounded(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    payload = orjson.dumps(obs("a")) + b"\n" * (100 * MIB) + orjson.dumps(obs("b")) + b"\n"
    (src / "Observation.ndjson.gz").write_bytes(gzip.compress(payload, compresslevel=9))
    assert (src / "Observation.ndjson.gz").stat().st_size < 1 * MIB
    rss_kib, counts = _peak_rss_of_load(tmp_path, src)
    read, loaded, quarantined, blank = map(int, counts.split())
    assert (read, loaded, quarantined) == (2, 2, 0) and blank == 100 * MIB - 1
    assert rss_kib < 1024 * 1024, f"peak RSS {rss_kib} KiB"


@pytest.mark.slow
def test_gzip_of_nuls_is_one_oversized_record(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    payload = orjson.dumps(obs("a")) + b"\n" + b"\x00" * (100 * MIB) + b"\n" + orjson.dumps(obs("b")) + b"\n"
    (src / "Observation.ndjson.gz").write_bytes(gzip.compress(payload, compresslevel=9))
    rss_kib, counts = _peak_rss_of_load(tmp_path, src)
    read, loaded, quarantined, _blank = map(int, counts.split())
    assert (read, loaded, quarantined) == (3, 2, 1)
    assert rss_kib < 1024 * 1024, f"peak RSS {rss_kib} KiB"


def test_oversized_line_quarantined_with_clear_reason(con, tmp_path):
    write_ndjson(tmp_path / "Observation.ndjson",
                 [obs("a"), obs("big", code={"text": "x" * 3 * MIB}), obs("b"), b"\x00" * (5 * MIB)])
    r = load_source(con, tmp_path, limits=Limits(record_max_bytes=1 * MIB))
    balanced(con, r)
    assert (r.loaded, r.quarantined) == (2, 2)
    rows = con.execute("SELECT source_line, reason, disposition FROM quarantine ORDER BY source_line").fetchall()
    assert [x[0] for x in rows] == [2, 4]
    assert all("record-size limit of 1 MiB" in x[1] and x[2] == "record" for x in rows)


def test_decompressed_and_json_file_limits(con, tmp_path):
    (tmp_path / "Observation.ndjson.gz").write_bytes(gzip.compress(b"\n".join(
        orjson.dumps(obs(f"o{i}")) for i in range(3000)) + b"\n"))
    (tmp_path / "bundle.json").write_bytes(orjson.dumps(
        {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": obs("x", code={"text": "y" * 4000})}]}))
    write_ndjson(tmp_path / "Patient.ndjson", [{"resourceType": "Patient", "id": "p1"}])
    r = load_source(con, tmp_path, limits=Limits(decompressed_max_bytes=100_000, json_file_max_bytes=1000))
    balanced(con, r)
    assert r.loaded == 1
    reasons = dict(con.execute("SELECT regexp_extract(source_file, '[^/]+$'), reason FROM quarantine").fetchall())
    assert "decompresses past" in reasons["Observation.ndjson.gz"]
    assert "larger than" in reasons["bundle.json"]


def test_record_limit_is_a_shared_setting():
    from screening.settings import load_settings, memory_limit, record_max_bytes

    s = load_settings()
    assert record_max_bytes(s) == 64 * MIB == Limits.from_settings(s.params).record_max_bytes
    assert memory_limit(s) == "2048MiB"


def test_dangling_symlink_and_non_utf8_name_are_reported(con, tmp_path):
    write_ndjson(tmp_path / "Patient.ndjson", [{"resourceType": "Patient", "id": "p1"}])
    (tmp_path / "Observation.ndjson").symlink_to(tmp_path / "gone.ndjson")
    weird = os.fsdecode(b"Observation-\xff\xfe.ndjson")
    write_ndjson(tmp_path / weird, [obs("w1")])
    r = load_source(con, tmp_path)
    balanced(con, r)
    assert r.loaded == 2
    (f, line, reason) = con.execute("SELECT source_file, source_line, reason FROM quarantine").fetchone()
    assert f.endswith("Observation.ndjson") and line is None and "dangling symbolic link" in reason
    (src,) = con.execute("SELECT source_file FROM resource_raw WHERE id = 'w1'").fetchone()
    assert src.endswith("Observation-\\xff\\xfe.ndjson")


def _bundle(entries: list, btype: str = "transaction") -> dict:
    return {"resourceType": "Bundle", "type": btype, "entry": entries}


def test_transaction_delete_and_put_of_one_resource_is_quarantined(con, tmp_path):
    write_ndjson(tmp_path / "Observation.ndjson", [obs("o1")])
    load_source(con, tmp_path)
    b = _bundle([{"request": {"method": "DELETE", "url": "Observation/o1"}},
                 {"resource": obs("o1", valueQuantity={"value": -3.0}), "request": {"method": "PUT",
                                                                                    "url": "Observation/o1"}},
                 {"resource": obs("o2"), "request": {"method": "PUT", "url": "Observation/o2"}}])
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "tx.json").write_bytes(orjson.dumps(b))
    r = load_source(con, tmp_path / "t")
    balanced(con, r)
    assert (r.loaded, r.quarantined, r.deleted) == (1, 2, 0)
    assert con.execute("SELECT id, value_num FROM observation ORDER BY id").fetchall() == [("o1", -2.1), ("o2", -2.1)]
    reasons = [x[0] for x in con.execute("SELECT reason FROM quarantine").fetchall()]
    assert all("both deletes and writes Observation/o1" in x for x in reasons)


def test_duplicate_full_url_quarantines_both_entries(con, tmp_path):
    pat = {"resourceType": "Patient", "id": "p9"}
    b = _bundle([{"fullUrl": "urn:uuid:1", "resource": pat},
                 {"fullUrl": "urn:uuid:2", "resource": obs("o1", subject={"reference": "urn:uuid:1"})},
                 {"fullUrl": "urn:uuid:2", "resource": obs("o2", subject={"reference": "urn:uuid:1"})}], "collection")
    (tmp_path / "b.json").write_bytes(orjson.dumps(b))
    r = load_source(con, tmp_path)
    balanced(con, r)
    assert (r.loaded, r.quarantined) == (1, 2)
    assert {x[0] for x in con.execute("SELECT field FROM quarantine").fetchall()} == {"fullUrl"}


def test_reloading_another_bundle_under_the_same_path_keeps_earlier_links(con, tmp_path):
    def write(pid: str, oid: str, uid: str) -> None:
        (tmp_path / "b.json").write_bytes(orjson.dumps(_bundle([
            {"fullUrl": f"urn:uuid:{uid}p", "resource": {"resourceType": "Patient", "id": pid}},
            {"fullUrl": f"urn:uuid:{uid}o", "resource": obs(oid, subject={"reference": f"urn:uuid:{uid}p"})}],
            "collection")))
    write("pa", "oa", "a")
    load_source(con, tmp_path)
    write("pb", "ob", "b")
    load_source(con, tmp_path)
    assert con.execute("SELECT id, patient_id FROM observation ORDER BY id").fetchall() == [("oa", "pa"), ("ob", "pb")]


def test_absolute_reference_resolves_only_against_the_recorded_base(con, tmp_path):
    write_ndjson(tmp_path / "Observation.ndjson", [
        obs("mine", subject={"reference": "https://ehr.example/fhir/Patient/p1"}),
        obs("theirs", subject={"reference": "https://other.example/fhir/Patient/p1"})])
    (tmp_path / "manifest.json").write_bytes(orjson.dumps(
        {"request": "https://ehr.example/fhir/Patient/$export?_type=Observation", "output": []}))
    r = load_source(con, tmp_path)
    balanced(con, r)
    assert r.loaded == 2
    assert dict(con.execute("SELECT id, patient_id FROM observation").fetchall()) == {"mine": "p1", "theirs": None}
    (field, disp) = con.execute("SELECT field, disposition FROM quarantine").fetchone()
    assert (field, disp) == ("subject.reference", "field")
    assert con.execute("SELECT fhir_base FROM load_run").fetchall() == [("https://ehr.example/fhir",)]


@pytest.mark.parametrize("older,newer", [('W/"3"', 'W/"10"'), ("9", "10"), ("18446744073709551616",
                                         "99999999999999999999999"), ('W/"2"', "3"), ("007", "8")])
def test_version_ids_compare_as_numbers(con, tmp_path, older, newer):
    write_ndjson(tmp_path / "a" / "Observation.ndjson", [obs("o1", valueQuantity={"value": -1.0},
                                                             meta={"versionId": newer})])
    write_ndjson(tmp_path / "b" / "Observation.ndjson", [obs("o1", valueQuantity={"value": -3.0},
                                                             meta={"versionId": older})])
    load_source(con, tmp_path / "a")
    r = load_source(con, tmp_path / "b")
    assert r.unchanged == 1
    assert con.execute("SELECT value_num, version_id FROM observation").fetchall() == [(-1.0, newer)]


def test_deleted_resource_never_comes_back_from_an_older_file(con, tmp_path):
    old = obs("o1", meta={"versionId": "1", "lastUpdated": "2026-01-01T00:00:00Z"})
    write_ndjson(tmp_path / "a" / "Observation.ndjson", [old])
    load_source(con, tmp_path / "a")
    write_ndjson(tmp_path / "d" / "deleted" / "Bundle.ndjson", [_bundle(
        [{"request": {"method": "DELETE", "url": "Observation/o1"}}], "transaction")])
    assert load_source(con, tmp_path / "d").deleted == 1
    write_ndjson(tmp_path / "a2" / "Observation.ndjson", [old])  # the older file again, elsewhere
    r = load_source(con, tmp_path / "a2")
    balanced(con, r)
    assert (r.loaded, r.quarantined) == (0, 1)
    assert con.execute("SELECT count(*) FROM observation").fetchone() == (0,)
    (reason,) = con.execute("SELECT reason FROM quarantine").fetchone()
    assert "stays deleted" in reason
    write_ndjson(tmp_path / "a3" / "Observation.ndjson", [obs("o1", meta={"versionId": "2"})])
    assert load_source(con, tmp_path / "a3").inserted == 1  # a newer version re-creates it


def test_sqlite_file_as_db_never_loads_an_extension(tmp_path):
    import sqlite3

    from screening.database import open_database
    from screening.errors import DatabaseError

    db = tmp_path / "x.db"
    sqlite3.connect(db).execute("CREATE TABLE t (a)").connection.commit()
    with pytest.raises(DatabaseError, match="SQLite"):
        open_database(db)
    out = subprocess.run([str(ROOT / ".venv" / "bin" / "osteoscreen"), "query", "--db", str(db), "SELECT 1"],
                         capture_output=True, text=True, env={**os.environ, "HOME": str(tmp_path)})
    assert out.returncode == 4 and "SQLite" in out.stderr
    assert not (tmp_path / ".duckdb").exists()  # no extension folder was created, nothing downloaded


def test_extensions_are_locked_down(con):
    settings = dict(con.execute("SELECT name, value FROM duckdb_settings() WHERE name IN "
                                "('autoinstall_known_extensions', 'autoload_known_extensions', 'memory_limit')"
                                ).fetchall())
    assert settings["autoinstall_known_extensions"] == "false"
    assert settings["autoload_known_extensions"] == "false"
    assert settings["memory_limit"] in ("1.3 GiB", "1.4 GiB")  # 70% of the 2 GiB process budget
