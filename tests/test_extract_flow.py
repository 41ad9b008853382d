"""The `extract-fhir` Prefect flow against the loopback server (runs under the session Prefect harness)."""

from __future__ import annotations

import pytest

from tests.servers.keys import private_key, write_key
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
