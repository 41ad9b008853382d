"""Bulk Data $export against the loopback FHIR server: levels, parameters, polling, files, errors, cancel."""

from __future__ import annotations

import _thread
import threading

import orjson
import pytest

from screening.sources import ExportFailedError, extract
from screening.sources.landing import EXPORT_STATE, read_json
from tests.servers.testing import FAST, check_private, ids, landed, log_events, server


def test_system_export_lands_every_file_with_manifest_log_and_private_modes(tmp_path):
    with server(lines_per_file=3) as srv:
        result = extract(srv.base_url, tmp_path / "landing", mode="bulk", retry=FAST)
        kick = srv.seen("GET", "$export")[0]
    d = result.export_dir
    assert result.mode == "bulk" and d.parent == tmp_path / "landing"
    assert result.resources == len(landed(d)) == 27  # every resource except the Group
    assert result.files == 12 and result.errors == 0 and result.deleted == 0
    assert sorted(p.name for p in d.glob("Observation.*.ndjson")) == [
        "Observation.000.ndjson",
        "Observation.001.ndjson",
        "Observation.002.ndjson",
    ]
    manifest = read_json(d / "manifest.json")
    assert manifest["transactionTime"] == result.transaction_time
    assert all(e["localFile"] and (d / e["localFile"]).is_file() for e in manifest["output"])
    events = [e["eventId"] for e in log_events(d)]
    assert events[:2] == ["kickoff_planned", "kickoff"] and "export_complete" in events
    assert "_type=Patient%2CObservation" in kick.query or "_type=Patient,Observation" in kick.query
    check_private(tmp_path / "landing")
    # the loader's contract: one resource type per file
    for f in d.glob("*.ndjson"):
        if f.name != "log.ndjson":
            types = {orjson.loads(line)["resourceType"] for line in f.read_bytes().splitlines()}
            assert types == {f.name.split(".")[0]}


def test_group_level_with_type_and_type_filter(tmp_path):
    with server() as srv:
        result = extract(
            srv.base_url,
            tmp_path,
            mode="bulk",
            level="group",
            group_id="grp1",
            types=["Patient", "Observation", "Condition"],
            type_filters=["Observation?category=laboratory"],
            retry=FAST,
        )
        kick = srv.seen("GET", "Group/grp1/$export")
    assert len(kick) == 1 and "_typeFilter=Observation" in kick[0].query
    got = landed(result.export_dir)
    assert ids(result.export_dir, "Patient") == {"p1", "p2", "p3"}
    assert ids(result.export_dir, "Observation") == {"lab-p3-vitd", "lab-p3-pth"}
    assert {t for t, _ in got} == {"Patient", "Observation", "Condition"}


def test_patient_level_export_hydrates_medications_outside_the_compartment(tmp_path):
    with server() as srv:
        result = extract(srv.base_url, tmp_path, mode="bulk", level="patient", retry=FAST)
        kick = srv.seen("GET", "Patient/$export")[0]
    assert "Medication%2C" not in kick.query and ",Medication," not in kick.query
    assert ids(result.export_dir, "Medication") == {
        "med-pred",
        "med-ome",
        "med-mp",
    }  # via medicationReference
    assert result.hydrated == 3


def test_polling_honours_retry_after_and_records_x_progress(tmp_path):
    with server(polls_before_ready=2, poll_retry_after="1") as srv:
        extract(srv.base_url, tmp_path, mode="bulk", types=["Patient"], retry=FAST)
        polls = srv.seen("GET", "/bulkstatus/")
    assert len(polls) == 3
    gaps = [b.at - a.at for a, b in zip(polls, polls[1:], strict=False)]
    assert min(gaps) >= 0.95, gaps
    progress = [e for e in log_events(next(tmp_path.glob("*-bulk"))) if e["eventId"] == "status_progress"]
    assert progress[0]["eventDetail"]["xProgress"] == "33% complete"


