"""`osteoscreen extract` through the installed console script: the summary users read, with the exit code
the process really ends with (error codes: tests/test_cli.py)."""

from __future__ import annotations

from tests.servers.keys import private_key, write_key
from tests.servers.testing import server
from tests.test_cli import cli


def run(tmp_path, *args):
    return cli("extract", *args, "--no-progress", cwd=tmp_path)


def test_cli_bulk_export_summary(tmp_path):
    with server() as srv:
        res = run(tmp_path, "--fhir-url", srv.base_url, "--landing", str(tmp_path / "l"), "--bulk",
                  "--type", "Patient", "--type", "Observation")
    assert res.returncode == 0, res.stderr
    assert "resources: 14 in" in res.stdout and "(bulk)" in res.stdout


def test_cli_search_with_smart_auth_and_group(tmp_path):
    with server(require_auth=True) as srv:
        key = private_key("ES384")
        srv.register_client("cli-client", key.public_key(), "ES384")
        res = run(tmp_path, "--fhir-url", srv.base_url, "--landing", str(tmp_path / "l"), "--search",
                  "--group", "grp1", "--client-id", "cli-client",
                  "--private-key", str(write_key(key, tmp_path / "k.pem")), "--type", "Patient")
    assert res.returncode == 0, res.stderr
    assert "resources: 3 in" in res.stdout and "(search)" in res.stdout
