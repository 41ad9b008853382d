"""FHIR output: Tasks and List validated with fhir.resources R4B, NDJSON and transaction Bundle; write-back to the
loopback FHIR server twice without duplicates, and an updated disposition updates its Task."""

from __future__ import annotations

import orjson
import pytest
from fhir.resources.R4B import get_fhir_model_class

from screening.export.dispositions import Disposition, record
from screening.export.fhir_tasks import TASK_SYSTEM
from tests.servers.fhir_server import FhirTestServer
from tests.test_worklist_support import read_csv, run_once


@pytest.fixture
def server():
    with FhirTestServer([]) as srv:
        yield srv


def tasks_on(srv) -> list[dict]:
    return [r for r in srv.all_resources() if r["resourceType"] == "Task"]


def test_ndjson_and_bundle_validate_against_r4b(tmp_path):
    run_once(tmp_path, 1)
    out = tmp_path / "out"
    rows = read_csv(out / "worklist.csv")
    lines = [orjson.loads(x) for x in (out / "tasks.ndjson").read_text().splitlines()]
    for r in lines:
        get_fhir_model_class(r["resourceType"]).model_validate(r)
    tasks = [r for r in lines if r["resourceType"] == "Task"]
    assert [t["for"]["reference"] for t in tasks] == [f"Patient/{r['patient_id']}" for r in rows]
    t = next(t for t in tasks if t["for"]["reference"] == "Patient/wl-cont")
    assert t["intent"] == "proposal" and t["status"] == "requested" and t["priority"] == "urgent"
    assert t["reasonCode"]["coding"][0]["code"] == "aromatase_inhibitor"
    assert {i["valueReference"]["reference"] for i in t["input"]} == {"Observation/wl-cont-t1",
                                                                       "MedicationStatement/wl-cont-ai"}
    assert t["owner"] == {"reference": "Organization/wl-org-north", "display": "North Clinic"}
    assert t["identifier"][0] == {"system": TASK_SYSTEM, "value": "wl-cont"}
    lst = lines[-1]
    assert lst["resourceType"] == "List" and len(lst["entry"]) == len(rows)
    bundle = orjson.loads((out / "tasks-bundle.json").read_bytes())
    get_fhir_model_class("Bundle").model_validate(bundle)
    assert bundle["type"] == "transaction"
    assert all(e["request"]["ifNoneExist"].startswith("identifier=") for e in bundle["entry"])
    urns = {e["fullUrl"] for e in bundle["entry"][:-1]}
    assert {e["item"]["reference"] for e in bundle["entry"][-1]["resource"]["entry"]} == urns


def test_write_back_twice_never_duplicates_and_disposition_updates_task(tmp_path, server):
    url = server.base_url
    first = run_once(tmp_path, 1, write_back_url=url)["export"]["summary"]["write_back"]
    n = len(read_csv(tmp_path / "out" / "worklist.csv"))
    assert first["created"] == n and first["updated"] == 0
    assert len(tasks_on(server)) == n
    second = run_once(tmp_path, 1, write_back_url=url)["export"]["summary"]["write_back"]
    assert second == {"created": 0, "unchanged": n, "updated": 0, "list": "created"}
    assert len(tasks_on(server)) == n                              # no duplicate Task
    assert len(server.seen("POST", "Task")) == 2 * n               # every create was conditional
    record(tmp_path / "db" / "w.duckdb", [Disposition("wl-cont", "treatment started", recorded_by="cm")], "cli")
    third = run_once(tmp_path, 1, write_back_url=url)["export"]["summary"]["write_back"]
    assert third["updated"] == 1 and third["created"] == 0
    tasks = tasks_on(server)
    assert len(tasks) == n
    t = next(t for t in tasks if t["for"]["reference"] == "Patient/wl-cont")
    assert t["status"] == "completed" and t["meta"]["versionId"] == "2"
    lists = [r for r in server.all_resources() if r["resourceType"] == "List"]
    assert len(lists) == 3                                          # one List per run
    assert len(lists[-1]["entry"]) == n - 1                         # the suppressed patient left the list


def test_write_back_refuses_duplicates_on_the_server(tmp_path, server):
    from screening.errors import ExtractError

    run_once(tmp_path, 1, write_back_url=server.base_url)
    dup = next(t for t in tasks_on(server) if t["for"]["reference"] == "Patient/wl-cont")
    server.upsert({**dup, "id": "copy"})
    with pytest.raises(ExtractError, match="more than one Task"):
        run_once(tmp_path, 1, write_back_url=server.base_url)
