"""Issue 12.7: a partitioned run is the single-process run's full equivalent: the same export options
(--deidentify here, write-back in the CLI test), the same output files (worklist.csv and every other file byte for
byte where nothing run-specific is in it, else after taking out the run id and folder), the same run report and
an analytics snapshot published from the merged result with the same rows; N = 1, 3, 8 on a thread pool and N = 3
on a 2-worker Dask LocalCluster through prefect-dask. Shared resources are counted once; linked patients share a
partition; history and dispositions carry across partitioned runs as across single-process ones."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import pytest

from screening.partition import run_partitioned, split_source
from screening.pipeline import run_pipeline
from tests.conftest import write_ndjson
from tests.partition_compare import analytics_rows, assert_same_outputs

AS_OF = date(2026, 6, 30)
BIN = Path(sys.executable).parent


def _salt(root: Path) -> Path:
    salt = root / "salt"
    salt.write_text("partition-test-salt-5f2c9e71a0b4d3\n")
    salt.chmod(0o600)
    return salt


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    from screening.synth import generate

    root = tmp_path_factory.mktemp("partition")
    generate(root / "src", patients=200, seed=9, as_of=AS_OF)
    opts = {"deidentify": True, "salt_file": str(_salt(root))}
    summary = run_pipeline(root / "src", root / "single.duckdb", root / "single", AS_OF, export_options=opts)
    return root, summary, opts


def _check_equivalent(root: Path, base: dict, merged: dict, name: str) -> None:
    compared = assert_same_outputs(root / "single", root / name)
    assert {"worklist-deidentified.csv", "run-report.json", "worklist.xlsx", "tasks.ndjson"} <= set(compared)
    for key in ("records_read", "loaded", "quarantined", "patients", "files"):  # shared resources counted once
        assert merged["load"][key] == base["load"][key], key
    assert merged["export"]["listed"] == base["export"]["listed"] > 0
    fin = merged["finish"]
    assert fin["snapshot_published"] and fin["new"] == base["finish"]["new"] == base["export"]["listed"]
    snap = Path(fin["snapshot"])
    assert snap == root / f"{name}.analytics.duckdb"
    assert analytics_rows(snap) == analytics_rows(Path(base["finish"]["snapshot"]))
    con = duckdb.connect(str(snap), read_only=True)
    (source, read, status), = con.execute("SELECT source, records_read, status FROM analytics.loads").fetchall()
    con.close()
    assert source == str(root / "src") and read == base["load"]["records_read"] and status == "committed"


@pytest.mark.parametrize("n", [1, 3, 8])
def test_partitioned_run_is_the_single_process_run(single, n):
    root, base, opts = single
    merged = run_partitioned(root / "src", root / f"p{n}.duckdb", root / f"p{n}", AS_OF, n, workers=2,
                             memory_mb=1024, export_options=opts)
    _check_equivalent(root, base, merged, f"p{n}")
    assert len(list((root / f"p{n}.partitions").glob("part-*.duckdb"))) == n


def test_history_and_dispositions_carry_across_partitioned_runs(tmp_path):
    """Three runs of the changing worklist population (new, changed, resolved, dispositions recorded with the
    CLI between runs) single-process and partitioned into its own --db: the same worklist, resolved list and
    statuses every run, and the same worklist status and last disposition in the analytics snapshot."""
    from tests.test_worklist_support import AS_OF as DAYS
    from tests.test_worklist_support import write_population

    dbs = {"single": tmp_path / "s" / "w.duckdb", "part": tmp_path / "p" / "w.duckdb"}
    per_run = {}
    for run in (1, 2, 3):
        src = write_population(tmp_path / "src", run)
        s = run_pipeline(src, dbs["single"], tmp_path / f"single-{run}", DAYS[run - 1])
        p = run_partitioned(src, dbs["part"], tmp_path / f"part-{run}", DAYS[run - 1], 3)
        for name in ("worklist.csv", "resolved.csv"):
            assert (tmp_path / f"single-{run}" / name).read_bytes() == (tmp_path / f"part-{run}" / name).read_bytes()
        assert p["export"]["summary"]["resolved"] == s["export"]["summary"]["resolved"]
        views = []
        for summary in (s, p):
            con = duckdb.connect(summary["finish"]["snapshot"], read_only=True)
            views.append(con.execute("SELECT patient_id, worklist_status, resolved_reason, last_disposition, "
                                     "suppressed, first_listed FROM analytics.patient ORDER BY patient_id"
                                     ).fetchall())
            con.close()
        assert views[0] == views[1]
        per_run[run] = {pid: (status, disp) for pid, status, _, disp, *_ in views[1]}
        if run == 1:
            for db in dbs.values():  # a care manager's outcome, recorded the way care managers do
                r = subprocess.run([BIN / "osteoscreen", "disposition", "wl-disp1", "--status", "contacted",
                                    "--db", str(db), "--by", "cm1"], capture_output=True, text=True)
                assert r.returncode == 0, r.stderr
    assert per_run[1]["wl-disp1"] == ("new", None) and per_run[2]["wl-disp1"] == ("suppressed", "contacted")
    assert per_run[2]["wl-gone"] == ("resolved", None) and per_run[3]["wl-gone"] == (None, None)
    assert per_run[3]["wl-cont"] == ("continuing", None)
    assert p["export"]["summary"]["continuing"] > 0


@pytest.mark.slow
def test_dask_local_cluster_gives_the_same_outputs(single):
    from flows.partitioned import run_with

    root, base, opts = single
    merged = run_with("dask", 2, None, source=str(root / "src"), db=str(root / "dask.duckdb"),
                      out=str(root / "dask"), as_of=AS_OF, partitions=3, memory_mb=1024, export_options=opts)
    assert merged["partitions"] == 3
    _check_equivalent(root, base, merged, "dask")
    assert merged["finish"]["prefect_artifacts"] is True  # inside the flow run: the run's artifacts


def test_partitioned_cli_passes_the_export_options(tmp_path):
    """`osteoscreen run --partitions 3` with --deidentify and --write-back-url: the de-identified worklist is
    written, the Tasks reach the FHIR server, the snapshot and the run report are published."""
    from tests.servers.fhir_server import FhirTestServer
    from tests.test_worklist_support import write_population

    src = write_population(tmp_path / "src", 1)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_API", "OSTEOSCREEN"))}
    env["PREFECT_HOME"] = str(tmp_path / "prefect")
    out = tmp_path / "out"
    with FhirTestServer([]) as srv:
        r = subprocess.run([BIN / "osteoscreen", "run", "--source", str(src), "--db", str(tmp_path / "w.duckdb"),
                            "--out", str(out), "--as-of", "2026-06-30", "--partitions", "3", "--deidentify",
                            "--salt-file", str(_salt(tmp_path)), "--write-back-url", srv.base_url],
                           capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
        tasks = [t for t in srv.all_resources() if t["resourceType"] == "Task"]
    assert r.returncode == 0, r.stderr[-2000:]
    listed = len((out / "worklist.csv").read_text().splitlines()) - 1
    assert listed == 10 and len(tasks) == listed and f"write-back: {{'created': {listed}" in r.stdout
    assert (out / "worklist-deidentified.csv").is_file() and (out / "run-report.md").is_file()
    assert "snapshot:  " in r.stdout and (tmp_path / "w.analytics.duckdb").is_file()
    assert not (tmp_path / "prefect").exists(), "a plain partitioned run must not start Prefect"


def test_linked_patients_share_a_partition_and_shared_resources_go_everywhere(tmp_path):
    pids = [f"pat-{i}" for i in range(40)]
    lines = [{"resourceType": "Patient", "id": p} for p in pids]
    lines += [{"resourceType": "Patient", "id": f"old-{p}", "link": [{"type": "replaced-by",
                                                                      "other": {"reference": f"Patient/{p}"}}]}
              for p in pids]
    lines += [{"resourceType": "Observation", "id": f"o-{p}", "subject": {"reference": f"Patient/old-{p}"}}
              for p in pids]
    write_ndjson(tmp_path / "src" / "all.ndjson", lines)
    write_ndjson(tmp_path / "src" / "Medication.ndjson", [{"resourceType": "Medication", "id": "m1"}])
    counts = split_source(tmp_path / "src", tmp_path / "parts", 4)
    assert counts["records"] == 121 and counts["shared"] == 1
    placed: dict[str, int] = {}
    for k in range(4):
        part = tmp_path / "parts" / f"part-{k}"
        assert (part / "Medication.shared.ndjson").is_file()
        text = (part / "all.ndjson").read_text() if (part / "all.ndjson").exists() else ""
        for p in pids:
            if f'"id":"{p}"' in text:
                placed[p] = k
                assert f'"id":"old-{p}"' in text and f'"id":"o-{p}"' in text, p
    assert len(placed) == 40 and len(set(placed.values())) > 1


def test_partitioned_mode_never_replaces_a_single_process_database(single):
    from screening.errors import DatabaseError

    root, _, _ = single
    before = (root / "single.duckdb").stat().st_size
    with pytest.raises(DatabaseError, match="single-process"):
        run_partitioned(root / "src", root / "single.duckdb", root / "px", AS_OF, 2)
    assert (root / "single.duckdb").stat().st_size == before


def test_merged_quarantine_names_the_input_file_and_line(tmp_path):
    """Bad records of every kind a partition meets (invalid JSON, an ill-formed patient record, a field outside its
    plausible range, a shared Medication quarantined in every partition, a bad Bundle file) land in the merged
    database's `quarantine` and its snapshot exactly as in a single-process run of the same input: same input
    file, line, entry, field and reason (never the split copy's), a shared record's copies once."""
    from screening.synth import generate

    src = tmp_path / "src"
    generate(src, patients=40, seed=4, as_of=AS_OF)
    with open(src / "Observation.ndjson", "ab") as fh:  # after the generated lines: their line numbers are big
        fh.write(b'{"resourceType": "Observation", "id": "bad-json"\n')
        fh.write(b'{"resourceType": "Observation", "id": "o-range", "status": "final", "subject": {"reference": '
                 b'"Patient/x-1"}, "code": {"coding": [{"system": "http://loinc.org", "code": "2132-9"}]}, '
                 b'"effectiveDateTime": "2026-01-05", "valueQuantity": {"value": 1e300, "unit": "pg/mL"}}\n')
    write_ndjson(src / "Patient.extra.ndjson", [{"resourceType": "Patient", "id": "x-1", "gender": "female",
                                                 "birthDate": "1950-01-01"},
                                                {"resourceType": "Patient", "id": 7, "gender": "female"}])
    write_ndjson(src / "Medication.ndjson", [{"resourceType": "Medication", "id": 5}])  # no patient: shared
    (src / "bad-bundle.json").write_text('{"resourceType": "Bundle", "type": "collection", "entry": {"x": 1}}')
    cols = ("source_file, source_line, source_entry, resource_type, resource_id, field, reason, raw, disposition")

    def quarantine(db: Path) -> list[tuple]:
        con = duckdb.connect(str(db), read_only=True)
        try:
            return sorted(con.execute("SELECT " + cols + " FROM quarantine").fetchall(), key=repr)
        finally:
            con.close()

    base = run_pipeline(src, tmp_path / "single.duckdb", tmp_path / "single", AS_OF)
    expected = quarantine(tmp_path / "single.duckdb")
    assert base["load"]["quarantined"] >= 4 and len(expected) >= 5
    files = {Path(r[0]).name for r in expected}
    assert {"Observation.ndjson", "Patient.extra.ndjson", "Medication.ndjson", "bad-bundle.json"} <= files
    merged = run_partitioned(src, tmp_path / "p3.duckdb", tmp_path / "p3", AS_OF, 3, workers=2, memory_mb=1024)
    assert merged["load"]["quarantined"] == base["load"]["quarantined"]
    assert quarantine(tmp_path / "p3.duckdb") == expected
    assert quarantine(Path(merged["finish"]["snapshot"])) == expected
    con = duckdb.connect(str(tmp_path / "p3.duckdb"), read_only=True)
    assert con.execute("SELECT DISTINCT load_run_id FROM quarantine").fetchall() == [(merged["load"]["run_id"],)]
    con.close()
