"""FHIR output of the worklist: a Task per listed patient and a List of them, as NDJSON and as a transaction
Bundle, validated with fhir.resources R4B; optional write-back to the FHIR server with conditional create.

Mappings (documented in docs/worklists.md):
- Task.priority from the worklist: safety alert -> stat, high -> urgent, medium -> asap, low -> routine.
- Task.status from the patient's latest disposition (config/dispositions.csv `task_status`); none -> requested.
- Task.identifier[0] (system TASK_SYSTEM, value = patient id) names the patient's worklist Task: conditional create
  matches on it, so a re-run never duplicates a Task; one more identifier per open finding (FINDING_SYSTEM,
  value patient|cause).
"""

from __future__ import annotations

import hashlib
import uuid
import warnings
from pathlib import Path

import orjson

from screening.export.safe_files import atomic_write

TASK_SYSTEM = "urn:osteoscreen:worklist-task"
FINDING_SYSTEM = "urn:osteoscreen:finding"
CAUSE_SYSTEM = "urn:osteoscreen:cause"
LIST_SYSTEM = "urn:osteoscreen:worklist-run"
PRIORITY = {"high": "urgent", "medium": "asap", "low": "routine"}


def _task_id(patient_id: str) -> str:
    return "osteoscreen-" + hashlib.sha256(patient_id.encode()).hexdigest()[:32]


def build_task(p: dict, as_of: str, task_status: dict[str, str]) -> dict:
    """The Task of one listed patient (p: a row of sql/export/worklist_patients.sql)."""
    unaddressed = list(p["unaddressed"] or [])
    main = unaddressed[0] if unaddressed else ("safety" if p["safety"] else "unexplained")
    task = {
        "resourceType": "Task",
        "id": _task_id(p["patient_id"]),
        "identifier": [{"system": TASK_SYSTEM, "value": p["patient_id"]}]
        + [{"system": FINDING_SYSTEM, "value": f"{p['patient_id']}|{c}"} for c in unaddressed],
        "status": task_status.get(p["disposition_status"] or "", "requested"),
        "intent": "proposal",
        "priority": "stat" if p["safety"] else PRIORITY.get(p["priority"], "routine"),
        "code": {"text": "Secondary osteoporosis work-up (osteoscreen worklist)"},
        "description": "Unaddressed: " + (", ".join(unaddressed) or "none") + "; risk markers: "
        + (", ".join(p["markers"] or []) or "none"),
        "for": {"reference": f"Patient/{p['patient_id']}"},
        "authoredOn": as_of,
        "lastModified": as_of,
        "reasonCode": {"coding": [{"system": CAUSE_SYSTEM, "code": main}], "text": main.replace("_", " ")},
    }
    if p.get("care_team_ref") and p.get("care_team") not in (None, "Unassigned"):
        task["owner"] = {"reference": p["care_team_ref"], "display": p["care_team"]}
    inputs = [{"type": {"text": "evidence"}, "valueReference": {"reference": ref}} for ref in p["evidence_ids"] or []]
    if inputs:
        task["input"] = inputs
    return task


def build_list(tasks: list[dict], run_id: str, as_of: str, refs: list[str]) -> dict:
    return {
        "resourceType": "List",
        "id": "osteoscreen-" + hashlib.sha256(run_id.encode()).hexdigest()[:32],
        "identifier": [{"system": LIST_SYSTEM, "value": run_id}],
        "status": "current",
        "mode": "working",
        "title": f"osteoscreen worklist as of {as_of}",
        "code": {"text": "osteoscreen worklist"},
        "date": as_of,
        "entry": [{"item": {"reference": r}} for r in refs],
    }


def validate(resource: dict) -> None:
    """Raise if fhir.resources' R4B model rejects the resource."""
    from fhir.resources.R4B import get_fhir_model_class

    get_fhir_model_class(resource["resourceType"]).model_validate(resource)


def build_all(patients: list[dict], run_id: str, as_of: str, task_status: dict[str, str]) -> tuple[list, dict]:
    """Tasks for every patient the rules list (suppressed ones too: their Task carries the disposition); the List
    holds the active worklist only."""
    tasks = [build_task(p, as_of, task_status) for p in patients]
    active = [t for t, p in zip(tasks, patients, strict=True) if not p.get("suppressed")]
    lst = build_list(active, run_id, as_of, [f"Task/{t['id']}" for t in active])
    return tasks, lst


def validate_all(tasks: list[dict], lst: dict) -> None:
    """Every Task and the List, through the R4B models (the slow part of the FHIR export: ~3 ms a Task)."""
    for r in [*tasks, lst]:
        validate(r)


