"""Issue 5: run the whole pipeline (the real Prefect flow) on data with distinctive identifiers and values,
then scan everything written outside the output folder — logs, Prefect's database and artifacts, results,
temp files — and find none of them. The worklist itself must contain them (positive control)."""

from __future__ import annotations

import logging
import os
import re
import tempfile
import time
from datetime import date
from pathlib import Path

import pytest

from tests.conftest import write_ndjson

NAME_FAMILY, NAME_GIVEN = "Quixotefeather", "Zebulonia"
MRN = "MRN-ZX-998877"
BIRTH = "1931-07-19"
ZVALUE = "-3.1415"
PID = "phi-patient-7f3a"
MARKERS = [NAME_FAMILY, NAME_GIVEN, MRN, BIRTH, ZVALUE, PID]


def planted(folder: Path) -> Path:
    rx = "http://www.nlm.nih.gov/research/umls/rxnorm"
    write_ndjson(folder / "Patient.ndjson", [{
        "resourceType": "Patient", "id": PID, "gender": "female", "birthDate": BIRTH,
        "identifier": [{"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                                             "code": "MR"}]}, "value": MRN}],
        "name": [{"family": NAME_FAMILY, "given": [NAME_GIVEN]}]}])
    write_ndjson(folder / "Observation.ndjson", [{
        "resourceType": "Observation", "id": "phi-obs-1", "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "85394-5"}]},
        "subject": {"reference": f"Patient/{PID}"}, "effectiveDateTime": "2026-03-01",
        "valueQuantity": {"value": float(ZVALUE), "unit": "{Z-score}", "system": "http://unitsofmeasure.org",
                          "code": "{Z-score}"}}])
    write_ndjson(folder / "MedicationStatement.ndjson", [{
        "resourceType": "MedicationStatement", "id": "phi-ms-1", "status": "active",
        "medicationCodeableConcept": {"coding": [{"system": rx, "code": "312615",
                                                  "display": "prednisone 20 MG Oral Tablet"}]},
        "subject": {"reference": f"Patient/{PID}"}, "effectivePeriod": {"start": "2025-09-01"},
        "dosage": [{"route": {"coding": [{"system": "http://snomed.info/sct", "code": "26643006",
                                          "display": "Oral route"}]},
                    "timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}},
                    "doseAndRate": [{"doseQuantity": {"value": 1, "unit": "TAB"}}]}]}])
    return folder


def files_changed_since(root: Path, t0: float, exclude: list[Path]) -> list[Path]:
    found = []
    for dirpath, _dirs, files in os.walk(root):
        if any(Path(dirpath).is_relative_to(e) for e in exclude):
            continue
        for name in files:
            p = Path(dirpath) / name
            try:
                if p.stat().st_mtime >= t0 and p.is_file():
                    found.append(p)
            except OSError:
                continue
    return found


@pytest.mark.prefect
def test_no_phi_outside_the_output_folder(tmp_path, caplog, capfd, monkeypatch):
    """Temp files are scanned in a temp folder of this test's own (Python's tempfile is pointed at it during
    the run), never the shared /tmp, where other processes' files come and go."""
    import prefect.settings
    from prefect.client.orchestration import get_client

    from flows.screening_pipeline import screening_pipeline

    src = planted(tmp_path / "input")
    out = tmp_path / "out"
    own_tmp = tmp_path / "tmp"
    own_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(own_tmp))
    t0 = time.time() - 1
    caplog.set_level(logging.DEBUG)
    summary = screening_pipeline(str(src), str(out / "osteo.duckdb"), str(out), date(2026, 6, 30))

    worklist = (out / "worklist.csv").read_text()
    assert all(m in worklist for m in [NAME_FAMILY, MRN, BIRTH, PID]), "positive control: patient must be listed"
    assert oct((out / "worklist.csv").stat().st_mode & 0o777) == "0o600"
    assert oct((out / "osteo.duckdb").stat().st_mode & 0o777) == "0o600"

    leaks: list[str] = []
    pattern = re.compile("|".join(re.escape(m) for m in MARKERS))
    captured = capfd.readouterr()
    for where, text in [("log records", "\n".join(r.getMessage() for r in caplog.records)),
                        ("stdout", captured.out), ("stderr", captured.err), ("flow result", repr(summary))]:
        leaks += [f"{where}: {m}" for m in set(pattern.findall(text))]

    # Prefect's API database (the harness's temp SQLite) and PREFECT_HOME, plus every new temp file.
    db_url = prefect.settings.PREFECT_API_DATABASE_CONNECTION_URL.value() or ""
    roots = {Path(os.environ["PREFECT_HOME"]), Path.home() / ".prefect"}
    db_file = Path(db_url.split("///", 1)[1]) if "///" in db_url else None
    scanned = files_changed_since(own_tmp, t0, exclude=[src, out])
    for root in roots:
        if root.exists():
            scanned += files_changed_since(root, t0, exclude=[src, out])
    if db_file is not None:
        scanned += [p for p in db_file.parent.glob(db_file.name + "*")]
    assert scanned, "expected Prefect to have written something to scan"
    for p in set(scanned):
        try:
            data = p.read_bytes()
        except FileNotFoundError:  # a temp file removed since the walk
            continue
        for m in MARKERS:
            if m.encode() in data:
                leaks.append(f"{p}: {m}")

    import asyncio

    async def artifacts():
        async with get_client() as client:
            return await client.read_artifacts()

    for a in asyncio.run(artifacts()):
        leaks += [f"artifact {a.key}: {m}" for m in MARKERS if m in str(a.data) + str(a.description)]
    assert leaks == [], leaks


def test_sql_never_receives_config_or_cli_values_as_text():
    """Values reach SQL as bound parameters: no f-string or %-formatting builds SQL in the package."""
    root = Path(__file__).resolve().parents[1]
    offenders = []
    for path in list((root / "screening").rglob("*.py")) + list((root / "flows").rglob("*.py")):
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r"\.(execute|sql|query)\(\s*f[\"']", line) and "DROP TABLE IF EXISTS {t}" not in line:
                offenders.append(f"{path.relative_to(root)}:{n}: {line.strip()}")
            if re.search(r"\.(execute|sql|query)\(.*[\"']\s*%\s*\(", line):
                offenders.append(f"{path.relative_to(root)}:{n}: {line.strip()}")
    assert offenders == []


