"""REST search crawl on the loopback FHIR server: paging, filters, per-patient crawl, fallbacks, hydration."""

from __future__ import annotations

import pytest

from screening.sources import ExportFailedError, FhirServerError, extract
from screening.sources.landing import read_json
from tests.servers.testing import FAST, check_private, ids, landed, log_events, server

ALL_OBS = {"dxa-p1-z", "dxa-p1-t", "dxa-p2-z", "lab-p3-vitd", "lab-p3-pth", "dxa-p4-t", "vs-p5", "dxa-p6-z"}


def test_type_wide_search_pages_with_count_and_hydrates_references(tmp_path):
    with server() as srv:
        result = extract(srv.base_url, tmp_path, mode="search", page_size=2, retry=FAST)
        pages = srv.seen("GET", "/fhir/Patient")
        first = pages[0].query
    d = result.export_dir
    assert "_count=2" in first and len(pages) == 3  # 6 patients, 2 per page, next links followed
    got = landed(d)
    assert result.resources == len(got) == 27
    # hidden DXA Observations come only through DiagnosticReport.result; Medications via medicationReference
    assert ids(d, "Observation") == ALL_OBS
    assert ids(d, "Medication") == {"med-pred", "med-ome", "med-mp"}  # contained #m1 not fetched
    assert result.hydrated == 7
    manifest = read_json(d / "manifest.json")
    assert manifest["transactionTime"] == result.transaction_time and manifest["output"]
    assert all((d / o["localFile"]).is_file() for o in manifest["output"])
    check_private(tmp_path)


def test_observation_by_loinc_code_and_category(tmp_path):
    with server() as srv:
        result = extract(
            srv.base_url,
            tmp_path,
            mode="search",
            types=["Observation"],
            type_filters=[
                "Observation?code=http://loinc.org|1989-3,http://loinc.org|2731-8",
                "Observation?category=vital-signs",
            ],
            retry=FAST,
        )
        queries = [s.query for s in srv.seen("GET", "/fhir/Observation")]
    assert any("code=http" in q for q in queries) and any("category=vital-signs" in q for q in queries)
    assert ids(result.export_dir, "Observation") == {"lab-p3-vitd", "lab-p3-pth", "vs-p5"}


def test_observation_search_without_category_refused_then_done_per_category(tmp_path):
    with server(obs_requires_category=True) as srv:
        result = extract(srv.base_url, tmp_path, mode="search", level="patient", retry=FAST)
    assert ids(result.export_dir, "Observation") == ALL_OBS
    events = [e["eventId"] for e in log_events(result.export_dir)]
    assert "observation_category_required" in events


def test_per_patient_crawl_uses_patient_scoped_searches(tmp_path):
    with server() as srv:
        result = extract(srv.base_url, tmp_path, mode="search", level="patient", retry=FAST)
        cond = srv.seen("GET", "/fhir/Condition")
    assert len(cond) == 6 and all("patient=" in s.query for s in cond)
    assert result.resources == 27
    assert ids(result.export_dir, "Patient") == {f"p{i}" for i in range(1, 7)}


def test_group_crawl_reads_members_only(tmp_path):
    with server() as srv:
        result = extract(srv.base_url, tmp_path, mode="search", level="group", group_id="grp1", retry=FAST)
    assert ids(result.export_dir, "Patient") == {"p1", "p2", "p3"}
    assert ids(result.export_dir, "Observation") == {
        "dxa-p1-z",
        "dxa-p1-t",
        "dxa-p2-z",
        "lab-p3-vitd",
        "lab-p3-pth",
    }
    assert ids(result.export_dir, "Medication") == {"med-pred", "med-ome"}


def test_medication_statement_missing_from_capability_falls_back_to_medication_request(tmp_path):
    with server(medication_statement=False) as srv:
        result = extract(
            srv.base_url, tmp_path, mode="search", types=["Patient", "MedicationStatement"], retry=FAST
        )
        asked = {s.path for s in srv.seen("GET")}
    assert "/fhir/MedicationStatement" not in asked and "/fhir/MedicationRequest" in asked
    assert ids(result.export_dir, "MedicationRequest") == {"mr-p1", "mr-p6"}
    assert any(e["eventId"] == "fallback" for e in log_events(result.export_dir))


def test_malformed_bundle_is_retried_then_reported(tmp_path):
    with server() as srv:
        srv.add_fault("malformed", "GET /fhir/Condition", times=1)
        result = extract(srv.base_url, tmp_path / "a", mode="search", types=["Condition"], retry=FAST)
        assert ids(result.export_dir, "Condition") == {"c-p1-ra", "c-p2-celiac"}
        srv.add_fault("malformed", "GET /fhir/Procedure", times=100)
        with pytest.raises(ExportFailedError) as exc:
            extract(srv.base_url, tmp_path / "b", mode="search", types=["Procedure"], retry=FAST)
    assert "malformed Bundle" in str(exc.value) and "/fhir/Procedure" in str(exc.value)


def test_operation_outcome_refusal_is_one_clear_line_without_ids(tmp_path):
    with server() as srv:
        srv.add_fault(
            "outcome",
            "GET /fhir/Condition",
            status=403,
            times=100,
            text="access to Condition denied for this client",
        )
        with pytest.raises(FhirServerError) as exc:
            extract(
                srv.base_url,
                tmp_path,
                mode="search",
                level="patient",
                types=["Patient", "Condition"],
                retry=FAST,
            )
    msg = str(exc.value)
    assert exc.value.status == 403 and "\n" not in msg
    assert "HTTP 403" in msg and "access to Condition denied" in msg and "/fhir/Condition" in msg
    assert "patient=***" in msg and "p1" not in msg  # the patient id is masked
