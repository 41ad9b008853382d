"""--since auto: the next export asks only for changes since the last transactionTime; loading the increment
on top of the first load gives the same database as a full re-extract (deletions included)."""

from __future__ import annotations

import time

import orjson
import pytest

from screening.database import open_database
from screening.load import load_source
from screening.sources import extract
from screening.sources.landing import ROOT_STATE, read_json
from tests.servers.testing import FAST, ids, server


def _load(db, folder) -> dict:
    con = open_database(db)
    try:
        return load_source(con, folder).as_dict()
    finally:
        con.close()


def _current(db) -> dict:
    con = open_database(db, read_only=True)
    try:
        rows = con.execute("SELECT resource_type, id, body FROM resource_raw").fetchall()
    finally:
        con.close()
    return {(t, i): orjson.loads(b) for t, i, b in rows}


def _mutate(srv) -> None:
    vitd = next(r for r in srv.all_resources() if r["id"] == "lab-p3-vitd")
    vitd["valueQuantity"]["value"] = 31.0
    srv.upsert(vitd)
    srv.upsert({"resourceType": "Patient", "id": "p7", "gender": "female", "birthDate": "1950-02-02"})
    srv.upsert(
        {
            "resourceType": "Condition",
            "id": "c-p7-graves",
            "subject": {"reference": "Patient/p7"},
            "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "E05.00"}]},
        }
    )
    srv.delete("Condition", "c-p2-celiac")


def test_bulk_since_auto_increment_equals_full_reextract(tmp_path):
    landing = tmp_path / "landing"
    with server() as srv:
        first = extract(srv.base_url, landing, mode="bulk", since="auto", retry=FAST)
        assert read_json(landing / ROOT_STATE)["scopes"]
        _load(tmp_path / "inc.duckdb", first.export_dir)
        _mutate(srv)
        inc = extract(srv.base_url, landing, mode="bulk", since="auto", retry=FAST)
        kick = srv.seen("GET", "$export")[-1].query
        loaded = _load(tmp_path / "inc.duckdb", inc.export_dir)
        full = extract(srv.base_url, tmp_path / "other", mode="bulk", retry=FAST)
        _load(tmp_path / "full.duckdb", full.export_dir)
    assert "_since=" in kick and first.transaction_time.replace(":", "%3A") in kick
    assert inc.export_dir != first.export_dir
    assert (
        inc.resources == 3 and inc.deleted == 1
    )  # changed Observation, new Patient + Condition; one deletion
    assert ids(inc.export_dir, "Patient") == {"p7"}
    assert loaded["deleted"] == 1
    assert _current(tmp_path / "inc.duckdb") == _current(tmp_path / "full.duckdb")
    assert ("Condition", "c-p2-celiac") not in _current(tmp_path / "inc.duckdb")
    # the state moved on: a third run asks from the increment's transactionTime
    assert read_json(landing / ROOT_STATE)["scopes"].popitem()[1]["transactionTime"] == inc.transaction_time


def test_search_since_auto_fetches_only_changes(tmp_path):
    with server() as srv:
        # a crawl's transactionTime is the server's Date header floored to the second (never ahead of the
        # server), so resources written in that same second come again next time; step past it
        time.sleep(1.05)
        first = extract(
            srv.base_url,
            tmp_path,
            mode="search",
            types=["Patient", "Observation"],
            since="auto",
            retry=FAST,
        )
        _mutate(srv)
        before = len(srv.seen())
        inc = extract(
            srv.base_url,
            tmp_path,
            mode="search",
            types=["Patient", "Observation"],
            since="auto",
            retry=FAST,
        )
        searches = [s for s in srv.seen("GET")[before:] if s.path in ("/fhir/Patient", "/fhir/Observation")]
    assert first.resources == 10  # 6 patients + 4 searchable Observations (no DiagnosticReport asked)
    assert searches and all("_lastUpdated=gt" in s.query for s in searches)
    assert ids(inc.export_dir, "Patient") == {"p7"} and ids(inc.export_dir, "Observation") == {
        "lab-p3-vitd"
    }


@pytest.mark.parametrize("bad", ["yesterday", "2024-13"])
def test_since_must_be_an_instant_or_auto(tmp_path, bad):
    from screening.sources import ExtractError

    with pytest.raises(ExtractError, match="--since"):
        extract("http://127.0.0.1:9/fhir", tmp_path, since=bad)
