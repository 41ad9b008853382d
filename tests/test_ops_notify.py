"""Issue 12.8: being told when a nightly run fails, as docs/operations.md says: a real Prefect server on 127.0.0.1,
a notification block (a custom webhook to a receiver on loopback), the shipped automation template
(config/templates/notify-on-failure.yaml) with the block's id put in, `prefect automation create --from-file`; a
`nightly` run that fails after loading a planted patient sends one message naming the flow and the state, with
no name, MRN, birth date or clinical value in it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from screening.paths import CONFIG_DIR
from screening.serve import local_server
from tests.servers.testing import server
from tests.test_ops_serve import PHI, _plant

BIN = Path(sys.executable).parent
BLOCK = """
import sys
from prefect.blocks.notifications import CustomWebhookNotificationBlock
block = CustomWebhookNotificationBlock(name="osteoscreen", url=sys.argv[1],
                                       json_data={"subject": "{{subject}}", "text": "{{body}}"})
print(block.save("osteoscreen-failure", overwrite=True))
"""
NIGHTLY = """
import sys
from datetime import date
from flows.nightly import nightly
nightly(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], as_of=date(2026, 6, 30), mode="bulk")
"""


class _Receiver(BaseHTTPRequestHandler):
    got: list[bytes] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        _Receiver.got.append(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.mark.slow
def test_failed_nightly_run_sends_a_notification_without_phi(tmp_path):
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    hook = f"http://127.0.0.1:{receiver.server_address[1]}/hook"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_API", "OSTEOSCREEN"))}
    env.update(PREFECT_HOME=str(tmp_path / "prefect-home"), PREFECT_UI_ENABLED="false", DO_NOT_TRACK="1",
               PREFECT_SERVER_ANALYTICS_ENABLED="false")
    try:
        with server(lines_per_file=5) as fhir, local_server(log=tmp_path / "server.log") as url:
            _plant(fhir)
            env["PREFECT_API_URL"] = url
            block_id = subprocess.run([sys.executable, "-c", BLOCK, hook], env=env, capture_output=True,
                                      text=True, check=True).stdout.strip().splitlines()[-1]
            template = (CONFIG_DIR / "templates" / "notify-on-failure.yaml").read_text()
            assert "00000000-0000-0000-0000-000000000000" in template
            automation = tmp_path / "notify-on-failure.yaml"
            automation.write_text(template.replace("00000000-0000-0000-0000-000000000000", block_id))
            made = subprocess.run([BIN / "prefect", "automation", "create", "--from-file", str(automation)],
                                  env=env, capture_output=True, text=True)
            assert made.returncode == 0, made.stdout + made.stderr
            time.sleep(5)  # the server's trigger service picks the new automation up on its next refresh

            out = tmp_path / "out"
            out.write_text("a file where the output folder should be")  # fails at export, after the load
            run = subprocess.run([sys.executable, "-c", NIGHTLY, fhir.base_url, str(tmp_path / "landing"),
                                  str(tmp_path / "data" / "w.duckdb"), str(out)], env=env, capture_output=True,
                                 text=True, timeout=600)
            assert run.returncode != 0, "the run should have failed"
            deadline = time.monotonic() + 180  # the failed subflow (screening-pipeline) and nightly itself
            while not any(b"flow nightly" in m for m in _Receiver.got) and time.monotonic() < deadline:
                time.sleep(1)
    finally:
        receiver.shutdown()
    assert _Receiver.got, "no notification arrived"
    assert (tmp_path / "data" / "w.duckdb").is_file(), "the run loaded the planted patient before failing"
    texts = [m["subject"] + "\n" + m["text"] for m in map(json.loads, _Receiver.got)]
    assert any(t.startswith("osteoscreen: nightly run ") and "ended Failed" in t for t in texts), texts
    assert any(t.startswith("osteoscreen: screening-pipeline run ") for t in texts), texts
    assert [v for v in PHI.values() for t in texts if v in t] == []
