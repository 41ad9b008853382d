"""Issue 10 points 3 and 6: the typed tables are maintained for the changed resources only, and an incremental
sequence of loads gives the same typed tables (every column) as a full rebuild and as one fresh full load.

The sequence covers every dependency the incremental path has to follow (screening/load/typed.py): inserts,
replacements, Bulk deletions, a Medication that changes under an unchanged MedicationRequest, a Binary that changes
under an unchanged DiagnosticReport, a Bundle re-delivered under the same path whose urn:uuid now names another
Patient, and Patient.link merges added, chained and removed.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from screening.database import open_database
from screening.load import load_source, rebuild_typed_tables
from screening.load import typed as typed_mod
from tests.conftest import write_ndjson

LOINC = "http://loinc.org"


def patient(pid: str, version: str = "1", link: list | None = None) -> dict:
    p = {"resourceType": "Patient", "id": pid, "meta": {"versionId": version}, "gender": "female",
         "birthDate": "1950-02-03", "name": [{"family": f"F{pid}", "given": ["G"]}],
         "generalPractitioner": [{"reference": "PractitionerRole/role1"}]}
    if link:
        p["link"] = link
    return p


def obs(oid: str, pid: str, value: float, version: str = "1") -> dict:
    return {"resourceType": "Observation", "id": oid, "status": "final", "meta": {"versionId": version},
            "code": {"coding": [{"system": LOINC, "code": "38267-4"}], "text": "T-score"},
            "subject": {"reference": f"Patient/{pid}"}, "effectiveDateTime": "2026-01-05",
            "valueQuantity": {"value": value, "unit": "{T-score}"},
            "component": [{"code": {"coding": [{"system": LOINC, "code": "x"}]}, "valueQuantity": {"value": 1}}]}


def medication(mid: str, text: str, code: str, version: str = "1") -> dict:
    return {"resourceType": "Medication", "id": mid, "meta": {"versionId": version},
            "code": {"text": text, "coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                                               "code": code, "display": text}]}}


def med_request(rid: str, pid: str, med_ref: str) -> dict:
    return {"resourceType": "MedicationRequest", "id": rid, "status": "active", "intent": "order",
            "subject": {"reference": f"Patient/{pid}"}, "medicationReference": {"reference": med_ref},
            "authoredOn": "2025-03-01",
            "dosageInstruction": [{"text": "once daily", "doseAndRate": [{"doseQuantity": {"value": 5}}]},
                                  {"text": "then twice", "doseAndRate": [{"doseQuantity": {"value": 10}}]}]}


def report(did: str, pid: str, binary: str) -> dict:
    return {"resourceType": "DiagnosticReport", "id": did, "status": "final",
            "code": {"coding": [{"system": LOINC, "code": "38269-7", "display": "DXA BONE DENSITOMETRY"}]},
            "subject": {"reference": f"Patient/{pid}"}, "effectiveDateTime": "2026-01-05",
            "presentedForm": [{"contentType": "text/plain", "url": f"Binary/{binary}"}]}


def binary(bid: str, data: str, version: str = "1") -> dict:
    return {"resourceType": "Binary", "id": bid, "meta": {"versionId": version}, "contentType": "text/plain",
            "data": data}


def bundle(patient_id: str, patient_version: str) -> dict:
    """A transaction Bundle whose urn:uuid:aaa names `patient_id`; the other entries never change."""
    return {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": "urn:uuid:aaa", "resource": patient(patient_id, patient_version),
         "request": {"method": "PUT", "url": f"Patient/{patient_id}"}},
        {"fullUrl": "urn:uuid:bbb", "resource": {
            "resourceType": "Observation", "id": "bo1", "status": "final",
            "code": {"coding": [{"system": LOINC, "code": "38267-4"}]}, "subject": {"reference": "urn:uuid:aaa"},
            "effectiveDateTime": "2026-02-01", "valueQuantity": {"value": -2.7}},
         "request": {"method": "PUT", "url": "Observation/bo1"}},
        {"fullUrl": "urn:uuid:mmm", "resource": medication("bm1", "Prednisone 5 MG", "312617"),
         "request": {"method": "PUT", "url": "Medication/bm1"}},
        {"fullUrl": "urn:uuid:rrr", "resource": {
            "resourceType": "MedicationRequest", "id": "br1", "status": "active", "intent": "order",
            "subject": {"reference": "urn:uuid:aaa"}, "medicationReference": {"reference": "urn:uuid:mmm"},
            "authoredOn": "2025-06-01"},
         "request": {"method": "PUT", "url": "MedicationRequest/br1"}},
    ]}


def write_json(path: Path, doc: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))


def day1(land: Path) -> None:
    d = land / "day1"
    write_ndjson(d / "Patient.ndjson", [patient(f"p{i}") for i in range(6)] + [patient("bp1", "2")])
    write_ndjson(d / "Observation.ndjson", [obs(f"o{i}", f"p{i % 6}", -1.0 - i / 10) for i in range(30)])
    write_ndjson(d / "Medication.ndjson", [medication("m1", "Alendronate 70 MG", "904419")])
    write_ndjson(d / "MedicationRequest.ndjson", [med_request("r1", "p1", "Medication/m1"),
                                                  med_request("r2", "p2", "Medication/m2")])
    write_ndjson(d / "DiagnosticReport.ndjson", [report("dr1", "p3", "b1")])
    write_ndjson(d / "Binary.ndjson", [binary("b1", "VC1zY29yZSAtMi4x")])
    write_ndjson(d / "Condition.ndjson", [{"resourceType": "Condition", "id": "c1", "subject": {"reference":
                  "Patient/p1"}, "code": {"coding": [{"system": "http://snomed.info/sct", "code": "64859006"}]}}])
    write_ndjson(d / "Organization.ndjson", [{"resourceType": "Organization", "id": "org1", "name": "North"}])
    write_ndjson(d / "PractitionerRole.ndjson", [{"resourceType": "PractitionerRole", "id": "role1",
                                                  "organization": {"reference": "Organization/org1"}}])
    # bp1 v1 in the Bundle loses to the NDJSON v2: the Bundle is rewritten on day 6 without it
    write_json(d / "bundle.json", bundle("bp1", "1"))


def day2(land: Path) -> None:  # replacements, new resources, a deletion
    d = land / "day2"
    write_ndjson(d / "Observation.ndjson", [obs("o3", "p3", -3.3, "2"), obs("o40", "p4", -2.0)])
    write_ndjson(d / "deleted" / "del.ndjson", [{"resourceType": "Bundle", "type": "transaction", "entry": [
        {"request": {"method": "DELETE", "url": "Observation/o4"}}]}])


def day3(land: Path) -> None:  # a Medication and a Binary change under unchanged uses and reports; m2 appears
    d = land / "day3"
    write_ndjson(d / "Medication.ndjson", [medication("m1", "Risedronate 35 MG", "115264", "2"),
                                           medication("m2", "Prednisolone 5 MG", "312615")])
    write_ndjson(d / "Binary.ndjson", [binary("b1", "VC1zY29yZSAtMy4wIFNE", "2")])


def day4(land: Path) -> None:  # merges: p1 replaced by p0, p0 replaced by p5 (a chain)
    d = land / "day4"
    write_ndjson(d / "Patient.ndjson", [
        patient("p1", "2", [{"type": "replaced-by", "other": {"reference": "Patient/p0"}}]),
        patient("p0", "2", [{"type": "replaced-by", "other": {"reference": "Patient/p5"}}])])


def day5(land: Path) -> None:  # the chain's middle link is removed; p2 is merged by the target's `replaces`
    d = land / "day5"
    write_ndjson(d / "Patient.ndjson", [
        patient("p0", "3"),
        patient("p3", "2", [{"type": "replaces", "other": {"reference": "Patient/p2"}}])])
    write_ndjson(d / "Observation.ndjson", [obs("o50", "p1", -2.5)])


def day6(land: Path) -> None:  # the Bundle file re-delivered: urn:uuid:aaa is now bp2; its other entries are unchanged
    write_json(land / "day1" / "bundle.json", bundle("bp2", "1"))


DAYS = [day1, day2, day3, day4, day5, day6]


def typed_content(con) -> dict:
    out = {}
    for t in typed_mod.TYPED_TABLES:
        cols = [r[0] for r in con.execute(f"DESCRIBE {t}").fetchall()]
        out[t] = (cols, con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall())
    return out


def full_rebuild_content(con) -> dict:
    """The typed tables a full rebuild derives from this database's resource_raw (then rolled back)."""
    con.execute("BEGIN TRANSACTION")
    try:
        rebuild_typed_tables(con)
        return typed_content(con)
    finally:
        con.execute("ROLLBACK")


