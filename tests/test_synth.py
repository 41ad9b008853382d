"""Synthetic population generator: determinism, streaming, FHIR validity, references, ground truth."""

from __future__ import annotations

import csv
import hashlib
import importlib
import stat
import tracemalloc
from datetime import date, timedelta
from pathlib import Path

import orjson
import pytest

from screening.synth import GT_COLUMNS, SCENARIOS, generate, write_case_resources
from screening.synth.codes import DRUGS, LOINC, RXNORM

AS_OF = date(2026, 6, 30)
MARKERS = {"low_z_score", "osteoporosis_t_score", "fragility_fracture", "high_fracture_risk"}
CAUSES = {
    "glucocorticoid",
    "cushing",
    "aromatase_inhibitor",
    "androgen_deprivation",
    "malabsorption",
    "hyperthyroidism",
    "hyperparathyroidism",
    "inflammatory_disease",
    "myeloma",
    "hypogonadism",
    "vitamin_d_deficiency",
    "osteomalacia_pattern",
    "unexplained",
}
R4B_MODULES = {
    "Patient": "patient",
    "Observation": "observation",
    "Condition": "condition",
    "MedicationStatement": "medicationstatement",
    "MedicationRequest": "medicationrequest",
    "MedicationAdministration": "medicationadministration",
    "Medication": "medication",
    "Procedure": "procedure",
    "Encounter": "encounter",
    "ServiceRequest": "servicerequest",
    "DiagnosticReport": "diagnosticreport",
    "DocumentReference": "documentreference",
    "Binary": "binary",
}
NO_PATIENT_SCENARIOS = {s.name for s in SCENARIOS if not s.has_patient_resource}


def _read(folder: Path) -> dict[str, list[dict]]:
    return {
        p.stem: [orjson.loads(x) for x in p.read_bytes().splitlines()]
        for p in sorted(folder.glob("*.ndjson"))
    }


