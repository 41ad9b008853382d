"""`osteoscreen extract` through typer: output, one-line errors with distinct exit codes, no tracebacks."""

from __future__ import annotations

import typer
from typer.testing import CliRunner

from screening.sources.cli import extract_command
from tests.servers.keys import private_key, self_signed_cert, write_key
from tests.servers.testing import server

app = typer.Typer()
app.command("extract")(extract_command)
app.command("noop")(lambda: None)  # keep "extract" a sub-command, as in osteoscreen
runner = CliRunner()


def run(*args):
    return runner.invoke(app, ["extract", *args, "--no-progress"])


def test_cli_bulk_export_summary(tmp_path):
    with server() as srv:
        res = run(
            "--fhir-url",
            srv.base_url,
            "--landing",
            str(tmp_path),
            "--bulk",
            "--type",
            "Patient",
            "--type",
            "Observation",
        )
    assert res.exit_code == 0, res.output
    assert "resources: 14 in" in res.stdout and "(bulk)" in res.stdout


def test_cli_search_with_smart_auth_and_group(tmp_path):
    with server(require_auth=True) as srv:
        key = private_key("ES384")
        srv.register_client("cli-client", key.public_key(), "ES384")
        res = run(
            "--fhir-url",
            srv.base_url,
            "--landing",
            str(tmp_path),
            "--search",
            "--group",
            "grp1",
            "--client-id",
            "cli-client",
            "--private-key",
            str(write_key(key, tmp_path / "k.pem")),
            "--type",
            "Patient",
        )
    assert res.exit_code == 0, res.output
    assert "resources: 3 in" in res.stdout and "(search)" in res.stdout


def test_cli_errors_are_one_line_with_distinct_codes(tmp_path):
    with server() as srv:
        srv.add_fault("outcome", "GET /fhir/Patient", status=403, times=100, text="not allowed")
        refused = run(
            "--fhir-url", srv.base_url, "--landing", str(tmp_path / "a"), "--search", "--type", "Patient"
        )
    with server(require_auth=True) as srv:
        unauth = run(
            "--fhir-url", srv.base_url, "--landing", str(tmp_path / "b"), "--search", "--type", "Patient"
        )
        badkey = run(
            "--fhir-url",
            srv.base_url,
            "--landing",
            str(tmp_path / "c"),
            "--client-id",
            "x",
            "--private-key",
            str(tmp_path / "missing.pem"),
        )
    with server(tls=self_signed_cert(tmp_path)) as srv:  # unverifiable TLS: "unreachable", not retried
        gone = run("--fhir-url", srv.base_url, "--landing", str(tmp_path / "d"), "--search")
    badlevel = run("--fhir-url", "http://127.0.0.1:9/fhir", "--level", "planet")
    for res, code, text in (
        (refused, 6, "HTTP 403"),
        (unauth, 8, "HTTP 401"),
        (badkey, 8, "cannot read"),
        (gone, 9, "TLS certificate verification failed"),
        (badlevel, 2, "--level"),
    ):
        assert res.exit_code == code, (code, res.output)
        err = res.stderr.strip()
        assert text in err and len(err.splitlines()) == 1 and "Traceback" not in res.output
