"""Ctrl-C while Bulk output files are downloading in parallel: DELETE, no partial files, folder cancelled,
`--since auto` untouched, and the next run starts afresh instead of resuming the cancelled export."""

from __future__ import annotations

import _thread
import threading
import time

import pytest

from screening.sources import extract
from screening.sources.landing import EXPORT_STATE, ROOT_STATE, count_lines, read_json
from tests.servers.testing import FAST, landed, log_events, server

STALL = 8.0  # seconds each stalled file download would take; the interrupt must not wait for it


def _interrupt_when_stalled(srv, n: int, deadline: float = 5.0) -> threading.Thread:
    """Interrupt the main thread (like Ctrl-C) once `n` file downloads are stalled mid-body at the server."""

    def watch():
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            with srv.lock:
                if len(srv.stalled) >= n:
                    break
            time.sleep(0.01)
        time.sleep(0.05)  # the client has the headers and half a body: its temp files are open
        _thread.interrupt_main()

    t = threading.Thread(target=watch, daemon=True)
    t.start()
    return t


def test_ctrl_c_during_parallel_downloads_cancels_cleanly_and_is_not_resumed(tmp_path):
    types = ["Patient", "Observation", "Condition"]
    with server(lines_per_file=2, gzip_encoding=False) as srv:
        # Observation-1 and -2 stall half-way (both workers busy with them); files queued after them never start
        srv.add_fault("slow", "/Observation-1.ndjson", delay=STALL)
        srv.add_fault("slow", "/Observation-2.ndjson", delay=STALL)
        watcher = _interrupt_when_stalled(srv, 2)
        started = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            extract(srv.base_url, tmp_path, mode="bulk", types=types, since="auto", retry=FAST, max_concurrency=2)
        took = time.monotonic() - started
        watcher.join(1)
        deletes = srv.seen("DELETE", "/bulkstatus/")
        files_asked = {s.path.rsplit("/", 1)[-1] for s in srv.seen("GET", "/files/")}
        job = next(iter(srv.jobs.values()))
        cancelled_dir = next(tmp_path.glob(f"*/{EXPORT_STATE}")).parent

        # the interrupt landed mid-download and did not wait for the stalled files
        assert {"Observation-1.ndjson", "Observation-2.ndjson"} <= files_asked
        assert len(files_asked) < len(job.files), "some files must still have been queued"
        assert took < STALL - 3, f"Ctrl-C waited {took:.1f} s for stalled downloads"

        # the export was cancelled at the server: one DELETE on the status URL
        assert len(deletes) == 1 and job.cancelled
        assert deletes[0].path == f"/fhir/bulkstatus/{job.id}"

        # no temp file left, nothing partial under a final name
        leftovers = [p.name for p in cancelled_dir.rglob("*") if p.name.endswith(".part")]
        assert not leftovers, leftovers
        state = read_json(cancelled_dir / EXPORT_STATE)
        manifest = read_json(cancelled_dir / "manifest.json")
        expected = {e["localFile"]: e["count"] for e in manifest["output"]}
        on_disk = {p.name for p in cancelled_dir.glob("*.ndjson*") if p.name != "log.ndjson"}
        assert "Observation.001.ndjson" not in on_disk and "Observation.002.ndjson" not in on_disk
        assert on_disk == {info["file"] for info in state["outputs"].values()}  # only finished files
        for name in on_disk:
            assert count_lines(cancelled_dir / name) == expected[name], name

        # the folder is marked cancelled; --since auto did not advance
        assert state["status"] == "cancelled"
        assert "export_cancelled" in [e["eventId"] for e in log_events(cancelled_dir)]
        assert not (tmp_path / ROOT_STATE).exists()

        # the same command again: a fresh full export in a new folder, not a resume of the cancelled one
        srv.faults.clear()
        result = extract(srv.base_url, tmp_path, mode="bulk", types=types, since="auto", retry=FAST)
        kickoffs = srv.seen("GET", "$export")

    assert not result.resumed and result.export_dir != cancelled_dir
    assert len(kickoffs) == 2 and "_since" not in kickoffs[1].query  # no transactionTime from the cancel
    assert len(landed(result.export_dir)) == 6 + 8 + len(ids_of(srv, "Condition"))
    assert read_json(cancelled_dir / EXPORT_STATE)["status"] == "cancelled"
    root = read_json(tmp_path / ROOT_STATE)
    assert [s["export_id"] for s in root["scopes"].values()] == [result.export_dir.name]


def ids_of(srv, rtype: str) -> set[str]:
    return {r["id"] for r in srv.all_resources() if r["resourceType"] == rtype}
