"""Fixture resources for the loopback FHIR server: six patients with the facts the screens look at.

Synthetic people only. DXA results sit in DiagnosticReports whose result Observations are hidden from
Observation search (as some vendors do), so a crawl must hydrate them from DiagnosticReport.result.
"""

from __future__ import annotations

LOINC = "http://loinc.org"
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
OBS_CAT = "http://terminology.hl7.org/CodeSystem/observation-category"

# Observations only reachable through DiagnosticReport.result (not returned by Observation searches)
HIDDEN_OBSERVATIONS = {"dxa-p1-z", "dxa-p1-t", "dxa-p2-z", "dxa-p6-z"}


def _patient(pid: str, gender: str, birth: str) -> dict:
    return {
        "resourceType": "Patient",
        "id": pid,
        "gender": gender,
        "birthDate": birth,
        "name": [{"family": f"Test{pid}", "given": ["Synthetic"]}],
    }


def _obs(
    oid: str, pid: str, code: str, display: str, value: float, unit: str, when: str, category: str
) -> dict:
    return {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "category": [{"coding": [{"system": OBS_CAT, "code": category}]}],
        "code": {"coding": [{"system": LOINC, "code": code, "display": display}]},
        "subject": {"reference": f"Patient/{pid}"},
        "effectiveDateTime": when,
        "valueQuantity": {
            "value": value,
            "unit": unit,
            "system": "http://unitsofmeasure.org",
            "code": unit,
        },
    }


def _cond(cid: str, pid: str, code: str, display: str, onset: str) -> dict:
    return {
        "resourceType": "Condition",
        "id": cid,
        "clinicalStatus": {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}
            ]
        },
        "code": {"coding": [{"system": ICD10, "code": code, "display": display}]},
        "subject": {"reference": f"Patient/{pid}"},
        "onsetDateTime": onset,
    }


def _med(mid: str, rxnorm: str, text: str) -> dict:
    return {
        "resourceType": "Medication",
        "id": mid,
        "code": {"coding": [{"system": RXNORM, "code": rxnorm, "display": text}], "text": text},
    }


def _dxa_report(rid: str, pid: str, results: list[str], when: str) -> dict:
    return {
        "resourceType": "DiagnosticReport",
        "id": rid,
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "38269-2", "display": "DXA Bone density study"}]},
        "subject": {"reference": f"Patient/{pid}"},
        "effectiveDateTime": when,
        "result": [{"reference": f"Observation/{r}"} for r in results],
    }


