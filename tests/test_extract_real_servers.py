"""Extraction edge cases seen against real servers, reproduced on the loopback FHIR server (real HTTP on
127.0.0.1): a server that refuses `_type`s it does not offer, capped search paging, an incremental export with
nothing new, a resume after a crash, retry messages, and report attachments kept in Binary resources."""

from __future__ import annotations

import contextlib
import logging
import signal
import subprocess
import time

import pytest

from screening.sources import extract
from screening.sources.errors import ExportFailedError
from screening.sources.extract import DEFAULT_TYPES
from tests.servers.fhir_server import SEARCH_TYPES
from tests.servers.testing import FAST, ids, landed, log_events, server
from tests.test_cli import OSTEOSCREEN, cli, one_clear_line

RULE_TYPES = ("Encounter", "ServiceRequest", "MedicationDispense", "DocumentReference", "Practitioner",
              "Organization", "PractitionerRole")


def events(export_dir, event_id: str) -> list[dict]:
    return [e["eventDetail"] for e in log_events(export_dir) if e["eventId"] == event_id]


def _kickoff_types(srv) -> set[str]:
    from urllib.parse import parse_qs

    (kick,) = srv.seen("GET", "$export")
    return {t for v in parse_qs(kick.query)["_type"] for t in v.split(",")}


def test_default_types_are_every_type_a_rule_reads():
    assert set(RULE_TYPES) | {"Patient", "Observation", "Condition", "Procedure", "MedicationRequest",
                              "MedicationStatement", "MedicationAdministration", "Medication",
                              "DiagnosticReport"} == set(DEFAULT_TYPES)


@pytest.mark.parametrize("offered", [(), RULE_TYPES[:3], RULE_TYPES])
def test_default_types_are_cut_to_what_the_server_offers(tmp_path, offered):
    """A strict server answers a `_type` it does not offer with HTTP 400; the default list asks only for
    offered types and reports the others."""
    with server(strict_types=True, extra_types=offered) as srv:
        result = extract(srv.base_url, tmp_path / "l", mode="bulk", retry=FAST)
        asked = _kickoff_types(srv)
    offered_all = set(SEARCH_TYPES) | set(offered)
    assert asked == set(DEFAULT_TYPES) & offered_all
    assert set(result.skipped_types) == set(DEFAULT_TYPES) - offered_all
    assert result.resources == len(landed(result.export_dir)) > 0
    (planned,) = events(result.export_dir, "kickoff_planned")
    assert set(planned["skippedTypes"]) == set(result.skipped_types)


def test_explicit_types_are_sent_as_given(tmp_path):
    with server(strict_types=True) as srv:
        with pytest.raises(Exception, match="HTTP 400"):
            extract(srv.base_url, tmp_path / "l", mode="bulk", types=["Patient", "Encounter"], retry=FAST)
        assert _kickoff_types(srv) == {"Patient", "Encounter"}


def test_cli_reports_skipped_types_and_search_mode_skips_them_too(tmp_path):
    with server(strict_types=True) as srv:
        p = cli("extract", "--fhir-url", srv.base_url, "--landing", str(tmp_path / "l"), "--search",
                "--no-progress", cwd=tmp_path)
        searched = {s.path.rsplit("/", 1)[-1] for s in srv.seen("GET") if s.path.count("/") == 2}
    assert p.returncode == 0, p.stderr
    skipped = next(ln for ln in p.stdout.splitlines() if ln.startswith("skipped:"))
    assert all(t in skipped for t in RULE_TYPES)
    assert not searched & set(RULE_TYPES)


# -- capped paging --------------------------------------------------------------------------------------

@pytest.mark.parametrize("pages", [1, 2])
def test_paging_that_stops_before_bundle_total_warns_and_fails_under_strict(tmp_path, caplog, pages):
    with server(paging_stops_after=pages, max_count=2) as srv:
        with caplog.at_level(logging.WARNING):
            result = extract(srv.base_url, tmp_path / "a", mode="search", types=["Patient", "Observation"],
                             retry=FAST, page_size=2)
        got_patients = ids(result.export_dir, "Patient")
        cut_types = {t for t in ("Patient", "Observation") if len(srv.search(t, [])) > 2 * pages}
        with pytest.raises(ExportFailedError, match="stopped paging after"):
            extract(srv.base_url, tmp_path / "b", mode="search", types=["Patient"], retry=FAST, page_size=2,
                    strict=True)
        strict = cli("extract", "--fhir-url", srv.base_url, "--landing", str(tmp_path / "c"), "--search",
                     "--type", "Patient", "--strict", "--no-progress", cwd=tmp_path)
        lenient = cli("extract", "--fhir-url", srv.base_url, "--landing", str(tmp_path / "d"), "--search",
                      "--type", "Patient", "--no-progress", cwd=tmp_path)
    assert len(got_patients) == 2 * pages < 6
    assert "Patient" in cut_types and result.incomplete_searches == len(cut_types)
    cut = events(result.export_dir, "search_incomplete")
    assert {e["type"] for e in cut} == cut_types
    assert all(e["received"] < e["total"] for e in cut)
    assert any("stopped paging" in r.getMessage() for r in caplog.records)
    assert strict.returncode == 10 and "--strict" in one_clear_line(strict)
    assert lenient.returncode == 0 and "warning:   1 search(es)" in lenient.stdout, lenient.stdout