def transaction_bundle(tasks: list[dict], lst: dict) -> dict:
    """POST each Task with ifNoneExist on its identifier; the List points at the Tasks' urn:uuid fullUrls."""
    entries, urns = [], {}
    for t in tasks:
        urn = f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, TASK_SYSTEM + '|' + t['identifier'][0]['value'])}"
        urns[f"Task/{t['id']}"] = urn
        body = {k: v for k, v in t.items() if k != "id"}
        entries.append({"fullUrl": urn, "resource": body, "request": {
            "method": "POST", "url": "Task", "ifNoneExist": f"identifier={TASK_SYSTEM}|{t['identifier'][0]['value']}"}})
    lbody = {k: v for k, v in lst.items() if k != "id"}
    lbody["entry"] = [{"item": {"reference": urns[e["item"]["reference"]]}} for e in lst["entry"]]
    entries.append({"fullUrl": f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, lst['identifier'][0]['value'])}",
                    "resource": lbody, "request": {"method": "POST", "url": "List",
                                                   "ifNoneExist": f"identifier={LIST_SYSTEM}|"
                                                                  f"{lst['identifier'][0]['value']}"}})
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def write_fhir_files(out_dir: Path, tasks: list[dict], lst: dict) -> list[Path]:
    out_dir = Path(out_dir)

    def ndjson(fh) -> None:
        for r in [*tasks, lst]:
            fh.write(orjson.dumps(r).decode() + "\n")

    bundle = transaction_bundle(tasks, lst)
    validate(bundle)  # validates every Task and the List inside it too
    validate(lst)
    return [atomic_write(out_dir / "tasks.ndjson", ndjson),
            atomic_write(out_dir / "tasks-bundle.json",
                         lambda fh: fh.write(orjson.dumps(bundle, option=orjson.OPT_INDENT_2).decode()))]


# -- write-back --------------------------------------------------------------------------------------------------

class WriteBackError(Exception):
    pass


def _request(session, method: str, path: str, body: dict | None = None, headers: dict | None = None):
    h = {"Accept": "application/fhir+json", **(headers or {})}
    data = None
    if body is not None:
        h["Content-Type"] = "application/fhir+json"
        data = orjson.dumps(body)
    with warnings.catch_warnings():  # httpx prefers content= for raw bytes; FhirSession.open passes data=
        warnings.simplefilter("ignore", DeprecationWarning)
        with session.open(method, path, headers=h, data=data) as resp:
            content = resp.read()
        return resp.status_code, resp.headers, (orjson.loads(content) if content else None)


def _same(a: dict, b: dict) -> bool:
    keys = ("status", "priority", "identifier", "input", "reasonCode", "owner", "description")
    return all(a.get(k) == b.get(k) for k in keys)


def write_back(session, tasks: list[dict], lst: dict) -> dict:
    """Send Tasks (conditional create on identifier; PUT when a match differs) and the List. Counts only."""
    counts = {"created": 0, "unchanged": 0, "updated": 0}
    server_refs: dict[str, str] = {}
    for t in tasks:
        local = f"Task/{t['id']}"
        ident = t["identifier"][0]
        cond = f"identifier={ident['system']}|{ident['value']}"
        body = {k: v for k, v in t.items() if k != "id"}
        status, headers, doc = _request(session, "POST", "Task", body, {"If-None-Exist": cond})
        if status == 201:
            counts["created"] += 1
            server_refs[local] = f"Task/{doc['id']}"
            continue
        if status == 412:
            raise WriteBackError("the FHIR server holds more than one Task with the same worklist identifier "
                                 "(conditional create refused, HTTP 412)")
        if status != 200:
            raise WriteBackError(f"the FHIR server refused a Task (HTTP {status})")
        if not doc or doc.get("resourceType") != "Task":
            s2, _, found = _request(session, "GET", f"Task?identifier={ident['system']}|{ident['value']}")
            matches = [e["resource"] for e in (found or {}).get("entry", [])]
            if s2 != 200 or len(matches) != 1:
                raise WriteBackError(f"cannot find the existing Task (HTTP {s2}, {len(matches)} matches)")
            doc = matches[0]
        server_refs[local] = f"Task/{doc['id']}"
        if _same(doc, body):
            counts["unchanged"] += 1
            continue
        s3, _, _ = _request(session, "PUT", f"Task/{doc['id']}", {**body, "id": doc["id"]})
        if s3 not in (200, 201):
            raise WriteBackError(f"the FHIR server refused a Task update (HTTP {s3})")
        counts["updated"] += 1
    lbody = {k: v for k, v in lst.items() if k != "id"}
    lbody["entry"] = [{"item": {"reference": server_refs[e["item"]["reference"]]}} for e in lst["entry"]]
    ident = lst["identifier"][0]
    status, _, _ = _request(session, "POST", "List", lbody,
                            {"If-None-Exist": f"identifier={ident['system']}|{ident['value']}"})
    if status not in (200, 201):
        raise WriteBackError(f"the FHIR server refused the List (HTTP {status})")
    counts["list"] = "created" if status == 201 else "unchanged"
    return counts