@pytest.mark.prefect
def test_a_crashing_step_leaks_no_patient_value(tmp_path, caplog, capfd, monkeypatch):
    """A real DuckDB error that quotes a patient's name, raised inside the load task of the real flow: Prefect
    logs and stores the failed task's exception, so the exception itself must carry no patient value. The
    original stays reachable for --debug (positive control)."""
    import asyncio

    import prefect.settings
    from prefect.client.orchestration import get_client

    import screening.pipeline as pipeline
    from flows.screening_pipeline import screening_pipeline
    from screening.errors import UnexpectedError

    real = pipeline.load_source

    def load_then_crash(con, source):
        result = real(con, source)
        con.execute("SELECT CAST(json_extract_string(body, '$.name[0].family') AS INTEGER) FROM resource_raw "
                    "WHERE resource_type = 'Patient'").fetchall()
        return result

    monkeypatch.setattr(pipeline, "load_source", load_then_crash)
    src = planted(tmp_path / "input")
    out = tmp_path / "out"
    caplog.set_level(logging.DEBUG)
    with pytest.raises(UnexpectedError) as info:
        screening_pipeline(str(src), str(out / "osteo.duckdb"), str(out), date(2026, 6, 30))
    assert NAME_FAMILY in str(info.value.original), "positive control: the DuckDB error quoted the name"
    assert NAME_FAMILY not in str(info.value) and "ConversionException" in str(info.value)

    captured = capfd.readouterr()
    texts = {"log records": "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records),
             "stdout": captured.out, "stderr": captured.err}
    assert "load step failed" in captured.err + texts["log records"], "Prefect did report the failure"

    async def runs():
        async with get_client() as client:
            return await client.read_flow_runs(limit=20)

    texts["flow run states"] = "\n".join(str(r.state.message if r.state else "") for r in asyncio.run(runs()))
    db_url = prefect.settings.PREFECT_API_DATABASE_CONNECTION_URL.value() or ""
    if "///" in db_url:
        db_file = Path(db_url.split("///", 1)[1])
        for p in db_file.parent.glob(db_file.name + "*"):
            texts[str(p)] = p.read_bytes().decode("latin-1")
    leaks = [where for where, text in texts.items() if NAME_FAMILY in text or PID in text]
    assert leaks == [], leaks