def test_complete_paging_raises_no_warning(tmp_path):
    with server(max_count=2) as srv:
        result = extract(srv.base_url, tmp_path / "a", mode="search", types=["Patient"], retry=FAST,
                         page_size=2, strict=True)
    assert result.incomplete_searches == 0 and len(ids(result.export_dir, "Patient")) == 6


# -- incremental export with nothing new ------------------------------------------------------------------

@pytest.mark.parametrize("mode,types", [("--bulk", ()), ("--search", ()),
                                        ("--bulk", ("--type", "Patient", "--type", "Condition"))])
def test_incremental_export_with_nothing_new_is_a_successful_no_op(tmp_path, mode, types):
    """`extract`, then `run --since auto` of the same scope (same --type list: `run --type` reaches the
    extraction, else the scope would differ and a full export would be loaded)."""
    landing, db = tmp_path / "landing", tmp_path / "x.duckdb"
    with server() as srv:
        # A search increment starts at the server's Date floored to the second, so resources written in that
        # same second come again (docs/extraction.md): let the fixture's second pass before the first crawl.
        time.sleep(1.1)
        first = cli("extract", "--fhir-url", srv.base_url, "--landing", str(landing), mode, *types,
                    "--no-progress", cwd=tmp_path)
        assert first.returncode == 0, first.stderr
        # `run` extracts incrementally (nothing changed), then stops before loading: no Prefect involved.
        p = cli("run", "--fhir-url", srv.base_url, "--landing", str(landing), mode, *types, "--since", "auto",
                "--db", str(db), "--out", str(tmp_path / "out"), "--as-of", "2026-06-30", cwd=tmp_path)
        assert p.returncode == 0, p.stderr
        assert "nothing new on the server" in p.stdout and "Traceback" not in p.stderr
        if types and mode == "--bulk":
            kicks = srv.seen("GET", "$export")
            assert len(kicks) == 2 and all("_type=Patient%2CCondition" in k.query for k in kicks), kicks
        second = cli("extract", "--fhir-url", srv.base_url, "--landing", str(landing), mode, *types,
                     "--since", "auto", "--no-progress", cwd=tmp_path)
    assert second.returncode == 0 and "resources: 0 in 0 files" in second.stdout, second.stdout
    export_dir = second.stdout.split()[1]
    p = cli("load", "--source", export_dir, "--db", str(db), cwd=tmp_path)
    assert p.returncode == 0 and "nothing to load" in p.stdout, p.stderr
    assert not db.exists() and not (tmp_path / "out").exists()


def test_run_type_and_strict_need_fhir_url(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "Patient.ndjson").write_text('{"resourceType": "Patient", "id": "p1"}\n')
    p = cli("run", "--source", str(src), "--type", "Patient", "--db", str(tmp_path / "x.duckdb"))
    assert p.returncode == 2 and "--fhir-url" in p.stderr and "Traceback" not in p.stderr


# -- resume after a crash -------------------------------------------------------------------------------

