"""Issue 8 class 1, screen-stage robustness: extreme values injected into ONE patient of a small valid population
(huge, tiny, non-finite written as text, negative, far-future dates, absurd schedules) never stop the run and never
change another patient's worklist row (compared byte for byte). Runs the pipeline's plain functions, no Prefect."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from screening.pipeline import export_step, load_step, screen_step

AS_OF = date(2026, 6, 30)
TARGET = "syn-000001"
RX = "http://www.nlm.nih.gov/research/umls/rxnorm"


def _rows(out: Path) -> dict[str, bytes]:
    lines = (out / "worklist.csv").read_bytes().splitlines(keepends=True)
    return {line.split(b",", 1)[0].decode(): line for line in lines[1:]}


def _run(src: Path, work: Path) -> dict[str, bytes]:
    db = work / "db" / "o.duckdb"
    load_step(src, db)
    screen_step(db, AS_OF)
    export_step(db, work / "out")
    return _rows(work / "out")


@pytest.fixture(scope="module")
def population(tmp_path_factory):
    from screening.synth import generate

    root = tmp_path_factory.mktemp("robust")
    generate(root / "src", patients=200, seed=7, as_of=AS_OF)
    return root / "src", _run(root / "src", root / "base")


def _dxa(value_key: str, value, date_text: str = "2026-01-05", code: str = "38267-4") -> dict:
    return {"resourceType": "Observation", "id": "x-dxa", "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
            "subject": {"reference": f"Patient/{TARGET}"}, "effectiveDateTime": date_text,
            value_key: value}


def _mr(**dispense) -> dict:
    return {"resourceType": "MedicationRequest", "id": "x-mr", "status": "active", "intent": "order",
            "medicationCodeableConcept": {"coding": [{"system": RX, "code": "312617"}]},
            "subject": {"reference": f"Patient/{TARGET}"}, "authoredOn": "2026-01-01",
            "dosageInstruction": [{"timing": {"repeat": {"frequency": dispense.pop("frequency", 1),
                                                         "period": dispense.pop("period", 1), "periodUnit": "d",
                                                         **dispense.pop("repeat", {})}},
                                   "doseAndRate": [{"doseQuantity": {"value": dispense.pop("dose", 5),
                                                                     "unit": "mg"}}]}],
            "dispenseRequest": dispense}


# Raw JSON text so that NaN / Infinity / 1e400 reach the parser as written.
INJECTIONS = [
    ("Observation", orjson.dumps(_dxa("valueQuantity", {"value": "__V__", "unit": "{T-score}"})), b"1e15"),
    ("Observation", orjson.dumps(_dxa("valueQuantity", {"value": "__V__", "unit": "{T-score}"})), b"-1e15"),
    ("Observation", orjson.dumps(_dxa("valueQuantity", {"value": "__V__", "unit": "{T-score}"})), b"1e16"),
    ("Observation", orjson.dumps(_dxa("valueQuantity", {"value": "__V__", "unit": "{T-score}"})), b"1e-300"),
    ("Observation", orjson.dumps(_dxa("valueQuantity", {"value": "__V__", "unit": "{T-score}"})), b"NaN"),
    ("Observation", orjson.dumps(_dxa("valueQuantity", {"value": "__V__", "unit": "{T-score}"})), b"-Infinity"),
    ("Observation", orjson.dumps(_dxa("valueString", "__V__")), b'"1e400"'),
    ("Observation", orjson.dumps(_dxa("valueString", "__V__")), b'"-Infinity"'),
    ("Observation", orjson.dumps(_dxa("valueString", "__V__")), b'"NaN"'),
    ("Observation", orjson.dumps(_dxa("valueString", "__V__")), b'"-99999999999999999999999999"'),
    ("Observation", orjson.dumps(_dxa("valueQuantity", {"value": -3.0, "unit": "{T-score}"}, "__V__")),
     b'"9999-12-31"'),
    ("Observation", orjson.dumps(_dxa("valueQuantity", {"value": -3.0, "unit": "{T-score}"}, "__V__")),
     b'"0001-01-01"'),
    ("Observation", orjson.dumps(_dxa("valueQuantity", {"value": "__V__", "unit": "ng/mL"}, code="1989-3")),
     b"1e15"),
    ("MedicationRequest", orjson.dumps(_mr(expectedSupplyDuration={"value": "__V__", "code": "d"},
                                           numberOfRepeatsAllowed=1000)), b"3660"),
    ("MedicationRequest", orjson.dumps(_mr(expectedSupplyDuration={"value": 30, "code": "d"},
                                           numberOfRepeatsAllowed="__V__")), b"100000000"),
    ("MedicationRequest", orjson.dumps(_mr(frequency="__V__", period=1e-300)), b"10000"),
    ("MedicationRequest", orjson.dumps(_mr(frequency="__V__", period=0.001)), b"1000"),
    ("MedicationRequest", orjson.dumps(_mr(dose="__V__", repeat={"count": 100000000})), b"1e7"),
    ("MedicationRequest", orjson.dumps(_mr(quantity={"value": "__V__", "unit": "TAB"})), b"1e300"),
    ("MedicationRequest", orjson.dumps(_mr(validityPeriod={"start": "__V__"})), b'"9999-12-31"'),
    ("MedicationRequest", orjson.dumps(_mr(repeat={"boundsDuration": {"value": "__V__", "code": "a"}})), b"36600"),
]


@settings(max_examples=8, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.lists(st.sampled_from(range(len(INJECTIONS))), min_size=1, max_size=4, unique=True))
def test_extreme_values_in_one_patient_leave_the_others_byte_identical(population, tmp_path_factory, picks):
    src, baseline = population
    work = tmp_path_factory.mktemp("inj")
    shutil.copytree(src, work / "src")
    for n, i in enumerate(picks):
        rtype, template, raw = INJECTIONS[i]
        line = template.replace(b'"__V__"', raw).replace(b'"x-', f'"x{n}-'.encode())
        with open(work / "src" / f"{rtype}.ndjson", "ab") as fh:
            fh.write(line + b"\n")
    rows = _run(work / "src", work)
    others = {k: v for k, v in rows.items() if k != TARGET}
    assert others == {k: v for k, v in baseline.items() if k != TARGET}
