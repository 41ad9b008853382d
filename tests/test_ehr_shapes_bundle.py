"""Section 8 shapes inside a Synthea-style transaction Bundle (urn:uuid references, SNOMED conditions, a DXA panel
with components, a resolved celiac history, a hospice encounter, a merged patient)."""

from __future__ import annotations

import json
from datetime import date

SCT = "http://snomed.info/sct"
LOINC = "http://loinc.org"


def _entry(uuid: str, resource: dict) -> dict:
    return {"fullUrl": f"urn:uuid:{uuid}", "resource": resource,
            "request": {"method": "POST", "url": resource["resourceType"]}}


def _bundle() -> dict:
    p1, p2, p3 = "1b0c7d3e-0000-4000-8000-000000000001", "1b0c7d3e-0000-4000-8000-000000000002", \
        "1b0c7d3e-0000-4000-8000-000000000003"
    entries = [
        _entry(p1, {"resourceType": "Patient", "id": p1, "gender": "female", "birthDate": "1952-04-02",
                    "name": [{"use": "official", "family": "Kub", "given": ["Ana"]}]}),
        _entry("c-1", {"resourceType": "Condition", "id": "c-1", "subject": {"reference": f"urn:uuid:{p1}"},
                       "clinicalStatus": {"coding": [{"code": "resolved"}]},
                       "code": {"coding": [{"system": SCT, "code": "396331005", "display": "Celiac disease"}],
                                "text": "Celiac disease"}, "onsetDateTime": "2001-03-04T10:00:00-05:00"}),
        _entry("o-1", {"resourceType": "Observation", "id": "o-1", "status": "final",
                       "subject": {"reference": f"urn:uuid:{p1}"}, "effectiveDateTime": "2026-01-15T09:30:00-05:00",
                       "code": {"coding": [{"system": LOINC, "code": "83311-1",
                                            "display": "DXA Bone density quantitative measurement panel"}]},
                       "component": [
                           {"code": {"coding": [{"system": LOINC, "code": "38263-0"}], "text": "Femur T-score"},
                            "valueString": "−2.9"},
                           {"code": {"coding": [{"system": LOINC, "code": "38267-1"}]},
                            "valueQuantity": {"value": -1.4, "unit": "{T-score}"}}]}),
        _entry(p2, {"resourceType": "Patient", "id": p2, "gender": "female", "birthDate": "1940-01-01"}),
        _entry("o-2", {"resourceType": "Observation", "id": "o-2", "status": "final",
                       "subject": {"reference": f"urn:uuid:{p2}"}, "effectiveDateTime": "2026-01-15",
                       "code": {"coding": [{"system": LOINC, "code": "38264-8"}]},
                       "valueQuantity": {"value": -3.1, "unit": "{T-score}"}}),
        _entry("c-2", {"resourceType": "Condition", "id": "c-2", "subject": {"reference": f"urn:uuid:{p2}"},
                       "code": {"coding": [{"system": SCT, "code": "69896004", "display": "Rheumatoid arthritis"}]},
                       "onsetDateTime": "2010-01-01"}),
        _entry("e-2", {"resourceType": "Encounter", "id": "e-2", "status": "finished",
                       "subject": {"reference": f"urn:uuid:{p2}"}, "period": {"start": "2026-05-20T08:00:00Z"},
                       "type": [{"coding": [{"system": SCT, "code": "385763009", "display": "Hospice care"}]}]}),
        _entry(p3, {"resourceType": "Patient", "id": p3, "gender": "female", "birthDate": "1952-04-02",
                    "link": [{"other": {"reference": f"Patient/{p1}"}, "type": "replaced-by"}]}),
        _entry("c-3", {"resourceType": "Condition", "id": "c-3", "subject": {"reference": f"urn:uuid:{p3}"},
                       "code": {"coding": [{"system": SCT, "code": "1073731000119100",
                                            "display": "Rheumatoid arthritis of left knee"}]},
                       "onsetDateTime": "2015-01-01"}),
    ]
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def test_synthea_style_bundle(tmp_path):
    from screening.database import open_database
    from screening.pipeline import run_pipeline

    src = tmp_path / "synthea"
    src.mkdir()
    (src / "Kub_Ana.json").write_text(json.dumps(_bundle(), ensure_ascii=False), encoding="utf-8")
    run_pipeline(src, tmp_path / "db.duckdb", tmp_path / "out", date(2026, 6, 30))
    con = open_database(tmp_path / "db.duckdb", read_only=True)
    try:
        rows = con.execute("SELECT patient_id, priority, risk_markers, causes, evidence, evidence_ids FROM worklist"
                           ).fetchall()
        reasons = dict(con.execute("SELECT patient_id, not_listed_reason FROM screen_patient").fetchall())
    finally:
        con.close()
    assert len(rows) == 1
    pid, priority, markers, causes, evidence, ids = rows[0]
    assert pid.endswith("0001") and priority == "high" and markers == "osteoporosis_t_score"
    assert causes == "inflammatory_disease;malabsorption"  # RA of the merged record + resolved celiac history
    assert "T-score femur -2.9 (2026-01-15)" in evidence
    assert "Celiac disease (2001-03-04) (history, resolved)" in evidence
    assert "Condition/c-3" in ids and "Observation/o-1" in ids
    assert reasons["1b0c7d3e-0000-4000-8000-000000000002"] == "hospice / palliative care"
    assert "1b0c7d3e-0000-4000-8000-000000000003" not in reasons  # the replaced record is not a person of its own
