"""A small changing population for the worklist tests (history, dispositions, care teams, outputs).

Every patient has an osteoporotic T-score; `ai` (an active aromatase inhibitor) lists them. Changes between runs
are made by rewriting the source files: the loader keeps the last loaded version of a resource.
"""

from __future__ import annotations

import csv
import hashlib
from datetime import date
from pathlib import Path

from tests.conftest import write_ndjson

RX = "http://www.nlm.nih.gov/research/umls/rxnorm"
ORAL = {"route": {"coding": [{"system": "http://snomed.info/sct", "code": "26643006", "display": "Oral route"}]},
        "timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}},
        "doseAndRate": [{"doseQuantity": {"value": 1, "unit": "TAB"}}]}
AS_OF = [date(2026, 6, 30), date(2026, 7, 31), date(2026, 8, 31)]


def patient(pid: str, family: str, given: str = "Pat", birth: str = "1950-01-01", **extra) -> dict:
    mrn = "M" + hashlib.md5(pid.encode()).hexdigest()[:8]
    r = {"resourceType": "Patient", "id": pid, "gender": "female", "birthDate": birth,
         "identifier": [{"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                                              "code": "MR"}]}, "value": mrn}],
         "name": [{"family": family, "given": [given]}]}
    r.update(extra)
    return r


def t_score(pid: str, oid: str, value: float = -2.8, when: str = "2026-03-01") -> dict:
    return {"resourceType": "Observation", "id": oid, "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "38264-8"}]},
            "subject": {"reference": f"Patient/{pid}"}, "effectiveDateTime": when,
            "valueQuantity": {"value": value, "unit": "{T-score}", "system": "http://unitsofmeasure.org",
                              "code": "{T-score}"}}


def med(pid: str, mid: str, code: str | None, display: str, start: str, status: str = "active",
        end: str | None = None, weekly: bool = False) -> dict:
    coding = {"system": RX, "display": display}
    if code:
        coding["code"] = code
    dosage = {**ORAL, "timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "wk" if weekly else "d"}}}
    period = {"start": start}
    if end:
        period["end"] = end
    return {"resourceType": "MedicationStatement", "id": mid, "status": status,
            "subject": {"reference": f"Patient/{pid}"}, "medicationCodeableConcept": {"coding": [coding]},
            "effectivePeriod": period, "dosage": [dosage]}


def ai(pid: str, ended: bool = False) -> dict:
    if ended:
        return med(pid, f"{pid}-ai", "199224", "anastrozole 1 MG Oral Tablet", "2020-01-01", "completed",
                   "2022-01-01")
    return med(pid, f"{pid}-ai", "199224", "anastrozole 1 MG Oral Tablet", "2025-01-01")


def prednisone(pid: str) -> dict:
    return med(pid, f"{pid}-gc", "312615", "prednisone 20 MG Oral Tablet", "2025-09-01")


def alendronate(pid: str) -> dict:
    return med(pid, f"{pid}-op", None, "alendronate sodium 70 MG Oral Tablet", "2026-06-01", weekly=True)


def listed(pid: str, family: str, **extra) -> list[dict]:
    return [patient(pid, family, **extra), t_score(pid, f"{pid}-t1"), ai(pid)]


CARE = [
    {"resourceType": "Organization", "id": "wl-org-north", "name": "North Clinic"},
    {"resourceType": "Organization", "id": "wl-org-south", "name": "South Practice"},
    {"resourceType": "Practitioner", "id": "wl-dr-a", "name": [{"family": "Alpha"}]},
    {"resourceType": "PractitionerRole", "id": "wl-role-a", "practitioner": {"reference": "Practitioner/wl-dr-a"},
     "organization": {"reference": "Organization/wl-org-north"}},
]
NORTH = {"generalPractitioner": [{"reference": "Practitioner/wl-dr-a"}]}
SOUTH = {"managingOrganization": {"reference": "Organization/wl-org-south"}}
EAST = {"generalPractitioner": [{"reference": "Organization/wl-org-east", "display": "East Surgery"}]}


def population(run: int) -> list[dict]:
    """Run 1, 2 or 3 of the changing population (see tests/test_worklist_lifecycle.py for what each checks)."""
    r: list[dict] = list(CARE)
    r += listed("wl-cont", "Famcont", **NORTH)
    r += listed("wl-change", "Famchange", **SOUTH)
    if run >= 2:
        r.append(prednisone("wl-change"))
    r += listed("wl-evid", "Famevid", **EAST)
    if run >= 2:
        r.append(t_score("wl-evid", "wl-evid-t2", -2.9, "2026-07-15"))
    r += listed("wl-treat", "Famtreat", **NORTH)
    if run >= 2:
        r.append(alendronate("wl-treat"))
    dead = {"deceasedBoolean": True} if run >= 2 else {}
    r += listed("wl-dead", "Famdead", **dead)
    r += [patient("wl-gone", "Famgone"), t_score("wl-gone", "wl-gone-t1"), ai("wl-gone", ended=run >= 2)]
    if run >= 2:
        r += listed("wl-new", "Famnew", **NORTH)
    r += listed("wl-disp1", "Famdispone", **NORTH)
    r += listed("wl-disp2", "Famdisptwo", **SOUTH)
    if run >= 3:
        r.append(prednisone("wl-disp2"))
    r += listed("wl-unreach", "Famunreach")
    r += listed("wl-inject", "=HYPERLINK(\"http://x\",\"y\")", given="+SUM(A1)")
    return r


def write_population(folder: Path, run: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for f in folder.glob("*.ndjson"):
        f.unlink()
    write_ndjson(folder / "data.ndjson", population(run))
    return folder


def read_csv(path: Path) -> list[dict]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def run_once(tmp: Path, run: int, **export_options) -> dict:
    """Load, screen and export one run with the pipeline's plain functions (no Prefect server)."""
    from screening.pipeline import run_pipeline

    src = write_population(tmp / "src", run)
    return run_pipeline(src, tmp / "db" / "w.duckdb", tmp / "out", AS_OF[run - 1],
                        export_options=export_options or None)


def test_population_lists_every_planted_patient(tmp_path):
    run_once(tmp_path, 1)
    rows = {r["patient_id"]: r for r in read_csv(tmp_path / "out" / "worklist.csv")}
    assert set(rows) == {"wl-cont", "wl-change", "wl-evid", "wl-treat", "wl-dead", "wl-gone", "wl-disp1",
                         "wl-disp2", "wl-unreach", "wl-inject"}