def test_resume_after_a_crash_removes_stale_part_files(tmp_path):
    """SIGKILL `osteoscreen extract` while a file download is stalled mid-body: its `.part` file stays.
    The resumed extraction removes it, and lands every resource exactly once."""
    landing = tmp_path / "landing"
    with server(lines_per_file=2) as srv:
        srv.add_fault("slow", "/Observation-1.ndjson", delay=60)
        proc = subprocess.Popen([str(OSTEOSCREEN), "extract", "--fhir-url", srv.base_url, "--landing",
                                 str(landing), "--bulk", "--no-progress", "--max-concurrency", "1"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path)
        try:
            for _ in range(1200):
                if srv.stalled or proc.poll() is not None:
                    break
                time.sleep(0.05)
            assert srv.stalled, proc.communicate()
            time.sleep(0.3)  # the first half of the body reaches the .part file
            proc.send_signal(signal.SIGKILL)
            proc.wait(30)
        finally:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
        stale = list(landing.rglob("*.part"))
        assert stale, "the killed download left its temp file"
        result = extract(srv.base_url, landing, mode="bulk", retry=FAST)
        expected = len([r for r in srv.all_resources() if r["resourceType"] != "Group"])
    assert result.resumed
    assert not list(landing.rglob("*.part"))
    assert result.resources == len(landed(result.export_dir)) == expected
    removed = events(result.export_dir, "stale_parts_removed")
    assert removed and removed[0]["count"] == len(stale)


# -- retry messages ------------------------------------------------------------------------------------

def test_retry_messages_name_url_and_status_without_patient_ids(tmp_path, caplog):
    with server() as srv:
        srv.add_fault("503", "GET /fhir/Condition", times=2)
        srv.add_fault("429", "GET /fhir/Patient/p2", times=1)
        with caplog.at_level(logging.WARNING, logger="screening.sources.http"):
            extract(srv.base_url, tmp_path / "l", mode="search", level="group", group_id="grp1",
                    types=["Patient", "Condition"], retry=FAST)
    lines = [r.getMessage() for r in caplog.records if r.name == "screening.sources.http"]
    assert any("HTTP 503 from" in ln and "/fhir/Condition" in ln for ln in lines), lines
    assert any("HTTP 429 from" in ln and "/fhir/Patient/:id" in ln for ln in lines), lines
    assert not any("stamina" in ln for ln in lines)
    for ln in lines:  # the patient ids of the per-patient crawl are masked in path and query
        assert "p1" not in ln and "p2" not in ln and "p3" not in ln, ln


# -- Binary attachments --------------------------------------------------------------------------------

def _with_attachments(srv) -> None:
    srv.upsert({"resourceType": "Binary", "id": "dxa-text-1", "contentType": "text/plain",
                "data": "RFhBIHJlcG9ydA=="})
    srv.upsert({"resourceType": "Binary", "id": "dxa-text-2", "contentType": "text/plain", "data": "VC0yLjk="})
    srv.upsert({"resourceType": "DiagnosticReport", "id": "dr-text", "status": "final",
                "code": {"text": "DXA"}, "subject": {"reference": "Patient/p1"},
                "presentedForm": [{"contentType": "text/plain", "url": "Binary/dxa-text-1"},
                                  {"contentType": "text/plain", "data": "aW5saW5l"},
                                  {"contentType": "text/plain", "url": "https://other.example/fhir/Binary/x"}]})
    srv.upsert({"resourceType": "DocumentReference", "id": "doc-1", "status": "current",
                "subject": {"reference": "Patient/p1"},
                "content": [{"attachment": {"contentType": "text/plain",
                                            "url": f"{srv.base_url}/Binary/dxa-text-2"}},
                            {"attachment": {"contentType": "text/plain", "url": "Binary/missing"}}]})


@pytest.mark.parametrize("mode", ["bulk", "search"])
def test_binaries_referenced_by_reports_are_fetched(tmp_path, mode):
    with server(extra_types=("DocumentReference", "Binary")) as srv:
        _with_attachments(srv)
        result = extract(srv.base_url, tmp_path / "l", mode=mode, retry=FAST)
        reads = [s.path for s in srv.seen("GET", "/fhir/Binary/")]
    got = ids(result.export_dir, "Binary")
    assert got == {"dxa-text-1", "dxa-text-2"} and result.binaries == 2
    assert sorted(reads) == ["/fhir/Binary/dxa-text-1", "/fhir/Binary/dxa-text-2", "/fhir/Binary/missing"]
    binary = landed(result.export_dir)[("Binary", "dxa-text-1")]
    assert binary["data"] == "RFhBIHJlcG9ydA=="
    (event,) = events(result.export_dir, "binaries")
    assert event["fetched"] == 2 and event["not_found"] == 1 and event["other_server"] == 1


def test_binaries_are_not_asked_for_when_the_server_does_not_offer_them(tmp_path):
    with server(extra_types=("DocumentReference",)) as srv:
        _with_attachments(srv)
        result = extract(srv.base_url, tmp_path / "l", mode="search", retry=FAST)
        assert not srv.seen("GET", "/fhir/Binary/")
    assert result.binaries == 0
    assert events(result.export_dir, "binaries_skipped")


def test_cli_summary_counts_binaries(tmp_path):
    with server(extra_types=("DocumentReference", "Binary")) as srv:
        _with_attachments(srv)
        p = cli("extract", "--fhir-url", srv.base_url, "--landing", str(tmp_path / "l"), "--no-progress",
                cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert "binaries:  2 Binary resources" in p.stdout


def test_server_error_text_echoing_a_patient_reference_is_masked(tmp_path):
    with server() as srv:
        srv.add_fault("outcome", "GET /fhir/Patient", status=403, times=100,
                      text="access to Patient/p1 and Patient/p2 denied")
        p = cli("extract", "--fhir-url", srv.base_url, "--landing", str(tmp_path / "l"), "--search",
                "--type", "Patient", "--no-progress", cwd=tmp_path)
    line = one_clear_line(p)
    assert p.returncode == 6 and "access to Patient/:id and Patient/:id denied" in line, line
    assert "p1" not in line and "p2" not in line
