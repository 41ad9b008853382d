"""Issue 12.3/12.4/8.7: `osteoscreen serve` starts its own Prefect server on 127.0.0.1, serves the prefect.yaml
deployments, a triggered `nightly` run (extract from the loopback FHIR server -> landing/latest -> screen ->
export) completes with its artifacts, no patient value reaches Prefect's logs, artifacts or database files, and a
SIGKILLed serve leaves no process behind. One Prefect server for the whole module (CI budget)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.servers.testing import server

BIN = Path(sys.executable).parent
PHI = {"family": "Quillfeatherby", "given": "Ottoline", "mrn": "MRN-SRV-55123", "birth": "1932-02-29",
       "value": "-3.2718"}


def _plant(srv) -> None:
    srv.upsert({"resourceType": "Patient", "id": "srv-phi-1", "gender": "female", "birthDate": PHI["birth"],
                "identifier": [{"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                                                     "code": "MR"}]}, "value": PHI["mrn"]}],
                "name": [{"family": PHI["family"], "given": [PHI["given"]]}]})
    srv.upsert({"resourceType": "Observation", "id": "srv-phi-obs", "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": "85394-5"}]},
                "subject": {"reference": "Patient/srv-phi-1"}, "effectiveDateTime": "2026-09-01",
                "valueQuantity": {"value": float(PHI["value"]), "unit": "{Z-score}",
                                  "system": "http://unitsofmeasure.org", "code": "{Z-score}"}})


def _session_pids(sid: int) -> list[int]:
    pids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == sid and fields[0] != "Z":  # field 6 of /proc/PID/stat: session id
                pids.append(int(d.name))
    return pids


def _cmdlines(pids: list[int]) -> list[str]:
    """What the survivors are (their command lines: program and paths, no patient data), for the failure text."""
    out = []
    for pid in pids:
        try:
            out.append(f"{pid}: " + Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:300])
        except OSError:
            out.append(f"{pid}: (gone)")
    return out


def _wait_line(proc, pattern: str, timeout: float, seen: list[str]) -> re.Match:
    deadline = time.monotonic() + timeout
    rx = re.compile(pattern)
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            if proc.poll() is not None:
                break
            continue
        seen.append(line)
        m = rx.search(line)
        if m:
            return m
    raise AssertionError(f"no line matching {pattern!r}; got: {''.join(seen)[-3000:]}")


def _start_serve(tmp_path, home, prefect_home, fhir) -> subprocess.Popen:
    """`osteoscreen serve` as users start it, in its own session (so every process it leaves can be found)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_API", "OSTEOSCREEN"))}
    env.update(PREFECT_HOME=str(prefect_home), OSTEOSCREEN_FHIR_URL=fhir.base_url,
               PREFECT_SERVER_ANALYTICS_ENABLED="false", DO_NOT_TRACK="1", PREFECT_UI_ENABLED="false")
    return subprocess.Popen([BIN / "osteoscreen", "serve", "--home", str(home)], env=env, cwd=tmp_path,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)


def _served_deployment(proc, seen: list[str]) -> tuple[httpx.Client, dict]:
    """Wait until serve says where its API is and has registered the nightly deployment."""
    url = _wait_line(proc, r"Prefect API: (http://127\.0\.0\.1:\d+/api)", 180, seen).group(1)
    _wait_line(proc, r"serving nightly/nightly \(0 2 \* \* \* America/New_York\)", 120, seen)
    api = httpx.Client(base_url=url, timeout=30)
    deadline = time.monotonic() + 120
    while (r := api.get("/deployments/name/nightly/nightly")).status_code != 200:  # registered just after printing
        assert time.monotonic() < deadline, r.text
        time.sleep(1)
    return api, r.json()


def _trigger(api: httpx.Client, deployment_id: str) -> httpx.Response:
    for _ in range(10):  # a busy SQLite-backed server may answer 5xx for a moment
        created = api.post(f"/deployments/{deployment_id}/create_flow_run", json={})
        if created.status_code < 500:
            break
        time.sleep(2)
    assert created.status_code in (200, 201), created.text
    return created


