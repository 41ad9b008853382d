"""Issue 12.3: prefect.yaml works as shipped with a work pool, the way docs/operations.md says: a real Prefect
server on 127.0.0.1, `prefect work-pool create`, `prefect --no-prompt deploy --all --prefect-file <the shipped
file>` (schedule, time zone and parameters registered), a triggered `nightly` run executed by `prefect worker
start` from another folder (the pull step moves it to OSTEOSCREEN_HOME; module entrypoints find the installed
flows) completes with its worklist, snapshot and artifacts."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from screening.serve import local_server
from tests.servers.testing import server

BIN = Path(sys.executable).parent


class _Api:
    """The Prefect REST API called the way Prefect's own client calls it: a 503 (the server's "busy, retry" answer,
    e.g. its SQLite database locked while the scheduler writes the deployment's scheduled runs) is retried after a
    pause, as PREFECT_CLIENT_MAX_RETRIES does. Any other status is returned as it is."""

    def __init__(self, url: str):
        self._client = httpx.Client(base_url=url, timeout=30)

    def _call(self, method: str, path: str, **kw) -> httpx.Response:
        for attempt in range(6):
            r = self._client.request(method, path, **kw)
            if r.status_code != 503:
                return r
            time.sleep(1 + attempt)
        return r

    def get(self, path: str, **kw) -> httpx.Response:
        return self._call("GET", path, **kw)

    def post(self, path: str, **kw) -> httpx.Response:
        return self._call("POST", path, **kw)


def _run(args: list, env: dict, cwd: Path, timeout: int = 300) -> str:
    r = subprocess.run([str(a) for a in args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, (args, r.stdout[-2000:], r.stderr[-2000:])
    return r.stdout


@pytest.mark.slow
def test_prefect_yaml_deploys_to_a_work_pool_and_a_worker_runs_nightly(tmp_path):
    home, elsewhere = tmp_path / "home", tmp_path / "elsewhere"
    home.mkdir()
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_API", "OSTEOSCREEN"))}
    env.update(PREFECT_HOME=str(tmp_path / "prefect-home"), PREFECT_UI_ENABLED="false", DO_NOT_TRACK="1",
               PREFECT_SERVER_ANALYTICS_ENABLED="false", OSTEOSCREEN_HOME=str(home))
    with server(lines_per_file=5) as fhir, local_server(log=tmp_path / "server.log") as url:
        env.update(PREFECT_API_URL=url, OSTEOSCREEN_FHIR_URL=fhir.base_url)
        definition = _run([BIN / "osteoscreen", "serve", "--show-file"], env, home).strip()
        assert Path(definition).is_file()
        _run([BIN / "prefect", "work-pool", "create", "osteoscreen-local", "--type", "process"], env, home)
        _run([BIN / "prefect", "--no-prompt", "deploy", "--all", "--prefect-file", definition], env, home)
        api = _Api(url)
        nightly = api.get("/deployments/name/nightly/nightly").json()
        assert [(s["schedule"]["cron"], s["schedule"]["timezone"]) for s in nightly["schedules"]] == [
            ("0 2 * * *", "America/New_York")]
        assert nightly["parameters"]["fhir_url"] == fhir.base_url and nightly["work_pool_name"] == "osteoscreen-local"
        assert api.get("/deployments/name/screening-pipeline/screen-latest").status_code == 200
        run = api.post(f"/deployments/{nightly['id']}/create_flow_run", json={})
        assert run.status_code in (200, 201), run.text
        run_id = run.json()["id"]
        worker = subprocess.Popen([BIN / "prefect", "worker", "start", "--pool", "osteoscreen-local"], env=env,
                                  cwd=elsewhere, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  stdin=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 600
            while True:
                state = api.get(f"/flow_runs/{run_id}").json()["state"]
                if state["type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED"):
                    break
                assert worker.poll() is None, "the worker exited"
                assert time.monotonic() < deadline, state
                time.sleep(2)
        finally:
            worker.terminate()
            worker.wait(timeout=60)
        assert state["type"] == "COMPLETED", state
        keys = {a["key"] for a in api.post("/artifacts/filter", json={}).json()}
    assert (home / "landing" / "latest" / "manifest.json").is_file()
    assert (home / "out" / "worklist.csv").is_file() and (home / "out" / "run-report.md").is_file()
    assert (home / "data" / "osteoscreen.analytics.duckdb").is_file()
    assert not (elsewhere / "out").exists()
    assert {"screening-summary", "resource-counts", "listed-patients"} <= keys, keys
