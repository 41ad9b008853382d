"""The run record and the run's artifacts: counts and rule ids only, never a patient value.

Per run: a table per resource type (loaded / quarantined / stored), patients screened, listed by priority and by
unaddressed cause, new and resolved since the previous run, and a markdown summary with the output paths. Inside
a Prefect flow run they become Prefect artifacts; they are always also written to the output folder
(`run-report.md`, `run-report.json`, owner-only), so a run without a Prefect API has them too.
"""

from __future__ import annotations

import json
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from screening.db import run_sql_file, sql_text
from screening.export.safe_files import atomic_write


def ensure_ops_tables(con: duckdb.DuckDBPyConnection) -> None:
    run_sql_file(con, "ops/10_run_history.sql")


def record_run(con: duckdb.DuckDBPyConnection, summary: dict, fingerprint: str, snapshot: str | None) -> dict:
    """Append this run to run_record/run_listed; returns new/resolved counts against the previous run."""
    ensure_ops_tables(con)
    run_id = uuid.uuid4().hex[:12]
    prev = con.execute("SELECT run_id FROM run_record ORDER BY finished_at DESC LIMIT 1").fetchone()
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("INSERT INTO run_listed SELECT ?, patient_id, priority FROM worklist", [run_id])
        if prev:
            new, resolved = con.execute(
                "SELECT (SELECT count(*) FROM run_listed c WHERE c.run_id = $cur AND c.patient_id NOT IN "
                "        (SELECT patient_id FROM run_listed WHERE run_id = $prev)),"
                "       (SELECT count(*) FROM run_listed p WHERE p.run_id = $prev AND p.patient_id NOT IN "
                "        (SELECT patient_id FROM run_listed WHERE run_id = $cur))",
                {"cur": run_id, "prev": prev[0]}).fetchone()
        else:
            new, resolved = summary["export"]["listed"], 0
        screen = summary.get("screen", {})
        con.execute(
            "INSERT INTO run_record VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [run_id, datetime.now(UTC), screen.get("as_of"), summary["load"].get("run_id"), screen.get("run_id"),
             screen.get("screened"), summary["export"]["listed"], new, resolved, fingerprint, snapshot])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return {"run_id": run_id, "new": new, "resolved": resolved, "first_run": prev is None}


def build_report(con: duckdb.DuckDBPyConnection, summary: dict, record: dict) -> dict:
    """Everything the artifacts show, as plain data (the PHI test reads exactly this)."""
    types = con.execute(sql_text("ops/20_report_types.sql"), {"load_run_id": summary["load"].get("run_id")})
    type_rows = [dict(zip(("resource_type", "loaded", "quarantined", "stored"), r, strict=True))
                 for r in types.fetchall()]
    listed_rows = [dict(zip(("dimension", "value", "patients"), r, strict=True))
                   for r in con.execute(sql_text("ops/30_report_listed.sql")).fetchall()]
    load, export, screen = summary["load"], summary["export"], summary.get("screen", {})
    totals = {
        "records_read": load["records_read"], "loaded": load["loaded"], "quarantined": load["quarantined"],
        "patients_screened": screen.get("screened"), "listed": export["listed"],
        "new": record["new"], "resolved": record["resolved"],
    }
    return {"run_id": record["run_id"], "as_of": screen.get("as_of"), "totals": totals, "types": type_rows,
            "listed": listed_rows, "outputs": summary.get("outputs", {})}


def report_markdown(report: dict) -> str:
    t = report["totals"]
    lines = [
        f"# osteoscreen run {report['run_id']} (as of {report['as_of']})",
        "",
        f"- records read: {t['records_read']} = loaded {t['loaded']} + quarantined {t['quarantined']}",
        f"- patients screened: {t['patients_screened']}; listed: {t['listed']} "
        f"(new {t['new']}, resolved {t['resolved']})",
        "",
        "| resource type | loaded | quarantined | stored |",
        "|---|---:|---:|---:|",
        *[f"| {r['resource_type']} | {r['loaded']} | {r['quarantined']} | {r['stored']} |" for r in report["types"]],
        "",
        "| listed by | value | patients |",
        "|---|---|---:|",
        *[f"| {r['dimension']} | {r['value']} | {r['patients']} |" for r in report["listed"]],
        "",
        "Outputs:",
        *[f"- {name}: `{path}`" for name, path in sorted(report["outputs"].items()) if path],
    ]
    return "\n".join(lines) + "\n"


def write_report_files(report: dict, out: Path) -> dict[str, str]:
    md = atomic_write(Path(out) / "run-report.md", lambda fh: fh.write(report_markdown(report)))
    js = atomic_write(Path(out) / "run-report.json",
                      lambda fh: fh.write(json.dumps(report, indent=2, sort_keys=True, default=str)))
    return {"report_markdown": str(md), "report_json": str(js)}


def publish_prefect_artifacts(report: dict) -> bool:
    """Table and markdown artifacts when running inside a Prefect flow run; False when not in one."""
    if "prefect" not in sys.modules:  # never imported: not in a flow run (and a plain run stays Prefect-free)
        return False
    try:
        from prefect.context import FlowRunContext, TaskRunContext
    except ImportError:
        return False
    if FlowRunContext.get() is None and TaskRunContext.get() is None:
        return False
    from prefect.artifacts import create_markdown_artifact, create_table_artifact

    create_table_artifact(key="resource-counts", table=report["types"],
                          description="Per resource type: loaded, quarantined, stored (counts only).")
    create_table_artifact(key="listed-patients", table=report["listed"],
                          description="Listed patients by priority and unaddressed cause (counts only).")
    create_markdown_artifact(key="screening-summary", markdown=report_markdown(report),
                             description="Counts and output paths only: no patient data.")
    return True