@pytest.mark.slow
def test_serve_nightly_end_to_end_no_phi_and_nothing_left_behind(tmp_path):
    home, prefect_home = tmp_path / "home", tmp_path / "prefect-home"
    home.mkdir()
    seen: list[str] = []
    with server(lines_per_file=5) as fhir:
        _plant(fhir)
        proc = _start_serve(tmp_path, home, prefect_home, fhir)
        try:
            api, deployment = _served_deployment(proc, seen)
            assert deployment["parameters"]["fhir_url"] == fhir.base_url  # {{ $OSTEOSCREEN_FHIR_URL }} filled in
            assert [s["schedule"]["cron"] for s in deployment["schedules"]] == ["0 2 * * *"]
            created = _trigger(api, deployment["id"])
            run = created.json()
            deadline = time.monotonic() + 400
            while True:
                got = api.get(f"/flow_runs/{run['id']}")
                if got.status_code >= 500:
                    time.sleep(2)
                    continue
                state = got.json()["state"]
                if state["type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED"):
                    break
                assert time.monotonic() < deadline, state
                time.sleep(2)
            assert state["type"] == "COMPLETED", (state, "".join(seen)[-3000:])

            latest = home / "landing" / "latest"
            assert latest.is_symlink() and (latest / "manifest.json").is_file()
            worklist = (home / "out" / "worklist.csv").read_text()
            assert PHI["mrn"] in worklist  # positive control: the planted patient is listed
            assert (home / "data" / "osteoscreen.analytics.duckdb").is_file()

            arts = api.post("/artifacts/filter", json={"artifacts": {"flow_run_id": {"any_": [run["id"]]}}})
            keys = {a["key"] for a in arts.json()}
            subflow_runs = api.post("/flow_runs/filter", json={"flow_runs": {"parent_flow_run_id": {
                "any_": [run["id"]]}}}).json()
            all_arts = api.post("/artifacts/filter", json={}).json()
            keys |= {a["key"] for a in all_arts}
            assert {"screening-summary", "resource-counts", "listed-patients"} <= keys, keys
            logs = api.post("/logs/filter", json={"limit": 200}).json()
            assert logs, "the run logged to the API"
            texts = [str(a.get("data")) + str(a.get("description")) for a in all_arts]
            texts += [entry["message"] for entry in logs] + [str(subflow_runs), str(run)]
            leaks = [f"api: {v}" for v in PHI.values() for t in texts if v in t]
        finally:
            os.kill(proc.pid, signal.SIGKILL)  # no clean shutdown: the server child must still go
            proc.wait()
    deadline = time.monotonic() + 30
    while _session_pids(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.5)
    survivors = _session_pids(proc.pid)
    assert survivors == [], f"a process of the killed serve survived: {_cmdlines(survivors)}"
    for f in prefect_home.rglob("*"):  # the server's SQLite database and WAL, results, logs
        if f.is_file():
            data = f.read_bytes()
            leaks += [f"{f.name}: {v}" for v in PHI.values() if v.encode() in data]
    assert leaks == []


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["plain", "prefect"])
def test_killed_run_leaves_no_process(tmp_path, mode):
    """Issue 8.7: SIGKILL `osteoscreen run` mid-run; nothing it started may survive (Prefect's temporary server
    was orphaned before: now a plain run starts none, and --prefect's local server dies with its parent)."""
    from tests.test_ops_snapshot import tiny_population

    src = tiny_population(tmp_path / "src", 40, 2)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_API", "OSTEOSCREEN"))}
    env.update(PREFECT_HOME=str(tmp_path / "ph"), PREFECT_UI_ENABLED="false")
    args = [BIN / "osteoscreen", "run", "--source", str(src), "--db", str(tmp_path / "w.duckdb"), "--out",
            str(tmp_path / "out"), "--as-of", "2026-06-30"]
    if mode == "prefect":
        args.append("--prefect")
    else:
        env["OSTEOSCREEN_CRASH_AT"] = "screen:before-commit"  # the run SIGKILLs itself there
    proc = subprocess.Popen(args, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    if mode == "prefect":
        seen: list[str] = []
        _wait_line(proc, r"prefect:\s+local server http://127\.0\.0\.1:\d+", 180, seen)
        assert len(_session_pids(proc.pid)) >= 2, "the local server runs as a child"
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=300)
    assert proc.returncode == -signal.SIGKILL
    deadline = time.monotonic() + 30
    while _session_pids(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.5)
    survivors = _session_pids(proc.pid)
    assert survivors == [], f"a process of the killed run survived: {_cmdlines(survivors)}"


@pytest.mark.slow
def test_serve_killed_mid_run_leaves_no_flow_run_process(tmp_path):
    """Issue 8.7: SIGKILL serve while a flow-run subprocess is alive; that process (spawned by Prefect's runner,
    which ties nothing to its parent) must go too, not keep retrying the dead API."""
    home = tmp_path / "home"
    home.mkdir()
    seen: list[str] = []
    with server(lines_per_file=5) as fhir:
        _plant(fhir)
        proc = _start_serve(tmp_path, home, tmp_path / "ph", fhir)
        try:
            api, deployment = _served_deployment(proc, seen)
            created = _trigger(api, deployment["id"])
            before = set(_session_pids(proc.pid))
            deadline = time.monotonic() + 120
            while True:  # the flow-run process is alive and has told the API it runs
                got = api.get(f"/flow_runs/{created.json()['id']}")
                state = got.json()["state"]["type"] if got.status_code == 200 else None
                if state == "RUNNING" and set(_session_pids(proc.pid)) - before:
                    break
                assert state in (None, "SCHEDULED", "PENDING", "RUNNING"), state
                assert time.monotonic() < deadline, "no running flow-run process appeared"
                time.sleep(0.2)
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
    deadline = time.monotonic() + 30
    while _session_pids(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.5)
    survivors = _session_pids(proc.pid)
    assert survivors == [], f"a process of the killed serve survived: {_cmdlines(survivors)}"