def fixture_resources() -> list[dict]:
    r: list[dict] = [
        _patient("p1", "female", "1958-03-02"),
        _patient("p2", "male", "1970-07-14"),
        _patient("p3", "female", "1955-11-30"),
        _patient("p4", "female", "1965-01-20"),
        _patient("p5", "male", "1980-05-05"),
        _patient("p6", "female", "1945-09-09"),
        # p1: low Z-score + glucocorticoid + rheumatoid arthritis
        _obs(
            "dxa-p1-z",
            "p1",
            "38268-4",
            "Lumbar spine [Z-score] DXA",
            -2.4,
            "{Z-score}",
            "2026-02-01",
            "imaging",
        ),
        _obs(
            "dxa-p1-t",
            "p1",
            "38267-6",
            "Lumbar spine [T-score] DXA",
            -2.9,
            "{T-score}",
            "2026-02-01",
            "imaging",
        ),
        _dxa_report("dr-p1", "p1", ["dxa-p1-z", "dxa-p1-t"], "2026-02-01"),
        {
            "resourceType": "MedicationRequest",
            "id": "mr-p1",
            "status": "active",
            "intent": "order",
            "medicationReference": {"reference": "Medication/med-pred"},
            "subject": {"reference": "Patient/p1"},
            "authoredOn": "2025-09-01",
            "dosageInstruction": [
                {
                    "text": "10 mg daily",
                    "timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}},
                    "doseAndRate": [{"doseQuantity": {"value": 10, "unit": "mg"}}],
                }
            ],
            "dispenseRequest": {"expectedSupplyDuration": {"value": 180, "unit": "days"}},
        },
        _med("med-pred", "312617", "predniSONE 10 MG Oral Tablet"),
        _cond("c-p1-ra", "p1", "M06.9", "Rheumatoid arthritis, unspecified", "2019-04-01"),
        # p2: low Z-score + celiac disease + PPI statement
        _obs(
            "dxa-p2-z",
            "p2",
            "38268-4",
            "Lumbar spine [Z-score] DXA",
            -2.1,
            "{Z-score}",
            "2026-01-10",
            "imaging",
        ),
        _dxa_report("dr-p2", "p2", ["dxa-p2-z"], "2026-01-10"),
        _cond("c-p2-celiac", "p2", "K90.0", "Celiac disease", "2015-06-01"),
        {
            "resourceType": "MedicationStatement",
            "id": "ms-p2",
            "status": "active",
            "medicationReference": {"reference": "Medication/med-ome"},
            "subject": {"reference": "Patient/p2"},
            "effectivePeriod": {"start": "2024-01-01"},
        },
        _med("med-ome", "198053", "omeprazole 20 MG Delayed Release Oral Capsule"),
        # p3: labs only (low vitamin D, high PTH)
        _obs(
            "lab-p3-vitd", "p3", "1989-3", "25-hydroxyvitamin D3", 14.0, "ng/mL", "2026-03-01", "laboratory"
        ),
        _obs("lab-p3-pth", "p3", "2731-8", "Parathyrin.intact", 92.0, "pg/mL", "2026-03-01", "laboratory"),
        # p4: normal DXA, bariatric surgery, methylprednisolone administration
        _obs(
            "dxa-p4-t",
            "p4",
            "38267-6",
            "Lumbar spine [T-score] DXA",
            -1.0,
            "{T-score}",
            "2026-01-05",
            "imaging",
        ),
        {
            "resourceType": "Procedure",
            "id": "proc-p4",
            "status": "completed",
            "subject": {"reference": "Patient/p4"},
            "code": {
                "coding": [
                    {
                        "system": "http://snomed.info/sct",
                        "code": "18692006",
                        "display": "Bariatric operative procedure",
                    }
                ]
            },
            "performedDateTime": "2021-05-01",
        },
        {
            "resourceType": "MedicationAdministration",
            "id": "ma-p4",
            "status": "completed",
            "medicationReference": {"reference": "Medication/med-mp"},
            "subject": {"reference": "Patient/p4"},
            "effectiveDateTime": "2025-12-01",
        },
        _med("med-mp", "1743704", "methylPREDNISolone 40 MG Injection"),
        # p5: vitals only
        _obs("vs-p5", "p5", "29463-7", "Body weight", 82.0, "kg", "2026-03-10", "vital-signs"),
        # p6: very low Z-score, contained medication (must not be hydrated)
        _obs(
            "dxa-p6-z",
            "p6",
            "38268-4",
            "Lumbar spine [Z-score] DXA",
            -2.6,
            "{Z-score}",
            "2026-02-20",
            "imaging",
        ),
        _dxa_report("dr-p6", "p6", ["dxa-p6-z"], "2026-02-20"),
        {
            "resourceType": "MedicationRequest",
            "id": "mr-p6",
            "status": "active",
            "intent": "order",
            "contained": [_med("m1", "197361", "amlodipine 5 MG Oral Tablet")],
            "medicationReference": {"reference": "#m1"},
            "subject": {"reference": "Patient/p6"},
            "authoredOn": "2025-01-01",
        },
        {
            "resourceType": "Group",
            "id": "grp1",
            "type": "person",
            "actual": True,
            "member": [
                {"entity": {"reference": "Patient/p1"}},
                {"entity": {"reference": "Patient/p2"}},
                {"entity": {"reference": "Patient/p3"}},
            ],
        },
    ]
    return r