def _truth(folder: Path) -> list[dict]:
    with open(folder / "ground_truth.csv", newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def pop(tmp_path_factory) -> Path:
    """One 400-patient population (all planted scenarios + background) shared by the read-only tests."""
    out = tmp_path_factory.mktemp("synth") / "pop"
    generate(out, patients=400, seed=42, as_of=AS_OF)
    return out


@pytest.fixture(scope="module")
def resources(pop) -> dict[str, list[dict]]:
    return _read(pop)


@pytest.fixture(scope="module")
def by_scenario(pop) -> dict[str, dict]:
    return {r["scenario"]: r for r in _truth(pop)}


def _patient_resources(resources, pid: str) -> list[dict]:
    ref = f"Patient/{pid}"
    return [r for rs in resources.values() for r in rs if r.get("subject", {}).get("reference") == ref]


# ---------------------------------------------------------------------------------------------------------
def test_deterministic_for_a_seed(tmp_path):
    a = generate(tmp_path / "a", patients=350, seed=7, as_of=AS_OF)
    generate(tmp_path / "b", patients=350, seed=7, as_of=AS_OF)
    generate(tmp_path / "c", patients=350, seed=8, as_of=AS_OF)
    da, db, dc = _digest(tmp_path / "a"), _digest(tmp_path / "b"), _digest(tmp_path / "c")
    assert da == db
    assert da["Patient.ndjson"] != dc["Patient.ndjson"]
    assert da["Observation.ndjson"] != dc["Observation.ndjson"]
    assert set(da) >= {
        f"{t}.ndjson"
        for t in [
            "Patient",
            "Observation",
            "Condition",
            "MedicationStatement",
            "MedicationRequest",
            "MedicationAdministration",
            "Medication",
            "Procedure",
        ]
    } | {"ground_truth.csv", "ground_truth.md"}
    # the summary counts what is on disk
    for rtype, n in a.resources.items():
        assert len((tmp_path / "a" / f"{rtype}.ndjson").read_bytes().splitlines()) == n
    assert a.patients == 350 and a.planted == len(SCENARIOS) and a.noise == 350 - len(SCENARIOS)


def test_streams_with_constant_memory(tmp_path):
    tracemalloc.start()
    try:
        summary = generate(tmp_path / "big", patients=20_000, seed=1, as_of=AS_OF)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert summary.resources["Patient"] == 20_000 - 1  # one planted scenario has no Patient resource
    assert peak < 40 * 2**20, f"peak traced memory {peak / 2**20:.1f} MiB"
    assert len(_truth(tmp_path / "big")) == 20_000


def test_every_resource_is_valid_fhir_r4(resources):
    n = 0
    for rtype, items in resources.items():
        cls = getattr(importlib.import_module(f"fhir.resources.R4B.{R4B_MODULES[rtype]}"), rtype)
        for item in items:
            cls.model_validate(item)
            n += 1
    assert n > 2000


def test_files_are_owner_only(pop):
    for path in pop.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_ids_unique_and_references_resolve(resources, by_scenario):
    patients = {p["id"] for p in resources["Patient"]}
    meds = {m["id"] for m in resources["Medication"]}
    missing_patient = {by_scenario[name]["patient_id"] for name in NO_PATIENT_SCENARIOS}
    seen: set[tuple[str, str, str]] = set()
    for rtype, items in resources.items():
        for r in items:
            key = (rtype, r["id"], r.get("meta", {}).get("versionId", ""))
            assert key not in seen, key
            seen.add(key)
            if "subject" in r:
                pid = r["subject"]["reference"].removeprefix("Patient/")
                assert pid in patients or pid in missing_patient, r["id"]
            ref = r.get("medicationReference", {}).get("reference")
            if ref and ref.startswith("#"):
                assert ref[1:] in {c["id"] for c in r.get("contained", [])}, r["id"]
            elif ref:
                assert ref.removeprefix("Medication/") in meds, r["id"]
    for p in resources["Patient"]:
        ident = p["identifier"][0]
        assert ident["type"]["coding"][0] == {
            "system": "http://terminology.hl7.org/CodeSystem/v2-0203",
            "code": "MR",
            "display": "Medical record number",
        }
        assert ident["value"] and p["name"][0]["family"] and p["gender"] in {"female", "male"}


def test_medication_shapes_mixed(resources):
    shapes = {"inline": 0, "ref": 0, "contained": 0}
    for rtype in ("MedicationStatement", "MedicationRequest", "MedicationAdministration"):
        for r in resources[rtype]:
            if "medicationCodeableConcept" in r:
                shapes["inline"] += 1
            elif r["medicationReference"]["reference"].startswith("#"):
                shapes["contained"] += 1
            else:
                shapes["ref"] += 1
    assert all(v >= 10 for v in shapes.values()), shapes


def test_ground_truth_covers_every_scenario(pop, by_scenario):
    rows = _truth(pop)
    with open(pop / "ground_truth.csv", encoding="utf-8") as fh:
        assert fh.readline().strip() == ",".join(GT_COLUMNS)
    assert len({r["patient_id"] for r in rows}) == len(rows) == 400
    names = [r["scenario"] for r in rows if not r["scenario"].startswith("noise:")]
    assert names == [s.name for s in SCENARIOS]  # planted first, in registry order, once each
    md = (pop / "ground_truth.md").read_text()
    for r in rows:
        assert r["expect_listed"] in {"true", "false"}
        unchecked = set(filter(None, r["unchecked"].split(";")))
        assert unchecked <= set(GT_COLUMNS[3:7])
        if r["expect_listed"] == "true":
            assert r["expect_priority"] in {"high", "medium", "low"}
        else:
            assert r["expect_priority"] == ""
        for col, vocab in (
            ("expect_risk_markers", MARKERS),
            ("expect_causes", CAUSES),
            ("expect_unaddressed", CAUSES),
        ):
            items = [x for x in r[col].split(";") if x]
            assert items == sorted(set(items)) and set(items) <= vocab, (r["scenario"], col)
        if "expect_causes" not in unchecked:
            assert set(filter(None, r["expect_unaddressed"].split(";"))) <= set(r["expect_causes"].split(";"))
        if not r["scenario"].startswith("noise:"):
            assert f"`{r['scenario']}`" in md
    # a listed patient needs a marker and an unaddressed cause, unless it is the safety condition
    for r in rows:
        if r["expect_listed"] == "true" and not r["expect_risk_markers"]:
            assert r["scenario"].startswith("safety_"), r["scenario"]
    # background patients are asserted never listed
    noise = [r for r in rows if r["scenario"].startswith("noise:")]
    assert noise and all(r["expect_listed"] == "false" and r["expect_causes"] == "" for r in noise)


def test_small_population_still_has_every_scenario(tmp_path):
    summary = generate(tmp_path / "small", patients=3, seed=42, as_of=AS_OF)
    assert summary.patients == len(SCENARIOS) and summary.noise == 0
    assert [r["scenario"] for r in _truth(tmp_path / "small")] == [s.name for s in SCENARIOS]


def test_dates_follow_as_of(tmp_path):
    other = date(2024, 1, 15)
    generate(tmp_path / "o", patients=len(SCENARIOS), seed=42, as_of=other)
    pid = next(r["patient_id"] for r in _truth(tmp_path / "o") if r["scenario"] == "lowz_exactly_minus_2_0")
    obs = [o for o in _read(tmp_path / "o")["Observation"] if o["subject"]["reference"] == f"Patient/{pid}"]
    assert [o["effectiveDateTime"] for o in obs] == [(other - timedelta(days=90)).isoformat()]


# ---------------------------------------------------------------------------------------------------------
# The boundary scenarios really contain the boundary they claim.
def _days(period: dict) -> int:
    return (date.fromisoformat(period["end"]) - date.fromisoformat(period["start"])).days + 1


def test_boundary_scenarios_are_built_as_described(resources, by_scenario):
    def res(name):
        return _patient_resources(resources, by_scenario[name]["patient_id"])

    def values(name, code):
        return [
            r["valueQuantity"]["value"]
            for r in res(name)
            if r["resourceType"] == "Observation" and r["code"]["coding"][0]["code"] == code
        ]

    assert values("lowz_exactly_minus_2_0", "85394-5") == [-2.0]
    assert values("lowz_minus_1_9", "85394-5") == [-1.9]
    assert values("tscore_minus_2_5_at_50", "38264-8") == [-2.5]
    for name, days in (("gc_90_days_5mg", 90), ("gc_89_days_5mg", 89)):
        (ms,) = [r for r in res(name) if r["resourceType"] == "MedicationStatement"]
        assert _days(ms["effectivePeriod"]) == days
        assert ms["medicationCodeableConcept"]["coding"][0] == {
            "system": RXNORM,
            "code": "312617",
            "display": "prednisone 5 MG Oral Tablet",
        }
    periods = sorted(
        (r["effectivePeriod"]["start"], r["effectivePeriod"]["end"])
        for r in res("gc_overlap_merged_80_days")
        if r["resourceType"] == "MedicationStatement"
    )
    assert (date.fromisoformat(periods[1][1]) - date.fromisoformat(periods[0][0])).days + 1 == 80

    # ages at the evidence
    def age_at(name, when: str) -> int:
        pid = by_scenario[name]["patient_id"]
        (p,) = [p for p in resources["Patient"] if p["id"] == pid]
        b, w = date.fromisoformat(p["birthDate"]), date.fromisoformat(when)
        return w.year - b.year - ((w.month, w.day) < (b.month, b.day))

    scan = (AS_OF - timedelta(days=90)).isoformat()
    assert age_at("tscore_minus_2_5_at_50", scan) == 50
    assert age_at("tscore_minus_2_5_at_49", scan) == 49
    assert age_at("lowz_scan_on_18th_birthday", (AS_OF - timedelta(days=60)).isoformat()) == 18
    assert age_at("lowz_scan_day_before_18th_birthday", (AS_OF - timedelta(days=60)).isoformat()) == 17
    assert age_at("tscore_49_at_scan_50_now", (AS_OF - timedelta(days=120)).isoformat()) == 49
    assert age_at("tscore_49_at_scan_50_now", AS_OF.isoformat()) == 50

    # future-dated evidence is after the reference date
    (fx,) = [
        r
        for r in res("fracture_future_dated")
        if r["resourceType"] == "Condition" and r["code"]["coding"][0]["code"] == "S72.001A"
    ]
    assert fx["onsetDateTime"] > AS_OF.isoformat()
    assert all(
        r["effectiveDateTime"] > AS_OF.isoformat()
        for r in res("dxa_future_dated")
        if r["resourceType"] == "Observation"
    )
    # the planted patient without a Patient resource really has none
    pid = by_scenario["no_patient_resource_low_z"]["patient_id"]
    assert pid not in {p["id"] for p in resources["Patient"]} and res("no_patient_resource_low_z")


def test_background_noise_cannot_trigger(resources, by_scenario):
    """The invariants that make every background patient certainly not listed."""
    planted = {r["patient_id"] for r in by_scenario.values() if not r["scenario"].startswith("noise:")}

    def pid_of(r):
        return r["subject"]["reference"].removeprefix("Patient/")

    z_codes = {"85394-5", "80933-5", "80934-3", "80932-7"}
    for o in resources["Observation"]:
        if pid_of(o) in planted or "valueQuantity" not in o:
            continue
        code, v = o["code"]["coding"][0]["code"], o["valueQuantity"]["value"]
        assert not (code in z_codes and v <= -2.0)
        assert not (code == "90265-0" and not 1 <= v < 20) and not (code == "90266-8" and not 1 <= v < 3)
        assert not (code in {"62292-8", "1989-3"} and v < 22)
        assert code not in {"2731-8", "1751-7"}  # no PTH, no albumin
        if code == "3016-3":
            assert v >= 0.6
    banned = {
        DRUGS[k].code
        for k in (
            "zoledronic",
            "denosumab",
            "anastrozole",
            "letrozole",
            "exemestane",
            "leuprolide",
            "goserelin",
            "degarelix",
            "relugolix",
            "budesonide_3",
        )
    }
    for rtype in ("MedicationStatement", "MedicationRequest", "MedicationAdministration"):
        for r in resources[rtype]:
            if pid_of(r) in planted:
                continue
            cc = r.get("medicationCodeableConcept") or (r.get("contained") or [{}])[0].get("code")
            if cc is None:
                ref = r["medicationReference"]["reference"].removeprefix("Medication/")
                cc = next(m["code"] for m in resources["Medication"] if m["id"] == ref)
            code = cc["coding"][0]["code"]
            assert code not in banned
            if code in {DRUGS["prednisone_20"].code, DRUGS["prednisone_10"].code} and "effectivePeriod" in r:
                assert _days(r["effectivePeriod"]) <= 10
            if code in {DRUGS["prednisone_20"].code, DRUGS["prednisone_10"].code} and "dispenseRequest" in r:
                assert r["dispenseRequest"]["expectedSupplyDuration"]["value"] <= 10


def test_codes_use_real_systems(resources):
    systems = set()
    for items in resources.values():
        for r in items:
            for key in ("code", "medicationCodeableConcept"):
                for c in r.get(key, {}).get("coding", []):
                    systems.add(c["system"])
    assert systems <= {LOINC, RXNORM, "http://snomed.info/sct", "http://hl7.org/fhir/sid/icd-10-cm"}


def test_write_case_resources(tmp_path):
    patient = {"resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": "1960-01-01"}
    obs = {
        "resourceType": "Observation",
        "id": "o1",
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "85394-5"}]},
        "subject": {"reference": "Patient/p1"},
        "effectiveDateTime": "2026-01-01",
        "valueQuantity": {"value": -2.4},
    }
    paths = write_case_resources([patient, obs, dict(obs, id="o2")], tmp_path / "case")
    assert set(paths) == {"Patient", "Observation"}
    got = _read(tmp_path / "case")
    assert [o["id"] for o in got["Observation"]] == ["o1", "o2"] and got["Patient"] == [patient]
    assert stat.S_IMODE(paths["Patient"].stat().st_mode) == 0o600
