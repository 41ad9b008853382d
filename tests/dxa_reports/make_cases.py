"""Writes tests/cases/dxa_report_text.json: patients whose only DXA evidence is report text (listed exactly like
the twin with the discrete Observation) and trap reports that must not list anyone. Run once; the JSON is committed.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "cases" / "dxa_report_text.json"
LOINC = "http://loinc.org"


def patient(pid: str, birth: str, gender: str = "female") -> dict:
    return {"resourceType": "Patient", "id": pid, "gender": gender, "birthDate": birth,
            "name": [{"family": "Fam" + pid.replace("-", ""), "given": ["Pat"]}]}


def ra(pid: str) -> dict:
    return {"resourceType": "Condition", "id": f"{pid}-ra",
            "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "M06.9"}]},
            "subject": {"reference": f"Patient/{pid}"}, "onsetDateTime": "2024-01-10",
            "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                           "code": "active"}]},
            "verificationStatus": {"coding": [{"system":
                                               "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                                               "code": "confirmed"}]}}


def report(rid: str, pid: str, conclusion: str | None = None, status: str = "final", date: str = "2026-03-01",
           forms: list[dict] | None = None, code: str | None = "38268-9", text: str | None = None) -> dict:
    r = {"resourceType": "DiagnosticReport", "id": rid, "status": status,
         "code": {"coding": [{"system": LOINC, "code": code}]} if code else {"text": text},
         "subject": {"reference": f"Patient/{pid}"}, "effectiveDateTime": date, "issued": date + "T12:00:00Z"}
    if conclusion is not None:
        r["conclusion"] = conclusion
    if forms:
        r["presentedForm"] = forms
    return r


def b64(s: str) -> str:
    return base64.b64encode(s.encode()).decode()


def obs(oid: str, pid: str, code: str, value: float, date: str = "2026-03-01", unit: str = "{T-score}") -> dict:
    return {"resourceType": "Observation", "id": oid, "status": "final",
            "code": {"coding": [{"system": LOINC, "code": code}]}, "subject": {"reference": f"Patient/{pid}"},
            "effectiveDateTime": date,
            "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit}}


res: list[dict] = []
expect: dict = {}
hits: list[dict] = []

# 1. T-score only in the conclusion narrative, and its twin with the discrete Observation.
res += [patient("txt-t", "1960-01-01"), ra("txt-t"),
        report("rep-t", "txt-t", "DXA: Lumbar spine L1-L4 T-score -1.4, Z-score -0.6. "
               "The lowest T-score is \u22122.7 at the left femoral neck. Osteoporosis by WHO criteria.")]
res += [patient("obs-t", "1960-01-01"), ra("obs-t"), obs("obs-t-1", "obs-t", "38263-0", -2.7)]
for pid in ("txt-t", "obs-t"):
    expect[pid] = {"priority": "high", "risk_markers": "osteoporosis_t_score", "causes": "inflammatory_disease",
                   "unaddressed": "inflammatory_disease", "evidence_ids_contains": [f"Condition/{pid}-ra"]}
expect["txt-t"]["evidence_contains"] = [
    'T-score femoral neck -2.7 (2026-03-01, from report text: "The lowest T-score is -2.7 at the left femoral neck."']
expect["txt-t"]["evidence_ids_contains"].append("DiagnosticReport/rep-t")
hits.append({"patient": "txt-t", "kind": "data_quality", "rule_id": "dxa_report_unread", "absent": True})

# 2. Z-score only in a DocumentReference HTML attachment (GE Lunar table), date from context.period.start.
lunar = ("<html><body><p>Bone Densitometry (GE Lunar)</p><table><tr><th>Region</th><th>BMD (g/cm&sup2;)</th>"
         "<th>T-score</th><th>Z-score</th></tr><tr><td>L1-L4</td><td>0.812</td><td>-2.4</td><td>&minus;2.3</td></tr>"
         "<tr><td>Neck Left</td><td>0.701</td><td>-1.9</td><td>-1.6</td></tr></table></body></html>")
res += [patient("txt-z", "1990-05-05", "male"),
        {"resourceType": "DocumentReference", "id": "doc-z", "status": "current",
         "type": {"text": "DXA bone density report"}, "subject": {"reference": "Patient/txt-z"},
         "date": "2026-02-20T10:00:00Z", "context": {"period": {"start": "2026-02-14"}},
         "content": [{"attachment": {"contentType": "text/html", "data": b64(lunar)}}]}]
res += [patient("obs-z", "1990-05-05", "male"), obs("obs-z-1", "obs-z", "85394-5", -2.3, "2026-02-14", "{Z-score}")]
for pid in ("txt-z", "obs-z"):
    expect[pid] = {"priority": "low", "risk_markers": "low_z_score", "causes": "unexplained"}
expect["txt-z"]["evidence_contains"] = ["Z-score lumbar spine L1-L4 -2.3 (2026-02-14, from report text: "]
expect["txt-z"]["evidence_ids_contains"] = ["DocumentReference/doc-z"]

# 3. FRAX written in the report (labelled MOF / hip) counts as recorded FRAX.
res += [patient("txt-frax", "1950-02-02"), ra("txt-frax"),
        report("rep-frax", "txt-frax", None, forms=[{"contentType": "text/plain", "data": b64(
            "DXA report\nScan date: 2026-01-10\nFemoral neck T-score -1.9, Z-score -0.4.\n"
            "FRAX 10-year probability: major osteoporotic fracture 24.5%, hip fracture 2.1%.")}])]
expect["txt-frax"] = {"priority": "medium", "risk_markers": "high_fracture_risk", "causes": "inflammatory_disease",
                      "evidence_contains": ["FRAX major osteoporotic 24.5% (2026-01-10, from report text: "]}

# 4. Traps: each patient has a cause, and a report whose only numbers are not current scores.
traps = {
    "trap-prior": "Compared with the prior study of 2019, when the femoral neck T-score was -2.9, the BMD is "
                  "stable. Femoral neck T-score -1.8.",
    "trap-change": "Total hip BMD 0.612 g/cm2, a change of -3.1% since 2023. Total hip T-score -1.2.",
    "trap-negated": "No T-score below -2.5 was found at the femoral neck or lumbar spine; the lowest T-score is "
                    "-1.6 at the total hip.",
    "trap-hypothetical": "If the femoral neck T-score were -2.5 or lower, treatment would be indicated. Femoral "
                         "neck T-score -2.0.",
    "trap-reference": "WHO criteria: osteoporosis is a T-score of -2.5 or below. T-scores use the NHANES III "
                      "young adult reference population. Lumbar spine T-score -0.9.",
    "trap-frax-pct": "FRAX 10-year probability: major osteoporotic fracture 12%, hip fracture 1.5%. Treatment is "
                     "suggested when FRAX exceeds 20% or 3% for hip fracture. Femoral neck T-score -1.1.",
}
for pid, text in traps.items():
    res += [patient(pid, "1955-03-03"), ra(pid), report(f"rep-{pid}", pid, text)]
    expect[pid] = "not listed"

# 5. A discrete Observation of the same type, site and date wins over the text (laterality ignored).
res += [patient("discrete-wins", "1955-03-03"), ra("discrete-wins"),
        obs("discrete-wins-1", "discrete-wins", "38263-0", -2.0),
        report("rep-dw", "discrete-wins", "Right femoral neck T-score -2.8.")]
expect["discrete-wins"] = "not listed"

# 6. Reports that cannot be read or attributed: warnings, never a guessed score.
res += [patient("unattr", "1955-03-03"), ra("unattr"), report("rep-unattr", "unattr", "IMPRESSION: T-score -2.9.")]
expect["unattr"] = "not listed"
hits.append({"patient": "unattr", "kind": "data_quality", "rule_id": "dxa_report_unattributed"})
res += [patient("unread", "1955-03-03"), ra("unread"),
        report("rep-unread", "unread", None, forms=[{"contentType": "application/pdf", "data": b64("%PDF-1.4 x")}])]
expect["unread"] = "not listed"
hits.append({"patient": "unread", "kind": "data_quality", "rule_id": "dxa_report_unread"})

# 7. A preliminary report and a non-DXA report do not count.
res += [patient("prelim", "1955-03-03"), ra("prelim"),
        report("rep-prelim", "prelim", "Femoral neck T-score -3.1.", status="preliminary")]
expect["prelim"] = "not listed"
res += [patient("not-dxa", "1955-03-03"), ra("not-dxa"),
        report("rep-notdxa", "not-dxa", "Femoral neck T-score -3.1.", code=None, text="Chest X-ray")]
expect["not-dxa"] = "not listed"

# 8. Found by title only (no code), the date from the text, L1-L4 wins over L2-L4.
res += [patient("by-title", "1958-04-04"), ra("by-title"),
        report("rep-title", "by-title", "Exam date: 02/03/2026\nL1-L4 T-score -2.2\nL2-L4 T-score -2.6",
               code=None, text="DEXA bone density study")]
expect["by-title"] = "not listed"
res += [patient("by-title2", "1958-04-04"), ra("by-title2"),
        report("rep-title2", "by-title2", "Exam date: 02/03/2026\nL1-L4 T-score -2.6, L2-L4 T-score -2.2",
               code=None, text="DEXA bone density study", date="2026-02-10")]
expect["by-title2"] = {"priority": "high", "risk_markers": "osteoporosis_t_score",
                       "evidence_contains": ["T-score lumbar spine L1-L4 -2.6 (2026-02-03, from report text: "]}

case = {"title": "DXA results read from report text (section 8): listed exactly as if the Observation existed; "
                 "traps not listed", "as_of": "2026-06-30", "resources": res, "expect": expect, "expect_hits": hits}
OUT.write_text(json.dumps(case, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
