"""The `extract-fhir` Prefect flow against the loopback server (runs under the session Prefect harness)."""

from __future__ import annotations

import logging
import secrets
from pathlib import Path

import orjson
import pytest

from tests.servers.keys import pem, private_key, write_key
from tests.servers.testing import ids, server


@pytest.mark.prefect
def test_extract_flow_bulk_with_smart_auth_returns_counts_only(tmp_path):
    from flows.extract_flow import extract_fhir

    with server(require_auth=True, lines_per_file=2) as srv:
        key = private_key("RS384")
        srv.register_client("flow-client", key.public_key(), "RS384")
        summary = extract_fhir(
            srv.base_url,
            str(tmp_path),
            mode="bulk",
            client_id="flow-client",
            private_key_path=str(write_key(key, tmp_path / "k.pem")),
            max_concurrency=2,
        )
    assert summary["resources"] == 27 and summary["mode"] == "bulk" and summary["files"] > 9
    assert set(summary) >= {"export_dir", "transaction_time", "files", "resources", "errors", "deleted"}
    assert ids(tmp_path / summary["export_dir"], "Medication") == {"med-pred", "med-ome", "med-mp"}


@pytest.mark.prefect
def test_extract_flow_falls_back_to_search(tmp_path):
    from flows.extract_flow import extract_fhir

    with server(bulk=False) as srv:
        summary = extract_fhir(srv.base_url, str(tmp_path), level="patient")
    assert summary["mode"] == "search" and summary["resources"] == 27


# -- credentials from Prefect Secret blocks -------------------------------------------------------------


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(f"{record.name} {record.getMessage()} {record.exc_text or ''} {record.__dict__!r}")


def _prefect_traces(state) -> str:
    """Everything Prefect kept about a flow run: its parameters, all its logs (API) and its artifacts."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId, LogFilter, LogFilterFlowRunId
    from prefect.logging.handlers import APILogHandler

    APILogHandler().flush()  # logs travel to the API in batches
    run_id = state.state_details.flow_run_id
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(run_id)
        logs = client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_id])))
        artifacts = client.read_artifacts(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id])))
    assert logs and any("extraction mode bulk" in x.message for x in logs)  # the log capture is real
    assert run.parameters.get("private_key_block") or run.parameters.get("token_block")
    return "\n".join(
        [orjson.dumps(run.parameters).decode()]
        + [x.message for x in logs]
        + [orjson.dumps(a.model_dump(mode="json")).decode() for a in artifacts]
    )


def _assert_nowhere(
    secrets: list[str], *, export_dir: Path, summary: dict, traces: str, lines: list[str], console: str
) -> None:
    from tests.servers.testing import assert_no_secret

    assert_no_secret(export_dir.parent, *secrets)  # the export folder and the landing root state
    returned = orjson.dumps(summary).decode()
    for s in secrets:
        assert s not in returned, "a secret is in the flow's return value"
        assert s not in traces, "a secret reached Prefect (parameters, API logs or artifacts)"
        assert not [x for x in lines if s in x], "a secret is in a captured log record"
        assert s not in console, "a secret was printed"


@pytest.mark.prefect
def test_extract_flow_takes_credentials_from_secret_blocks_and_never_leaks_them(tmp_path, capfd):
    from prefect.blocks.system import Secret

    from flows.extract_flow import extract_fhir

    key = private_key("RS384")
    key_pem = pem(key).decode()
    static_token = "static-" + secrets.token_urlsafe(24)
    Secret(value=key_pem).save("osteo-test-fhir-key", overwrite=True)
    Secret(value=static_token).save("osteo-test-fhir-token", overwrite=True)
    key_lines = [ln for ln in key_pem.splitlines() if len(ln) >= 40]  # any fragment of the key body

    records = _Records()
    watched = [logging.getLogger(), logging.getLogger("prefect"), logging.getLogger("screening")]
    for lg in watched:
        lg.addHandler(records)
    try:
        # SMART Backend Services with the key from a Secret block (the server verifies the signed JWT)
        with server(require_auth=True, lines_per_file=4) as srv:
            srv.register_client("block-client", key.public_key(), "RS384")
            smart_state = extract_fhir(
                srv.base_url,
                str(tmp_path / "smart"),
                mode="bulk",
                types=["Patient", "Observation"],
                client_id="block-client",
                private_key_block="osteo-test-fhir-key",
                max_concurrency=2,
                return_state=True,
            )
            issued = list(srv.tokens)
            refused = [s for s in srv.seen() if s.path.startswith(("/fhir/bulkstatus", "/files/")) and not s.authorized]
            token_requests = srv.token_requests
        # a static bearer token from a Secret block
        with server(require_auth=True, lines_per_file=4) as srv:
            srv.add_static_token(static_token)
            token_state = extract_fhir(
                srv.base_url,
                str(tmp_path / "token"),
                mode="bulk",
                types=["Patient", "Observation"],
                token_block="osteo-test-fhir-token",
                return_state=True,
            )
            token_requests_2 = srv.token_requests
            unauthorised = [
                s for s in srv.seen() if s.path.startswith(("/fhir/bulkstatus", "/files/")) and not s.authorized
            ]
    finally:
        for lg in watched:
            lg.removeHandler(records)
        Secret(value="x").save("osteo-test-fhir-key", overwrite=True)  # leave no key in the test API
        Secret(value="x").save("osteo-test-fhir-token", overwrite=True)

    assert smart_state.is_completed() and token_state.is_completed()
    smart, token = smart_state.result(), token_state.result()
    assert token_requests == 1 and issued and not refused  # the JWT from the block's key was accepted
    assert token_requests_2 == 0 and not unauthorised  # the static token was used as-is
    for summary in (smart, token):
        assert summary["mode"] == "bulk" and summary["resources"] == 14 and summary["files"] >= 4
        assert ids(Path(summary["export_dir"]), "Patient") == {"p1", "p2", "p3", "p4", "p5", "p6"}

    console = "".join(capfd.readouterr())
    assert any("extraction mode bulk" in x for x in records.lines)  # the log capture is real
    for state, summary, secret_values in (
        (smart_state, smart, [key_pem, *key_lines, *issued]),
        (token_state, token, [static_token]),
    ):
        _assert_nowhere(
            secret_values,
            export_dir=Path(summary["export_dir"]),
            summary=summary,
            traces=_prefect_traces(state),
            lines=records.lines,
            console=console,
        )
