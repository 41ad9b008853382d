"""Issue 12.7: partitioned runs give the single-process worklist byte for byte (N = 1, 3, 8 on a thread pool, and
N = 3 on a 2-worker Dask LocalCluster through prefect-dask); shared resources are counted once; linked patients
share a partition. Small population (the synthetic planted cases) to stay inside CI's budget."""

from __future__ import annotations

from datetime import date

import pytest

from screening.partition import run_partitioned, split_source
from screening.pipeline import run_pipeline
from tests.conftest import write_ndjson

AS_OF = date(2026, 6, 30)


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    from screening.synth import generate

    root = tmp_path_factory.mktemp("partition")
    generate(root / "src", patients=200, seed=9, as_of=AS_OF)
    summary = run_pipeline(root / "src", root / "single.duckdb", root / "single", AS_OF)
    return root, summary


@pytest.mark.parametrize("n", [1, 3, 8])
def test_partitioned_worklist_is_byte_identical(single, n):
    root, base = single
    merged = run_partitioned(root / "src", root / f"p{n}.duckdb", root / f"p{n}", AS_OF, n, workers=2,
                             memory_mb=1024)
    assert (root / f"p{n}" / "worklist.csv").read_bytes() == (root / "single" / "worklist.csv").read_bytes()
    for key in ("records_read", "loaded", "quarantined", "patients", "files"):  # shared resources counted once
        assert merged["load"][key] == base["load"][key], key
    assert merged["export"]["listed"] == base["export"]["listed"] > 0
    assert len(list((root / f"p{n}.partitions").glob("part-*.duckdb"))) == n


def test_a_second_partitioned_run_carries_the_history(single, tmp_path):
    """--db is kept between partitioned runs: the second worklist (status `continuing`) equals a single-process
    second run's, byte for byte."""
    root, _ = single
    run_pipeline(root / "src", root / "single.duckdb", tmp_path / "single2", AS_OF)
    for k in (1, 2):
        merged = run_partitioned(root / "src", tmp_path / "p.duckdb", tmp_path / f"p{k}", AS_OF, 3)
    second = (tmp_path / "p2" / "worklist.csv").read_bytes()
    assert second == (tmp_path / "single2" / "worklist.csv").read_bytes()
    assert second != (tmp_path / "p1" / "worklist.csv").read_bytes()  # statuses moved on from `new`
    assert merged["export"]["summary"]["continuing"] == merged["export"]["listed"] > 0


@pytest.mark.slow
def test_dask_local_cluster_gives_the_same_worklist(single):
    from flows.partitioned import run_with

    root, base = single
    out = root / "dask"
    merged = run_with("dask", 2, None, source=str(root / "src"), db=str(root / "dask.duckdb"), out=str(out),
                      as_of=AS_OF, partitions=3, memory_mb=1024)
    assert merged["partitions"] == 3
    assert (out / "worklist.csv").read_bytes() == (root / "single" / "worklist.csv").read_bytes()
    assert merged["load"]["records_read"] == base["load"]["records_read"]


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

    root, _ = single
    before = (root / "single.duckdb").stat().st_size
    with pytest.raises(DatabaseError, match="single-process"):
        run_partitioned(root / "src", root / "single.duckdb", root / "px", AS_OF, 2)
    assert (root / "single.duckdb").stat().st_size == before
