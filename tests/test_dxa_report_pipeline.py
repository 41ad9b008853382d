"""DXA report text through the real loader and screens: finding reports, Binary resolution, the facts table,
discrete-wins, the record-size limit, and the data-quality warnings."""

from __future__ import annotations

import base64
from datetime import date
from pathlib import Path

import pytest

from tests.conftest import write_ndjson

AS_OF = date(2026, 6, 30)


def b64(s: str) -> str:
    return base64.b64encode(s.encode()).decode()


def patient(pid: str) -> dict:
    return {"resourceType": "Patient", "id": pid, "gender": "female", "birthDate": "1955-01-01"}


def dr(rid: str, pid: str, **kw) -> dict:
    return {"resourceType": "DiagnosticReport", "id": rid, "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "38268-9"}]},
            "subject": {"reference": f"Patient/{pid}"}, "effectiveDateTime": "2026-03-01", **kw}


RESOURCES = [
    patient("p1"), patient("p2"), patient("p3"), patient("p4"), patient("p5"), patient("p6"), patient("p7"),
    # p1: conclusion and the same text as presentedForm: one score, not two
    dr("r1", "p1", conclusion="Femoral neck T-score -2.7.",
       presentedForm=[{"contentType": "text/plain", "data": b64("Femoral neck T-score -2.7.")}]),
    # p2: DocumentReference whose attachment url is a full URL to a Binary of the same load
    {"resourceType": "DocumentReference", "id": "d2", "status": "current", "type": {"text": "DEXA scan report"},
     "subject": {"reference": "Patient/p2"}, "date": "2026-02-02T08:00:00Z",
     "content": [{"attachment": {"contentType": "text/plain", "url": "https://ehr.example/fhir/Binary/b2"}}]},
    {"resourceType": "Binary", "id": "b2", "contentType": "text/plain",
     "data": b64("Scan date: 2026-01-15\nLumbar spine L1-L4 Z-score -2.4")},
    # p3: attachment url that is not in the load -> warned
    {"resourceType": "DocumentReference", "id": "d3", "status": "current", "type": {"text": "DXA report"},
     "subject": {"reference": "Patient/p3"}, "date": "2026-02-02",
     "content": [{"attachment": {"contentType": "text/plain", "url": "Binary/missing"}}]},
    # p4: discrete right femur T -2.0 on the same date wins over the text's left femoral neck -2.9
    dr("r4", "p4", conclusion="Left femoral neck T-score -2.9."),
    {"resourceType": "Observation", "id": "o4", "status": "final",
     "code": {"coding": [{"system": "http://loinc.org", "code": "80947-5"}]}, "subject": {"reference": "Patient/p4"},
     "effectiveDateTime": "2026-03-01", "valueQuantity": {"value": -2.0, "unit": "{T-score}"}},
    # p5: uncoded, untitled report recognised by its text; an uncoded non-DXA note is ignored
    {"resourceType": "DocumentReference", "id": "d5", "status": "current", "subject": {"reference": "Patient/p5"},
     "context": {"period": {"start": "2026-04-04"}},
     "content": [{"attachment": {"contentType": "text/plain",
                                 "data": b64("DEXA bone densitometry. Total hip T-score -2.6.")}}]},
    {"resourceType": "DocumentReference", "id": "d5b", "status": "current", "subject": {"reference": "Patient/p5"},
     "content": [{"attachment": {"contentType": "text/plain", "data": b64("Knee pain. T-score unknown.")}}]},
    # p6: numbers without a site -> unattributed warning, no score
    dr("r6", "p6", conclusion="IMPRESSION: osteopenia. T-score -1.9."),
    # p7: superseded by entered-in-error status: ignored entirely
    dr("r7", "p7", conclusion="Femoral neck T-score -3.3.", status="entered-in-error"),
    # p8: attachment data that is not base64: its own warning, nobody else affected
    patient("p8"),
    dr("r8", "p8", presentedForm=[{"contentType": "text/plain", "data": "%%% not base64 %%%"}]),
]


def _run(tmp: Path, config: dict | None = None) -> dict:
    from screening.db import connect
    from screening.load import load_source
    from screening.screens import run_screens

    write_ndjson(tmp / "src" / "data.ndjson", RESOURCES)
    cfg = None
    if config:
        cfg = tmp / "config"
        cfg.mkdir()
        (cfg / "settings.toml").write_text(config["settings"])
    con = connect(tmp / "db.duckdb")
    try:
        load_source(con, tmp / "src")
        run_screens(con, AS_OF, cfg)
        q = lambda sql: con.execute(sql).fetchall()  # noqa: E731
        return {
            "dxa": q("SELECT patient_id, score_type, site, value, eff_date, source, report_ref, quote, site_text "
                     "FROM dxa_result ORDER BY ALL"),
            "dq": q("SELECT patient_id, rule_id, resource_ref, detail FROM screen_hits "
                    "WHERE kind = 'data_quality' AND rule_id LIKE 'dxa_report%' ORDER BY ALL"),
            "reports": q("SELECT report_ref FROM dxa_text_report ORDER BY 1"),
            "quarantine": q("SELECT resource_id, reason FROM quarantine"),
            "quote": con.execute("SELECT dxa_quote(?)", ['Left femoral neck T-score -2.7; "osteoporosis"']
                                 ).fetchone()[0],
        }
    finally:
        con.close()


