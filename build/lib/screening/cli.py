"""The `osteoscreen` command line. Every user-caused failure ends in one line and a distinct exit code."""

from __future__ import annotations

import os
import sys
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from screening.errors import OsteoscreenError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Screen FHIR R4 data for secondary causes of low bone density.")
_state = {"debug": False}


def _prefect_defaults() -> None:
    """Prefect writes only inside the working folder and stays quiet about telemetry, unless told otherwise."""
    os.environ.setdefault("PREFECT_HOME", str(Path.cwd() / ".prefect"))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")


def _as_of(value: str | None) -> date:
    if value is None:
        return date.today()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from None


@app.callback()
def _root(debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False) -> None:
    _state["debug"] = debug


@app.command()
def synth(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the Bulk-style NDJSON files into.")],
    patients: Annotated[int, typer.Option(min=1)] = 1000,
    seed: int = 42,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Reference date the data is built around.")] = None,
) -> None:
    """Write a synthetic FHIR population with planted cases and their ground truth."""
    from screening.synth import generate

    summary = generate(out, patients=patients, seed=seed, as_of=_as_of(as_of))
    typer.echo(f"synthetic population: {patients} patients -> {out} ({summary})")


@app.command()
def run(
    source: Annotated[Path | None, typer.Option("--source", help="Folder or file of NDJSON / Bundles.")] = None,
    db: Annotated[Path, typer.Option("--db", help="DuckDB file (created if missing).")] = Path("osteoscreen.duckdb"),
    out: Annotated[Path, typer.Option("--out", help="Folder for worklist.csv.")] = Path("out"),
    as_of: Annotated[str | None, typer.Option("--as-of", help="Reference date (default today).")] = None,
    config: Annotated[Path | None, typer.Option("--config", help="Config folder (default ./config).")] = None,
    fhir_url: Annotated[str | None, typer.Option("--fhir-url", help="Extract from this FHIR server first.")] = None,
    landing: Annotated[Path, typer.Option("--landing", help="Landing folder for --fhir-url.")] = Path("landing"),
    bulk: Annotated[bool | None, typer.Option("--bulk/--search", help="With --fhir-url: force the mode.")] = None,
    since: Annotated[str | None, typer.Option("--since", help="With --fhir-url: instant or 'auto'.")] = None,
    client_id: Annotated[str | None, typer.Option("--client-id", help="SMART Backend Services client.")] = None,
    private_key: Annotated[Path | None, typer.Option("--private-key", help="PEM key (RS384/ES384).")] = None,
    key_id: Annotated[str | None, typer.Option("--key-id")] = None,
    token_file: Annotated[Path | None, typer.Option("--token-file", help="Static bearer token file.")] = None,
    token_env: Annotated[str | None, typer.Option("--token-env", help="Env var with a bearer token.")] = None,
    scope: Annotated[str | None, typer.Option("--scope")] = None,
    insecure: Annotated[bool, typer.Option("--insecure", help="Skip TLS verification (testing).")] = False,
) -> None:
    """The main job: load -> screen -> export worklist, as the `screening-pipeline` Prefect flow.

    With --fhir-url the data is first extracted into a landing folder (see `osteoscreen extract`), then the
    same flow runs on that folder, so a failed load never needs a re-download.
    """
    day = _as_of(as_of)
    if (source is None) == (fhir_url is None):
        raise typer.BadParameter("give exactly one of --source PATH or --fhir-url URL")
    if fhir_url is not None:
        from screening.sources.auth import AuthConfig
        from screening.sources.extract import extract

        auth = AuthConfig.from_options(client_id=client_id, private_key_path=private_key, key_id=key_id,
                                       token_file=token_file, bearer_env=token_env, scope=scope)
        mode = "auto" if bulk is None else ("bulk" if bulk else "search")
        result = extract(fhir_url, landing, mode=mode, since=since, auth=auth, verify_tls=not insecure,
                         progress=True)
        source = result.export_dir
    _check_source(source)
    _check_config(config)
    _prefect_defaults()
    from flows.screening_pipeline import screening_pipeline
    from screening.runlock import pipeline_lock

    # Everything a user can get wrong is checked before the flow starts: one clear line, no flow traceback.
    with pipeline_lock(db):
        _check_outputs(db, out)
        summary = screening_pipeline(str(source), str(db), str(out), day, str(config) if config else None)
    _print_summary(summary)


def _check_source(source: Path) -> None:
    from screening.errors import InputPathError
    from screening.load import SourceError, discover

    try:
        discover(source)
    except SourceError as exc:
        raise InputPathError(str(exc)) from None