def test_gzip_content_encoding_and_gzip_files(tmp_path):
    with server(gzip_encoding=True) as srv:
        a = extract(srv.base_url, tmp_path / "a", mode="bulk", types=["Observation"], retry=FAST)
        files_seen = srv.seen("GET", "/files/")
    assert [p.name for p in a.export_dir.glob("Observation*")] == ["Observation.000.ndjson"]  # decoded
    with server(gzip_files=True) as srv:
        b = extract(srv.base_url, tmp_path / "b", mode="bulk", types=["Observation"], retry=FAST)
    assert [p.name for p in b.export_dir.glob("Observation*")] == ["Observation.000.ndjson.gz"]
    assert a.resources == b.resources == 8

    def strip(d):
        return {k: {f: v for f, v in r.items() if f != "meta"} for k, r in d.items()}

    assert strip(landed(a.export_dir)) == strip(landed(b.export_dir))
    assert all("gzip" in s.accept_encoding for s in files_seen)


def test_error_outcomes_are_recorded_apart_and_reported(tmp_path):
    errs = [
        {
            "resourceType": "OperationOutcome",
            "issue": [
                {"severity": "error", "code": "processing", "diagnostics": "resource could not be exported"}
            ],
        },
        {
            "resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": "too-costly", "diagnostics": "skipped"}],
        },
    ]
    with server(export_errors=errs) as srv:
        result = extract(srv.base_url, tmp_path, mode="bulk", types=["Patient"], retry=FAST)
    d = result.export_dir
    assert result.errors == 2 and result.error_codes == {"processing": 1, "too-costly": 1}
    assert (d / "errors" / "OperationOutcome.000.ndjson").is_file()
    assert ("OperationOutcome", None) not in {(t, None) for t, _ in landed(d)}
    done = [e for e in log_events(d) if e["eventId"] == "export_complete"][0]["eventDetail"]
    assert done["errors"] == 2 and "diagnostics" not in orjson.dumps(done).decode()


def test_failed_export_job_gives_the_operation_outcome_text(tmp_path):
    with server() as srv:
        srv.fail_jobs = True
        with pytest.raises(ExportFailedError) as exc:
            extract(srv.base_url, tmp_path, mode="bulk", retry=FAST)
    msg = str(exc.value)
    assert "HTTP 500" in msg and "database unavailable" in msg and "/bulkstatus/" in msg


def test_server_file_names_and_types_are_sanitized(tmp_path):
    with server(evil_names=True) as srv:
        result = extract(srv.base_url, tmp_path / "landing", mode="bulk", types=["Patient"], retry=FAST)
    files = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*.ndjson"))
    assert all(str(p).startswith("landing/") for p in files)
    assert [p.name for p in result.export_dir.glob("*.ndjson") if p.name != "log.ndjson"] == [
        "Patient.000.ndjson"
    ]
    assert result.resources == 6


def test_ctrl_c_while_polling_cancels_the_export_with_delete(tmp_path):
    with server(polls_before_ready=1000, poll_retry_after="0.1") as srv:
        polls = []

        def interrupt(method, path):
            if "/bulkstatus/" in path and method == "GET":
                polls.append(path)
                if len(polls) == 3:
                    threading.Timer(0.05, _thread.interrupt_main).start()

        srv.on_request = interrupt
        with pytest.raises(KeyboardInterrupt):
            extract(srv.base_url, tmp_path, mode="bulk", retry=FAST)
        deletes = srv.seen("DELETE", "/bulkstatus/")
        job = next(iter(srv.jobs.values()))
    assert len(deletes) == 1 and job.cancelled and job.polls < 1000
    state = read_json(next(tmp_path.glob(f"*/{EXPORT_STATE}")))
    assert state["status"] == "cancelled"
    assert not (tmp_path / ".osteoscreen-extract.json").exists()  # not a successful export


def test_auto_mode_uses_bulk_when_offered_and_search_otherwise(tmp_path):
    with server(bulk=True) as srv:
        assert extract(srv.base_url, tmp_path / "a", retry=FAST).mode == "bulk"
    with server(bulk=False) as srv:
        result = extract(srv.base_url, tmp_path / "b", retry=FAST)
        assert result.mode == "search" and not srv.seen(contains="$export")
    assert result.resources == 27
