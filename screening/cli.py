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
    os.environ.setdefault("PREFECT_RESULTS_LOCAL_STORAGE_PATH", str(Path(os.environ["PREFECT_HOME"]) / "storage"))
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


def _version(value: bool) -> None:
    if value:
        from screening import __version__
        from screening.migrations import SCHEMA_VERSION

        typer.echo(f"osteoscreen {__version__} (database schema {SCHEMA_VERSION})")
        raise typer.Exit()


@app.callback(context_settings={"help_option_names": ["-h", "--help"]})
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    _state["debug"] = debug
    if debug:  # the pipeline steps then let exceptions through with their text (it can hold patient data)
        from screening.pipeline import DEBUG_ENV

        os.environ[DEBUG_ENV] = "1"


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
    source: Annotated[Path | None, typer.Option("--source", envvar="OSTEOSCREEN_SOURCE",
                                                help="Folder or file of NDJSON / Bundles.")] = None,
    db: Annotated[Path, typer.Option("--db", envvar="OSTEOSCREEN_DB",
                                     help="Working DuckDB file (created if missing).")] = Path("osteoscreen.duckdb"),
    out: Annotated[Path, typer.Option("--out", envvar="OSTEOSCREEN_OUT",
                                      help="Folder for worklist.csv and the run report.")] = Path("out"),
    as_of: Annotated[str | None, typer.Option("--as-of", envvar="OSTEOSCREEN_AS_OF",
                                              help="Reference date YYYY-MM-DD.", show_default="today")] = None,
    config: Annotated[Path | None, typer.Option(
        "--config", help="Config folder overriding the packaged defaults and the site folder (OSTEOSCREEN_CONFIG) "
        "file by file.", show_default="none")] = None,
    fhir_url: Annotated[str | None, typer.Option("--fhir-url", envvar="OSTEOSCREEN_FHIR_URL",
                                                 help="Extract from this FHIR server first.")] = None,
    landing: Annotated[Path, typer.Option("--landing", envvar="OSTEOSCREEN_LANDING",
                                          help="Landing folder for --fhir-url.")] = Path("landing"),
    bulk: Annotated[bool | None, typer.Option("--bulk/--search", help="With --fhir-url: force the mode.",
                                              show_default="auto")] = None,
    since: Annotated[str | None, typer.Option("--since", help="With --fhir-url: instant or 'auto'.")] = None,
    client_id: Annotated[str | None, typer.Option("--client-id", help="SMART Backend Services client.")] = None,
    private_key: Annotated[Path | None, typer.Option("--private-key", help="PEM key (RS384/ES384).")] = None,
    key_id: Annotated[str | None, typer.Option("--key-id")] = None,
    token_file: Annotated[Path | None, typer.Option("--token-file", help="Static bearer token file.")] = None,
    token_env: Annotated[str | None, typer.Option("--token-env", help="Env var with a bearer token.")] = None,
    scope: Annotated[str | None, typer.Option("--scope")] = None,
    insecure: Annotated[bool, typer.Option("--insecure", help="Skip TLS verification (testing).")] = False,
    prefect: Annotated[bool | None, typer.Option(
        "--prefect/--no-prefect", envvar="OSTEOSCREEN_PREFECT",
        help="Run as the Prefect flow (tracked runs, artifacts). Default: only when a Prefect API is configured "
        "(PREFECT_API_URL or the active Prefect profile); --prefect without one starts a local server for the run.",
        show_default="auto")] = None,
    snapshot: Annotated[Path | None, typer.Option(
        "--snapshot", envvar="OSTEOSCREEN_SNAPSHOT", help="Analytics snapshot file analysts open.",
        show_default="<db stem>.analytics.duckdb beside --db")] = None,
    partitions: Annotated[int, typer.Option(
        "--partitions", envvar="OSTEOSCREEN_PARTITIONS", min=1,
        help="Partitioned mode: split by patient into N DuckDB files and merge the worklists "
        "(docs/operations.md, scale-out).")] = 1,
    task_runner: Annotated[str, typer.Option(
        "--task-runner", envvar="OSTEOSCREEN_TASK_RUNNER",
        help="Partitioned mode: 'threads' (this process) or 'dask' (prefect-dask: a LocalCluster, or "
        "--dask-address).")] = "threads",
    dask_address: Annotated[str | None, typer.Option("--dask-address", envvar="OSTEOSCREEN_DASK_ADDRESS",
                                                     help="Existing Dask scheduler, e.g. tcp://host:8786.",
                                                     show_default="a LocalCluster")] = None,
    workers: Annotated[int, typer.Option("--workers", envvar="OSTEOSCREEN_WORKERS", min=1,
                                         help="Partitions run at the same time (LocalCluster workers).")] = 2,
    memory_mb: Annotated[int | None, typer.Option(
        "--memory-mb", envvar="OSTEOSCREEN_MEMORY_MB", min=256,
        help="Memory budget in MB, split across the partitions running at the same time.",
        show_default="DuckDB's default per partition")] = None,
    types: Annotated[list[str] | None, typer.Option(
        "--type", help="With --fhir-url: resource type to extract (repeatable; default: every type a rule "
                       "reads that the server offers).")] = None,
    strict: Annotated[bool, typer.Option(
        "--strict", help="With --fhir-url: fail when a search stops paging before Bundle.total.")] = False,
    deidentify: Annotated[bool, typer.Option("--deidentify", help="Also write worklist-deidentified.csv.")] = False,
    salt_file: Annotated[Path | None, typer.Option(
        "--salt-file", help="Secret salt for --deidentify (else $OSTEOSCREEN_DEID_SALT).")] = None,
    write_back: Annotated[bool, typer.Option(
        "--write-back", help="Send the worklist Tasks back to the --fhir-url server (conditional create).")] = False,
    write_back_url: Annotated[str | None, typer.Option(
        "--write-back-url", help="Send the worklist Tasks to this FHIR server (with --source).")] = None,
    memory_limit: Annotated[str | None, typer.Option(
        "--memory-limit", help="Memory budget, e.g. 2GiB (default: settings.toml [limits]).")] = None,
) -> None:
    """The main job: load -> screen -> export worklist -> publish the analytics snapshot and run report.

    Plain functions by default (no server, no start-up cost); the `screening-pipeline` Prefect flow when a
    Prefect API is configured or --prefect is given.

    With --fhir-url the data is first extracted into a landing folder (see `osteoscreen extract`), then the
    same flow runs on that folder, so a failed load never needs a re-download.
    """
    _set_memory_limit(memory_limit)
    day = _as_of(as_of)
    if (source is None) == (fhir_url is None):
        raise typer.BadParameter("give exactly one of --source PATH or --fhir-url URL")
    _check_config(config)  # before a possibly long extraction, not after it
    export_options = _export_options(deidentify, salt_file, fhir_url if write_back else write_back_url, insecure,
                                     client_id=client_id, private_key_path=str(private_key) if private_key else None,
                                     key_id=key_id, token_file=str(token_file) if token_file else None,
                                     bearer_env=token_env, scope=scope)
    if write_back and fhir_url is None:
        raise typer.BadParameter("--write-back sends Tasks to the --fhir-url server; with --source use "
                                 "--write-back-url URL")
    if fhir_url is not None:
        from screening.sources.auth import AuthConfig
        from screening.sources.extract import extract

        auth = AuthConfig.from_options(client_id=client_id, private_key_path=private_key, key_id=key_id,
                                       token_file=token_file, bearer_env=token_env, scope=scope)
        mode = "auto" if bulk is None else ("bulk" if bulk else "search")
        from screening.sources.cli import summary_lines

        result = extract(fhir_url, landing, mode=mode, since=since, auth=auth, verify_tls=not insecure,
                         progress=True, types=list(types) if types else None, strict=strict)
        typer.echo("\n".join(summary_lines(result)), err=True)
        source = result.export_dir
        if result.resources == 0 and result.deleted == 0 and _nothing_to_load(source):
            # An incremental export with nothing new: the database is already up to date.
            typer.echo(f"nothing new on the server (export up to {result.transaction_time}): database {db} "
                       "left as it is, no new worklist")
            return
        from screening.latest import repoint_latest

        repoint_latest(landing, result.export_dir)  # a finished export with data becomes landing/latest
    elif types or strict:
        raise typer.BadParameter("--type and --strict go with --fhir-url")
    _check_source(source)
    from screening.runlock import pipeline_lock

    if task_runner not in ("threads", "dask"):
        raise typer.BadParameter("--task-runner must be 'threads' or 'dask'")
    dask = task_runner == "dask" or dask_address is not None
    if dask:
        prefect = True  # prefect-dask runs the partition tasks: a Prefect flow (a local server when no API)
    orchestrate = prefect if prefect is not None else prefect_api_configured()
    # Everything a user can get wrong is checked before the flow starts: one clear line, no flow traceback.
    with pipeline_lock(db):
        _check_outputs(db, out)
        if partitions > 1 or dask:
            summary = _run_partitioned(source, db, out, day, config, partitions, task_runner, dask_address,
                                       workers, memory_mb, orchestrate, export_options, snapshot)
        elif orchestrate:
            summary = _run_flow(source, db, out, day, config, snapshot, export_options)
        else:  # no Prefect API and no orchestration asked for: the same steps as plain functions, no server
            from screening.pipeline import run_pipeline

            summary = run_pipeline(source, db, out, day, config, export_options, snapshot=snapshot)
    _print_summary(summary)