def _check_outputs(db: Path, out: Path) -> None:
    from screening.database import open_database
    from screening.errors import OutputError
    from screening.export.safe_files import ensure_private_dir

    for folder, what in ((db.parent, "database"), (out, "output")):
        try:
            ensure_private_dir(folder)
        except OSError as exc:
            raise OutputError(f"{folder}: cannot create the {what} folder: {exc.strerror}") from None
    open_database(db).close()


def _check_config(config: Path | None) -> None:
    """Fail before the flow starts (one line, exit 5) when settings or code lists are broken."""
    import duckdb

    from screening.codes import load_code_tables
    from screening.settings import load_settings

    settings = load_settings(config)
    load_code_tables(duckdb.connect(), settings.config_dirs)


def _print_summary(summary: dict) -> None:
    load, export = summary["load"], summary["export"]
    prio = export.get("by_priority", {})
    lines = [
        f"database:  {summary['db']}",
        f"worklist:  {export['worklist']}",
        f"records:   {load['records_read']} read = {load['loaded']} loaded + {load['quarantined']} quarantined"
        f" ({load['files']} files, {load['patients']} Patient resources in the database)",
        f"flagged:   {export['listed']} patients on the worklist "
        f"(high {prio.get('high', 0)}, medium {prio.get('medium', 0)}, low {prio.get('low', 0)})",
    ]
    if load["quarantined"]:
        lines.append("quarantine: osteoscreen query --db <db> \"SELECT source_file, source_line, field, reason "
                     "FROM quarantine\"")
    typer.echo("\n".join(lines))


@app.command()
def load(
    source: Annotated[Path, typer.Option("--source")],
    db: Annotated[Path, typer.Option("--db")] = Path("osteoscreen.duckdb"),
) -> None:
    """Load files into the database only (no screening)."""
    from screening.pipeline import load_step

    _check_source(source)
    c = load_step(source, db)
    typer.echo(f"{c['records_read']} read = {c['loaded']} loaded + {c['quarantined']} quarantined")


@app.command()
def query(
    sql: Annotated[str, typer.Argument(help="SQL to run, e.g. \"SELECT * FROM worklist\".")],
    db: Annotated[Path, typer.Option("--db")] = Path("osteoscreen.duckdb"),
    write: Annotated[bool, typer.Option("--write", help="Open read-write (default read-only).")] = False,
    max_rows: Annotated[int, typer.Option("--max-rows")] = 100,
    csv_out: Annotated[bool, typer.Option("--csv", help="Print CSV instead of a table.")] = False,
) -> None:
    """Run SQL for analysts; read-only unless --write."""
    import duckdb

    from screening.database import open_database
    from screening.errors import DatabaseError

    con = open_database(db, read_only=not write, create=False)
    try:
        try:
            cur = con.execute(sql)
        except duckdb.Error as exc:
            raise DatabaseError(f"query failed: {str(exc).splitlines()[0]}") from None
        if cur.description is None:
            return
        columns = [d[0] for d in cur.description]
        rows = cur.fetchmany(max_rows)
        _print_rows(columns, rows, csv_out)
    finally:
        con.close()


def _print_rows(columns: list[str], rows: list[tuple], csv_out: bool) -> None:
    if csv_out:
        import csv

        w = csv.writer(sys.stdout, lineterminator="\n")
        w.writerow(columns)
        w.writerows(rows)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(*columns)
    for row in rows:
        table.add_row(*["" if v is None else str(v) for v in row])
    Console(width=max(120, 20 * len(columns))).print(table)


def _register_extract() -> None:
    try:
        from screening.sources.cli import extract_command
    except ImportError:
        return
    app.command("extract", help="Extract from a FHIR server into a landing folder (Bulk $export or REST).")(
        extract_command)


_register_extract()


def main() -> None:
    os.umask(0o077)  # every file we create (database, worklist, landing data) is owner-only: it holds PHI
    try:
        app(standalone_mode=False)
    except OsteoscreenError as exc:
        if _state["debug"]:
            raise
        typer.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        typer.echo("aborted", err=True)
        sys.exit(130)
    except Exception as exc:  # usage errors come through here in non-standalone mode
        show = getattr(exc, "show", None)
        if callable(show) and hasattr(exc, "exit_code"):  # a (typer-vendored) click usage exception
            show()
            sys.exit(exc.exit_code)
        if _state["debug"]:
            raise
        typer.echo(f"error: unexpected {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''} "
                   "(run with --debug for details)", err=True)
        sys.exit(1)
