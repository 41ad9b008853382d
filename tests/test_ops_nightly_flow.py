"""Issue 12.2: the `nightly` flow extracts into a dated folder, repoints landing/latest, screens it; a rerun after
a failure loads the export already landed instead of extracting again (runs under the session Prefect harness)."""

from __future__ import annotations

import os
from datetime import date

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