def _run_partitioned(source: Path, db: Path, out: Path, day: date, config: Path | None, partitions: int,
                     task_runner: str, dask_address: str | None, workers: int, memory_mb: int | None,
                     orchestrate: bool, export_options: dict | None = None, snapshot: Path | None = None) -> dict:
    if not orchestrate:
        from screening.partition import run_partitioned

        return run_partitioned(source, db, out, day, partitions, config, workers, memory_mb,
                               export_options=export_options, snapshot=snapshot)
    import contextlib

    _prefect_defaults()
    with contextlib.ExitStack() as stack:
        if not prefect_api_configured():
            from screening.serve import local_server

            url = stack.enter_context(local_server())
            os.environ["PREFECT_API_URL"] = url
            typer.echo(f"prefect:   local server {url.removesuffix('/api')} for this run", err=True)
        from flows.partitioned import run_with

        kind = "dask" if dask_address else task_runner
        summary = run_with(kind, workers, dask_address, source=str(source), db=str(db), out=str(out),
                           as_of=day, partitions=partitions, config_dir=str(config) if config else None,
                           memory_mb=memory_mb, export_options=export_options,
                           snapshot=str(snapshot) if snapshot else None)
        from prefect.logging.handlers import APILogWorker

        APILogWorker.drain_all(timeout=10)
    return summary


