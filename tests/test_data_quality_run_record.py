"""Nothing ignored in silence (clinical-rules.md 8): the run record counts what no rule read and who was excluded;
data-quality warnings are kept for every patient, listed or not, in the `data_quality` table and file."""

from __future__ import annotations

import csv
import json
import stat
from datetime import date

import pytest

from tests.conftest import write_ndjson

SCT = "http://snomed.info/sct"


def _pt(pid, **extra):
    return {"resourceType": "Patient", "id": pid, "gender": "female", "birthDate": "1950-01-01", **extra}


def _t(oid, pid, value=-2.8):
    return {"resourceType": "Observation", "id": oid, "status": "final", "subject": {"reference": f"Patient/{pid}"},
            "code": {"coding": [{"system": "http://loinc.org", "code": "38264-8"}]}, "effectiveDateTime": "2026-03-01",
            "valueQuantity": {"value": value, "unit": "{T-score}"}, "note": [{"text": "scanned on the Hologic"}]}


def _ra(cid, pid):
    return {"resourceType": "Condition", "id": cid, "subject": {"reference": f"Patient/{pid}"},
            "code": {"coding": [{"system": SCT, "code": "69896004", "display": "Rheumatoid arthritis"}]},
            "onsetDateTime": "2020-01-01"}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from screening.pipeline import run_pipeline

    tmp = tmp_path_factory.mktemp("dq")
    resources = [
        _pt("listed"), _t("t1", "listed"), _ra("c1", "listed"),
        {"resourceType": "Observation", "id": "t1b", "status": "final", "subject": {"reference": "Patient/listed"},
         "code": {"coding": [{"system": "http://loinc.org", "code": "38267-1"}]}, "effectiveDateTime": "2026-03-01",
         "valueString": "not measured"},
        _pt("unlisted-report"),  # no discrete score, only a DXA report: not listed, but warned
        {"resourceType": "DiagnosticReport", "id": "r2", "status": "final",
         "subject": {"reference": "Patient/unlisted-report"},
         "code": {"coding": [{"system": "http://loinc.org", "code": "38268-9"}]}, "effectiveDateTime": "2026-02-01",
         "presentedForm": [{"contentType": "application/pdf", "data": "JVBERi0xLjQK"}]},
        _pt("dead", deceasedBoolean=True), _t("t3", "dead"), _ra("c3", "dead"),
        _pt("hospice"), _t("t4", "hospice"), _ra("c4", "hospice"),
        {"resourceType": "Encounter", "id": "e4", "status": "finished", "subject": {"reference": "Patient/hospice"},
         "type": [{"coding": [{"system": SCT, "code": "385763009", "display": "Hospice care"}]}],
         "period": {"start": "2026-05-01"}},
        {"resourceType": "Claim", "id": "cl1", "status": "active", "patient": {"reference": "Patient/listed"},
         "billablePeriod": {"start": "2026-03-01"}},
        {"resourceType": "Claim", "id": "cl2", "status": "active", "patient": {"reference": "Patient/dead"}},
    ]
    write_ndjson(tmp / "src" / "data.ndjson", resources)
    out = tmp / "out"
    result = run_pipeline(tmp / "src", tmp / "db.duckdb", out, date(2026, 6, 30))
    from screening.database import open_database

    con = open_database(tmp / "db.duckdb", read_only=True)
    try:
        record = con.execute("SELECT excluded, unread FROM screen_run").fetchone()
        dq = con.execute("SELECT patient_id, rule_id, resource_ref, listed FROM data_quality ORDER BY 1, 2").fetchall()
        wl = dict(con.execute("SELECT patient_id, data_quality_warnings FROM worklist").fetchall())
    finally:
        con.close()
    return {"result": result, "excluded": json.loads(record[0]), "unread": json.loads(record[1]), "dq": dq,
            "worklist": wl, "out": out}


def test_run_record_counts_exclusions(run):
    assert run["excluded"] == {"deceased": 1, "hospice / palliative care": 1}
    assert run["result"]["screen"]["excluded"] == run["excluded"]
    assert set(run["worklist"]) == {"listed"}


def test_run_record_counts_what_no_rule_read(run):
    unread = run["unread"]
    assert unread["Claim"] == {"elements": {"billablePeriod": 1, "patient": 2, "status": 2}, "read_by_rules": False,
                               "resources": 2}
    obs = unread["Observation"]
    assert obs["read_by_rules"] and obs["elements"] == {"note": 3}  # note is on t1, t3, t4; code/value are read
    assert "Patient" not in unread and "Condition" not in unread
    assert run["result"]["screen"]["unread_types"] == ["Claim", "Observation"]  # type names only, no ids


def test_unread_census_reads_stored_element_lists_and_parses_older_rows(run, tmp_path):
    """The load stores each body's top-level element names; a row loaded before that column existed (NULL) is
    parsed instead, with the same counts."""
    import shutil

    import duckdb

    from screening.screens.unread import unread_counts

    db = tmp_path / "copy.duckdb"
    shutil.copy(run["out"].parent / "db.duckdb", db)
    con = duckdb.connect(str(db))
    try:
        stored = con.execute("SELECT count(*) FILTER (WHERE elements = json_keys(body)), count(*) "
                             "FROM resource_raw").fetchone()
        assert stored[0] == stored[1] > 0
        before = unread_counts(con)
        con.execute("UPDATE resource_raw SET elements = NULL WHERE resource_type IN ('Claim', 'Observation') "
                    "AND id IN ('cl1', 't1', 't3')")
        assert con.execute("SELECT count(*) FROM resource_raw WHERE elements IS NULL").fetchone()[0] == 3
        assert unread_counts(con) == before
        assert before["Observation"]["elements"] == {"note": 3}
    finally:
        con.close()


def test_data_quality_kept_for_listed_and_unlisted(run):
    dq = run["dq"]
    assert ("unlisted-report", "dxa_report_unread", "DiagnosticReport/r2", False) in dq
    assert ("listed", "dxa_value_text", "Observation/t1b", True) in dq
    assert "not a number" in run["worklist"]["listed"]


def test_data_quality_file_owner_only_and_complete(run):
    path = run["out"] / "data_quality.csv"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert {(r["patient_id"], r["rule_id"]) for r in rows} == {(p, r) for p, r, _ref, _l in run["dq"]}
    unlisted = next(r for r in rows if r["patient_id"] == "unlisted-report")
    assert unlisted["listed"] == "False" and unlisted["not_listed_reason"] == "no risk marker and no cause"
    assert run["result"]["export"]["data_quality_warnings"] == len(rows)