@pytest.fixture(scope="module")
def res(tmp_path_factory):
    return _run(tmp_path_factory.mktemp("dxarep"))


def test_reports_found_by_code_title_and_text(res):
    refs = [r[0] for r in res["reports"]]
    assert refs == ["DiagnosticReport/r1", "DiagnosticReport/r4", "DiagnosticReport/r6", "DiagnosticReport/r8",
                    "DocumentReference/d2",
                    "DocumentReference/d3", "DocumentReference/d5"]
    assert res["quarantine"] == []


def test_scores_enter_the_facts_table_with_reference_and_quote(res):
    text_rows = [r for r in res["dxa"] if r[5] == "report text"]
    assert text_rows == [
        ("p1", "T", "femur", -2.7, date(2026, 3, 1), "report text", "DiagnosticReport/r1",
         "Femoral neck T-score -2.7.", "femoral neck"),
        ("p2", "Z", "lumbar_spine", -2.4, date(2026, 1, 15), "report text", "DocumentReference/d2",
         "Lumbar spine L1-L4 Z-score -2.4", "lumbar spine L1-L4"),
        ("p5", "T", "total_hip", -2.6, date(2026, 4, 4), "report text", "DocumentReference/d5",
         "Total hip T-score -2.6.", "total hip"),
    ]


def test_discrete_observation_wins_laterality_ignored(res):
    p4 = [r for r in res["dxa"] if r[0] == "p4"]
    assert [(r[3], r[5]) for r in p4] == [(-2.0, "observation")]


def test_warnings_unread_and_unattributed(res):
    dq = {(r[0], r[1], r[2]) for r in res["dq"]}
    assert dq == {("p3", "dxa_report_unread", "DocumentReference/d3"),
                  ("p6", "dxa_report_unattributed", "DiagnosticReport/r6"),
                  ("p8", "dxa_report_unread", "DiagnosticReport/r8")}
    (detail,) = [r[3] for r in res["dq"] if r[0] == "p3"]
    assert "attachment not in the load" in detail
    (detail,) = [r[3] for r in res["dq"] if r[0] == "p8"]
    assert detail == "DXA report (2026-03-01) could not be read (attachment data not base64): not screened"


def test_record_size_limit_from_settings(tmp_path):
    """With a 0 MiB limit no attachment is read: the base64 reports warn instead of scoring; conclusions still
    read (they are part of the resource, which the loader's own limit governs)."""
    out = _run(tmp_path, {"settings": "[load]\nrecord_size_limit_mib = 0\n"})
    text_rows = {(r[0], r[6]) for r in out["dxa"] if r[5] == "report text"}
    assert text_rows == {("p1", "DiagnosticReport/r1")}
    dq = {(r[0], r[1]) for r in out["dq"]}
    assert ("p2", "dxa_report_unread") in dq
    (detail,) = [r[3] for r in out["dq"] if r[0] == "p2"]
    assert "record-size limit" in detail


def test_quote_is_safe_in_a_list_and_a_spreadsheet(res):
    """The quoted sentence carries no ';' (the evidence list separator) and no double quote of its own."""
    q = res["quote"]
    assert ";" not in q and '"' not in q and q.startswith("Left femoral neck T-score -2.7, 'osteoporosis'")


def test_broken_grammar_is_a_config_error_before_the_flow(tmp_path):
    """Installed console script: a grammar with a bad pattern exits 5 with one clear line, nothing runs."""
    import subprocess
    import sys

    exe = Path(sys.executable).parent / "osteoscreen"
    write_ndjson(tmp_path / "src" / "a.ndjson", [patient("p1")])
    cfg = tmp_path / "cfg" / "dxa_report"
    cfg.mkdir(parents=True)
    src = (Path(__file__).resolve().parent.parent / "config" / "dxa_report" / "grammar.toml").read_text()
    (cfg / "grammar.toml").write_text(src.replace("'\\bFN\\b'", "'\\bFN(\\b'"))
    p = subprocess.run([str(exe), "run", "--source", str(tmp_path / "src"), "--db", str(tmp_path / "x.duckdb"),
                        "--out", str(tmp_path / "o"), "--as-of", "2026-06-30", "--config", str(tmp_path / "cfg")],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 5, p.stderr[-500:]
    assert "grammar.toml: bad pattern" in p.stderr and "Traceback" not in p.stderr
    assert not (tmp_path / "x.duckdb").exists()