def test_incremental_sequence_equals_full_rebuild_and_one_full_load(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(typed_mod, "FULL_REBUILD_SHARE", 1.0)  # small data: keep every later load incremental
    land = tmp_path / "landing"
    con = open_database(tmp_path / "inc.duckdb")
    modes = []
    with caplog.at_level(logging.INFO, logger="screening.load.loader"):
        for n, day in enumerate(DAYS):
            day(land)
            caplog.clear()
            r = load_source(con, land)
            assert r.quarantined == 0, n
            modes.append([m.getMessage().rsplit(" ", 1)[-1] for m in caplog.records
                          if "typed tables" in m.getMessage()])
            assert typed_content(con) == full_rebuild_content(con), f"after day {n + 1}"
    assert modes == [["full"]] + [["incremental"]] * (len(DAYS) - 1)

    def one(sql: str):
        return con.execute(sql).fetchall()

    # each dependency was exercised: the assertions above proved the maintained rows right
    assert one("SELECT medication_text FROM medication_use WHERE id = 'r1'") == [("Risedronate 35 MG",)]
    assert one("SELECT medication_text FROM medication_use WHERE id = 'r2'") == [("Prednisolone 5 MG",)]
    assert one("SELECT count(*) FROM medication_use_coding WHERE use_id = 'r1' AND via = 'reference' "
               "AND code = '115264'") == [(1,)]
    assert one("SELECT data_chars FROM report_text_source WHERE report_ref = 'DiagnosticReport/dr1'") == [(20,)]
    assert one("SELECT patient_id FROM observation WHERE id = 'bo1'") == [("bp2",)]
    assert one("SELECT patient_id FROM medication_use WHERE id = 'br1'") == [("bp2",)]
    assert one("SELECT count(*) FROM observation WHERE id = 'o4'") == [(0,)]
    # p1 -> p0 stays, p0 -> p5 was removed (its rows went back from p5 to p0), p2 -> p3 by `replaces`
    assert one("SELECT DISTINCT patient_id FROM observation WHERE id IN ('o1', 'o7', 'o50')") == [("p0",)]
    assert one("SELECT DISTINCT patient_id FROM observation WHERE id IN ('o0', 'o6')") == [("p0",)]
    assert one("SELECT DISTINCT patient_id FROM observation WHERE id IN ('o2', 'o8')") == [("p3",)]
    assert one("SELECT patient_id FROM medication_use WHERE id = 'r1'") == [("p0",)]
    inc = typed_content(con)
    con.close()

    fresh = open_database(tmp_path / "full.duckdb")
    load_source(fresh, land)
    assert typed_content(fresh) == inc
    fresh.close()


@pytest.mark.parametrize("share, expected", [(1.0, "incremental"), (0.0, "full")])
def test_share_of_changes_picks_the_path(tmp_path, monkeypatch, caplog, share, expected):
    monkeypatch.setattr(typed_mod, "FULL_REBUILD_SHARE", share)
    con = open_database(tmp_path / "o.duckdb")
    write_ndjson(tmp_path / "a" / "Observation.ndjson", [obs(f"o{i}", "p1", -1.0) for i in range(10)])
    load_source(con, tmp_path / "a")
    write_ndjson(tmp_path / "b" / "Observation.ndjson", [obs("o1", "p1", -4.0, "2")])
    with caplog.at_level(logging.INFO, logger="screening.load.loader"):
        load_source(con, tmp_path / "b")
    assert any(m.getMessage().endswith(f"typed tables {expected}") for m in caplog.records)
    assert con.execute("SELECT value_num FROM observation WHERE id = 'o1'").fetchall() == [(-4.0,)]
    assert con.execute("SELECT count(*) FROM observation").fetchone() == (10,)
    con.close()


def test_typed_sql_change_rebuilds_in_full(tmp_path, monkeypatch, caplog):
    con = open_database(tmp_path / "o.duckdb")
    write_ndjson(tmp_path / "a" / "Observation.ndjson", [obs("o1", "p1", -1.0)])
    load_source(con, tmp_path / "a")
    con.execute("UPDATE typed_state SET digest = 'an older version of sql/load'")
    write_ndjson(tmp_path / "b" / "Observation.ndjson", [obs("o2", "p1", -1.0)])
    with caplog.at_level(logging.INFO, logger="screening.load.loader"):
        load_source(con, tmp_path / "b")
    assert any(m.getMessage().endswith("typed tables full") for m in caplog.records)
    assert con.execute("SELECT id FROM observation ORDER BY id").fetchall() == [("o1",), ("o2",)]
    con.close()
