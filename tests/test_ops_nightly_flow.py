"""Issue 12.2: the `nightly` flow extracts into a dated folder, repoints landing/latest, screens it; a rerun after
a failure loads the export already landed instead of extracting again (runs under the session Prefect harness)."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest

from tests.servers.testing import server


@pytest.mark.prefect
def test_nightly_rerun_after_failure_does_not_extract_again(tmp_path):
    from flows.nightly import nightly

    landing, out = tmp_path / "landing", tmp_path / "out"
    blocker = tmp_path / "data"
    blocker.write_text("not a folder")  # the first run fails before its load: the database folder is a file
    db = blocker / "w.duckdb"
    with server(lines_per_file=5) as srv:
        with pytest.raises(Exception):  # noqa: B017 - any failure of the run will do
            nightly(srv.base_url, str(landing), str(db), str(out), as_of=date(2026, 6, 30), mode="bulk")
        kickoffs = len(srv.seen(contains="$export"))
        assert kickoffs >= 1
        latest = landing / "latest"
        assert latest.is_symlink() and not os.path.isabs(os.readlink(latest))
        export = latest.resolve()
        assert export.parent == landing.resolve() and (export / "manifest.json").is_file()

        blocker.unlink()
        summary = nightly(srv.base_url, str(landing), str(db), str(out), as_of=date(2026, 6, 30), mode="bulk")
        assert summary["extract"].get("skipped") is True
        assert len(srv.seen(contains="$export")) == kickoffs, "the rerun must not extract again"
        assert summary["load"]["loaded"] > 0 and (out / "worklist.csv").is_file()
        assert latest.resolve() == export

        # The next night: the latest export is loaded now, so a new (incremental) extraction happens.
        srv.upsert({"resourceType": "Patient", "id": "p-new", "gender": "female", "birthDate": "1950-01-01"})
        third = nightly(srv.base_url, str(landing), str(db), str(out), as_of=date(2026, 6, 30), mode="bulk")
        assert "skipped" not in third["extract"]
        assert len(srv.seen(contains="$export")) > kickoffs
        assert latest.resolve() != export and latest.resolve().parent == landing.resolve()
        assert third["load"]["loaded"] >= 1


@pytest.mark.prefect
def test_extraction_rerun_uses_the_download_cache_keyed_on_transaction_time(tmp_path, monkeypatch):
    """A download fails; the rerun re-attaches to the same export (same transactionTime), and the files already
    fetched come from Prefect's cache (state Cached) instead of running again."""
    import asyncio

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    import flows.extract_flow as ef

    monkeypatch.setattr(ef, "download_task", ef.download_task.with_options(retries=0))  # fail fast in the test

    async def task_states(flow_run_id) -> dict[str, list[str]]:
        # Task-run states reach the API asynchronously: read again until every run has one (a bounded wait).
        async with get_client() as client:
            for _ in range(100):
                runs = await client.read_task_runs(
                    flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
                if all(r.state is not None for r in runs):
                    break
                await asyncio.sleep(0.2)
        out: dict[str, list[str]] = {}
        for r in runs:
            out.setdefault(r.task_key.rsplit("-", 1)[0] if r.task_key else r.name, []).append(r.state.name)
        return {k: sorted(v) for k, v in out.items()} | {"_names": sorted(r.name for r in runs)}

    with server(lines_per_file=2) as srv:
        srv.add_fault("outcome", "GET /files/", times=1, after=3, status=400)
        first = ef.extract_fhir(srv.base_url, str(tmp_path), mode="bulk", max_concurrency=1, return_state=True)
        assert first.is_failed()
        assert not (tmp_path / "latest").exists(), "an unfinished export never becomes latest"
        second = ef.extract_fhir(srv.base_url, str(tmp_path), mode="bulk", max_concurrency=1, return_state=True)
        assert second.is_completed()
        result = second.result()
        assert result["resumed"] is True and (tmp_path / "latest").resolve().name == Path(result["export_dir"]).name
    states = asyncio.run(task_states(second.state_details.flow_run_id))
    download_states = [s for name, v in states.items() if name.startswith("download") for s in v]
    assert download_states.count("Cached") == 3, states  # the three files fetched before the failure
    assert "Completed" in download_states