def prefect_api_configured() -> bool:
    """PREFECT_API_URL in the environment or in the active Prefect profile (read without importing Prefect)."""
    if os.environ.get("PREFECT_API_URL"):
        return True
    import tomllib

    home = Path(os.environ.get("PREFECT_HOME", Path.cwd() / ".prefect"))
    profiles = Path(os.environ.get("PREFECT_PROFILES_PATH", home / "profiles.toml"))
    try:
        doc = tomllib.loads(profiles.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return False
    active = os.environ.get("PREFECT_PROFILE") or doc.get("active") or "ephemeral"
    return bool(doc.get("profiles", {}).get(active, {}).get("PREFECT_API_URL"))


def _run_flow(source: Path, db: Path, out: Path, day: date, config: Path | None, snapshot: Path | None,
              export_options: dict | None = None) -> dict:
    """The `screening-pipeline` flow against the configured API, or a local server started (and stopped) here."""
    import contextlib

    _prefect_defaults()
    with contextlib.ExitStack() as stack:
        if not prefect_api_configured():
            from screening.serve import local_server

            url = stack.enter_context(local_server())
            os.environ["PREFECT_API_URL"] = url
            typer.echo(f"prefect:   local server {url.removesuffix('/api')} for this run", err=True)
        from flows.screening_pipeline import screening_pipeline

        summary = screening_pipeline(str(source), str(db), str(out), day, str(config) if config else None,
                                     export_options, snapshot=str(snapshot) if snapshot else None)
        from prefect.logging.handlers import APILogWorker

        APILogWorker.drain_all(timeout=10)  # send the run's last log lines before a server started here stops
    return summary


def _nothing_to_load(source: Path) -> bool:
    from screening.load import SourceError, discover

    try:
        discover(source)
    except SourceError:
        return True
    return False


def _empty_export(source: Path) -> bool:
    """A landing export folder (from `osteoscreen extract`) whose manifest lists no output and no deletion:
    an incremental export with nothing new, which is a successful no-op rather than 'no FHIR files'."""
    import json

    from screening.sources.landing import EXPORT_STATE

    manifest = source / "manifest.json"
    if not (source.is_dir() and (source / EXPORT_STATE).is_file() and manifest.is_file()):
        return False
    try:
        doc = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    outputs = [o for o in doc.get("output") or [] if isinstance(o, dict) and o.get("count", 1)]
    return not outputs and not doc.get("deleted") and _nothing_to_load(source)


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
    from screening.reports.extract import grammar_path, load_grammar

    load_grammar(grammar_path(settings.config_dirs))


def _print_summary(summary: dict) -> None:
    load, export = summary["load"], summary["export"]
    prio = export.get("by_priority", {})
    lines = [
        f"database:  {summary['db']}",
        f"worklist:  {export['worklist']}",
        f"records:   {load['records_read']} read = {load['loaded']} loaded + {load['quarantined']} quarantined"
        f" ({load['files']} files, {load['patients']} Patient resources in the database)",
        *([f"nothing new: all {load['files']} files are unchanged since they were loaded"]
          if load.get("files_skipped") and load["files_skipped"] == load["files"] else []),
        *([f"screen:    nothing changed since screen run {summary['screen']['unchanged_since']} (same as-of date, "
           "config and data): its results stand"] if (summary.get("screen") or {}).get("skipped") else []),
        f"flagged:   {export['listed']} patients on the worklist "
        f"(high {prio.get('high', 0)}, medium {prio.get('medium', 0)}, low {prio.get('low', 0)})",
    ]
    finish = summary.get("finish") or {}
    if finish:
        lines.append(f"snapshot:  {finish['snapshot']} ({'published' if finish['snapshot_published'] else 'unchanged'}"
                     f"; {finish['new']} new, {finish['resolved']} resolved since the last run)")
        lines.append(f"report:    {finish['report_markdown']}")
    if "data_quality" in export:
        lines.append(f"data quality: {export['data_quality_warnings']} warnings (every patient) -> "
                     f"{export['data_quality']}")
    lines += _worklist_summary_lines(export.get("summary"))
    if load["quarantined"]:
        lines.append("quarantine: osteoscreen query --db <db> \"SELECT source_file, source_line, field, reason "
                     "FROM quarantine\"")
    typer.echo("\n".join(lines))


@app.command()
def load(
    source: Annotated[Path, typer.Option("--source", envvar="OSTEOSCREEN_SOURCE", help="Folder or file to load.")],
    db: Annotated[Path, typer.Option("--db", envvar="OSTEOSCREEN_DB", help="Working DuckDB file.")] = Path(
        "osteoscreen.duckdb"),
    memory_limit: Annotated[str | None, typer.Option(
        "--memory-limit", envvar="OSTEOSCREEN_MEMORY_LIMIT",
        help="Memory budget, e.g. 2GiB (default: settings.toml [limits]).")] = None,
) -> None:
    """Load files into the database only (no screening)."""
    from screening.pipeline import load_step
    from screening.runlock import database_lock

    _set_memory_limit(memory_limit)
    if _empty_export(source):
        typer.echo(f"nothing to load: {source} is an extraction with no new resources; database unchanged")
        return
    _check_source(source)
    with database_lock(db):  # the same writer lock as `run`: no load slips into a running pipeline
        c = load_step(source, db)
    if c.get("files_skipped") and c["files_skipped"] == c["files"]:
        typer.echo(f"nothing new: all {c['files']} files are unchanged since they were loaded")
    typer.echo(f"{c['records_read']} read = {c['loaded']} loaded + {c['quarantined']} quarantined"
               + (f" ({c['files_skipped']} unchanged files skipped)" if c.get("files_skipped") else ""))


def _set_memory_limit(value: str | None) -> None:
    """--memory-limit reaches every DuckDB connection of this process (load, screen, export) via the environment."""
    import os

    from screening.db import MEMORY_ENV, parse_memory_limit

    if value is not None:
        try:
            os.environ[MEMORY_ENV] = parse_memory_limit(value)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--memory-limit") from None


@app.command()
def query(
    sql: Annotated[str, typer.Argument(help="SQL to run, e.g. \"SELECT * FROM worklist\".")],
    db: Annotated[Path, typer.Option("--db", envvar="OSTEOSCREEN_QUERY_DB", help="DuckDB file to query (the "
                                     "analytics snapshot for analysts).")] = Path("osteoscreen.duckdb"),
    write: Annotated[bool, typer.Option("--write", help="Open read-write (default read-only).")] = False,
    max_rows: Annotated[int, typer.Option("--max-rows")] = 100,
    csv_out: Annotated[bool, typer.Option("--csv", help="Print CSV instead of a table.")] = False,
) -> None:
    """Run SQL for analysts; read-only unless --write."""
    if write:
        from screening.runlock import database_lock

        with database_lock(db, create=False):  # a writer like `run` and `load`: one at a time
            _query(db, sql, write, max_rows, csv_out)
    else:
        _query(db, sql, write, max_rows, csv_out)


def _query(db: Path, sql: str, write: bool, max_rows: int, csv_out: bool) -> None:
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

        from screening.export.cells import neutralise

        w = csv.writer(sys.stdout, lineterminator="\n")
        w.writerow(columns)
        w.writerows([[neutralise(v) for v in row] for row in rows])  # spreadsheet-safe text cells
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(*columns)
    for row in rows:
        table.add_row(*["" if v is None else str(v) for v in row])
    Console(width=max(120, 20 * len(columns))).print(table)


def _export_options(deidentify: bool, salt_file: Path | None, write_back_url: str | None, insecure: bool,
                    **auth) -> dict:
    """Export options for the flow: paths and names only (the salt and tokens are read inside the export)."""
    opts: dict = {"deidentify": deidentify, "salt_file": str(salt_file) if salt_file else None,
                  "write_back_url": write_back_url, "insecure": insecure}
    if deidentify:
        from screening.export.deidentify import read_salt

        read_salt(salt_file)  # fail (exit 5) before the flow starts; the value is not kept
    if write_back_url:
        opts["write_back_auth"] = {k: v for k, v in auth.items() if v}
    return opts


def _worklist_summary_lines(s: dict | None) -> list[str]:
    if not s:
        return []
    return [
        f"as of:     {s['as_of']}: {s['screened']} screened, {s['listed']} listed, {s['safety_alerts']} safety alerts",
        f"changes:   {s['new']} new, {s['changed']} changed, {s['back']} back, {s['continuing']} continuing, "
        f"{s['resolved']} resolved, {s['suppressed']} suppressed by a disposition",
        "outputs:   " + ", ".join(Path(p).name for p in s["outputs"].values()),
        f"summary:   {s['outputs'].get('summary.md', '')}",
    ] + ([f"write-back: {s['write_back']}"] if s.get("write_back") else [])


@app.command()
def disposition(
    patient: Annotated[str, typer.Argument(help="The patient_id from the worklist.")],
    status: Annotated[str, typer.Option("--status", help="contacted, referred, treatment started, declined, "
                                        "not appropriate, unable to reach (config/dispositions.csv).")],
    db: Annotated[Path, typer.Option("--db")] = Path("osteoscreen.duckdb"),
    review: Annotated[str | None, typer.Option("--review", help="Review date YYYY-MM-DD.")] = None,
    note: Annotated[str | None, typer.Option("--note", help="Free text (a reason).")] = None,
    by: Annotated[str | None, typer.Option("--by", help="Who (default: the login user).")] = None,
    config: Annotated[Path | None, typer.Option("--config")] = None,
) -> None:
    """Record a care manager's outcome for a patient (works while a run holds the database)."""
    from screening.export.dispositions import Disposition, dispositions_path, record

    review_day = _as_of(review) if review else None
    n = record(db, [Disposition(patient, status, note, review_day, by)], "cli", config)
    typer.echo(f"recorded {n} disposition in {dispositions_path(db)}")


@app.command("import")
def import_worklist(
    file: Annotated[Path, typer.Argument(help="An edited worklist.csv or worklist.xlsx.")],
    db: Annotated[Path, typer.Option("--db")] = Path("osteoscreen.duckdb"),
    config: Annotated[Path | None, typer.Option("--config")] = None,
) -> None:
    """Record the dispositions filled in in an edited worklist (the `disposition` column); all or nothing."""
    from screening.export.dispositions import read_edited_worklist, record

    items = read_edited_worklist(file, config)
    n = record(db, items, f"import:{file.name}", config)
    typer.echo(f"{len(items)} dispositions in {file.name}, {n} recorded ({len(items) - n} already recorded)")


def _register_extract() -> None:
    try:
        from screening.sources.cli import extract_command
    except ImportError:
        return
    app.command("extract", help="Extract from a FHIR server into a landing folder (Bulk $export or REST).")(
        extract_command)


_register_extract()


@app.command()
def serve(
    file: Annotated[Path | None, typer.Option("--file", help="Deployment definition.",
                                              show_default="the shipped prefect.yaml")] = None,
    name: Annotated[list[str] | None, typer.Option("--name", help="Serve only this deployment (repeatable).",
                                                   show_default="all")] = None,
    home: Annotated[Path | None, typer.Option("--home", envvar="OSTEOSCREEN_HOME",
                                              help="Folder the deployments' relative paths start from.",
                                              show_default="current folder")] = None,
    port: Annotated[int | None, typer.Option("--port", help="Port of the local Prefect server (when no "
                                             "PREFECT_API_URL).", show_default="a free port")] = None,
    show_file: Annotated[bool, typer.Option(
        "--show-file", help="Print the path of the deployment definition and exit (for `prefect deploy "
        "--prefect-file`).")] = False,
) -> None:
    """Serve the prefect.yaml deployments (schedules, parameters) from this process; no work pool needed.

    Uses PREFECT_API_URL when set, else starts a local Prefect server on 127.0.0.1 and prints where.
    """
    if show_file:
        from screening.serve import definition_path

        typer.echo(str(definition_path(file)))
        return
    _prefect_defaults()
    from screening.serve import serve as serve_deployments

    serve_deployments(file, name or None, home, port, echo=lambda m: typer.echo(m, err=True))


valuesets_app = typer.Typer(no_args_is_help=True, help="Code lists: build them from published ValueSet expansions.")
app.add_typer(valuesets_app, name="valuesets")


@valuesets_app.command("import")
def valuesets_import(
    file: Annotated[Path, typer.Argument(help="FHIR ValueSet JSON with an expansion (VSAC / eCQM).")],
    name: Annotated[str, typer.Option("--name", help="Concept (code-list) name, e.g. inflammatory_disease.")],
    out: Annotated[Path | None, typer.Option("--out", help="CSV to create or merge into.",
                                             show_default="$OSTEOSCREEN_CONFIG/valuesets/<name>.csv, else "
                                             "config/valuesets/<name>.csv")] = None,
    system: Annotated[list[str] | None, typer.Option("--system", help="Keep only this system (repeatable).")] = None,
    qualifier: Annotated[str, typer.Option("--qualifier", help="Qualifier of the imported rows.")] = "",
    qualify: Annotated[list[str] | None, typer.Option("--qualify", help="REGEX=QUALIFIER on the display.")] = None,
    include: Annotated[str | None, typer.Option("--include", help="Keep only displays matching.")] = None,
    exclude: Annotated[str | None, typer.Option("--exclude", help="Drop displays matching.")] = None,
) -> None:
    """Turn a ValueSet expansion into config/valuesets/<name>.csv rows (source per row); merges, never duplicates."""
    from screening.codes.importer import ImportOptions, import_valueset, parse_qualify
    from screening.errors import InputPathError

    if not file.is_file():
        raise InputPathError(f"{file}: no such file")
    from screening.paths import site_config_dir

    # The site config folder (OSTEOSCREEN_CONFIG) when there is one: never the packaged defaults.
    target = out or (site_config_dir() or Path("config")) / "valuesets" / f"{name}.csv"
    opts = ImportOptions(concept=name, systems=system or [], qualifier=qualifier,
                         qualify=parse_qualify(qualify or []), include=include, exclude=exclude)
    c = import_valueset(file, target, opts)
    typer.echo(f"{c['source']}: {c['expansion']} codes in the expansion, {c['selected']} selected, "
               f"{c['added']} added -> {target} ({c['rows']} rows)")


def main() -> None:
    """Run the CLI; every command's exit code reaches the process (click's non-standalone mode returns it).

    Failures end in one line on stderr. An unexpected error's line names only the exception type: exception
    texts can quote patient values (a DuckDB conversion error quotes the value), so they are shown with
    --debug only, as a traceback.
    """
    os.umask(0o077)  # every file we create (database, worklist, landing data) is owner-only: it holds PHI
    try:
        rc = app(standalone_mode=False)
    except OsteoscreenError as exc:
        if _state["debug"]:
            raise
        typer.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        rc = exc.exit_code
    except (typer.Abort, KeyboardInterrupt):
        rc = 130
    except Exception as exc:  # usage errors come through here in non-standalone mode
        show = getattr(exc, "show", None)
        if callable(show) and hasattr(exc, "exit_code"):  # a (typer-vendored) click usage exception
            show()
            sys.exit(exc.exit_code)
        if _state["debug"]:
            raise
        known = _known_failure(exc)
        if known is not None:
            typer.echo(f"error: {known}", err=True)
            sys.exit(known.exit_code)
        typer.echo(f"error: unexpected {type(exc).__name__} (no details shown: they can hold patient data; "
                   "run with --debug for a traceback)", err=True)
        sys.exit(1)
    rc = rc if isinstance(rc, int) else 0
    if rc == 130 and not _state.get("interrupt_reported"):
        typer.echo("interrupted", err=True)
    sys.exit(rc)


def _known_failure(exc: BaseException) -> OsteoscreenError | None:
    """Failures from deep inside a step that the user can act on: disk full, a database altered by hand."""
    from screening.errors import classify

    return classify(exc)
