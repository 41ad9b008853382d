"""Faults: 429 + Retry-After, 503, dropped connections, give-up errors, and resume after a crash."""

from __future__ import annotations

import socket

import pytest

from screening.sources import FhirServerError, ServerUnreachableError, extract
from screening.sources.landing import EXPORT_STATE, read_json
from tests.servers.testing import FAST, ids, landed, log_events, server


def test_429_with_retry_after_is_honoured(tmp_path):
    with server() as srv:
        srv.add_fault("429", "GET /files/", times=1, retry_after="1")
        result = extract(srv.base_url, tmp_path, mode="bulk", types=["Patient"], retry=FAST)
        downloads = srv.seen("GET", "/files/")
    assert result.resources == 6 and len(downloads) == 2
    assert downloads[1].at - downloads[0].at >= 0.95


def test_503_on_kickoff_status_and_search_is_retried(tmp_path):
    with server() as srv:
        srv.add_fault("503", "GET /fhir/$export", times=1, retry_after=None)
        srv.add_fault("503", "GET /fhir/bulkstatus/", times=2, retry_after="0")
        a = extract(srv.base_url, tmp_path / "a", mode="bulk", types=["Patient"], retry=FAST)
        srv.add_fault("503", "GET /fhir/Patient", times=2, retry_after=None)
        b = extract(srv.base_url, tmp_path / "b", mode="search", types=["Patient"], retry=FAST)
    assert a.resources == b.resources == 6


def test_dropped_connection_mid_file_restarts_that_file(tmp_path):
    with server(lines_per_file=2) as srv:
        srv.add_fault("drop", "GET /files/", times=2, after=1)
        result = extract(srv.base_url, tmp_path, mode="bulk", types=["Observation"], retry=FAST)
        drops = srv.faults[0].fired
    assert drops == 2 and ids(result.export_dir, "Observation") == {
        "dxa-p1-z",
        "dxa-p1-t",
        "dxa-p2-z",
        "lab-p3-vitd",
        "lab-p3-pth",
        "dxa-p4-t",
        "vs-p5",
        "dxa-p6-z",
    }
    assert not list(result.export_dir.glob(".*.part"))  # no temp files left behind


def test_persistent_503_gives_up_with_status_and_redacted_url(tmp_path):
    with server() as srv:
        srv.add_fault("503", "GET /fhir/Condition", times=100, retry_after="0", text="maintenance window")
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
    assert (
        "HTTP 503" in msg
        and "maintenance window" in msg
        and "patient=***" in msg
        and "after 4 attempts" in msg
    )


def test_unreachable_server_is_a_clear_error(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ServerUnreachableError) as exc:
        extract(f"http://127.0.0.1:{port}/fhir", tmp_path, mode="search", retry=FAST)
    assert "ConnectError" in str(exc.value)


def test_bulk_resume_after_crash_skips_finished_files(tmp_path):
    with server(lines_per_file=2) as srv:
        srv.add_fault("drop", "Observation-3.ndjson", times=100)  # one file keeps failing: the run dies
        with pytest.raises(ServerUnreachableError):
            extract(
                srv.base_url,
                tmp_path,
                mode="bulk",
                types=["Patient", "Observation"],
                retry=FAST,
                max_concurrency=1,
            )
        state = read_json(next(tmp_path.glob(f"*/{EXPORT_STATE}")))
        # local Observation.001.ndjson <- server Observation-1.ndjson
        finished_before = {
            f"{t}-{int(n)}.ndjson"
            for t, n, _ in (o["file"].split(".", 2) for o in state["outputs"].values())
        }
        srv.faults.clear()
        n_before = len(srv.seen("GET", "/files/"))
        result = extract(srv.base_url, tmp_path, mode="bulk", types=["Patient", "Observation"], retry=FAST)
        later = srv.seen("GET", "/files/")[n_before:]
        kickoffs = srv.seen("GET", "$export")
    assert result.resumed and len(kickoffs) == 1  # re-attached to the same job
    refetched = {s.path.rsplit("/", 1)[-1] for s in later}
    assert finished_before and not finished_before & refetched, (finished_before, refetched)
    assert len(landed(result.export_dir)) == 14
    assert any(e["eventId"] == "download_resume" for e in log_events(result.export_dir))


def test_crawl_resume_after_crash_skips_finished_units(tmp_path):
    with server() as srv:
        srv.add_fault("outcome", "GET /fhir/Procedure", status=500, times=100)
        with pytest.raises(FhirServerError):
            extract(
                srv.base_url,
                tmp_path,
                mode="search",
                types=["Patient", "Condition", "Procedure"],
                retry=FAST,
                max_concurrency=1,
            )
        srv.faults.clear()
        before = len(srv.seen("GET"))
        result = extract(
            srv.base_url, tmp_path, mode="search", types=["Patient", "Condition", "Procedure"], retry=FAST
        )
        again = {s.path for s in srv.seen("GET")[before:]}
    assert result.resumed
    assert "/fhir/Patient" not in again and "/fhir/Condition" not in again and "/fhir/Procedure" in again
    assert (
        ids(result.export_dir, "Procedure") == {"proc-p4"} and len(ids(result.export_dir, "Patient")) == 6
    )
