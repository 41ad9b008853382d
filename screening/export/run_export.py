"""The export step: record the run's history (short read-write connection), then write every output from a
read-only one: worklist.csv, resolved.csv, dispositions.csv, worklist.xlsx, report.html, tasks.ndjson /
tasks-bundle.json, optionally worklist-deidentified.csv and the FHIR write-back, and summary.json / summary.md."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb

from screening.database import open_database
from screening.db import sql_text, statement_params
from screening.export import dispositions as disp
from screening.export.history import mark_completed, record_run, run_counts
from screening.export.summary import summary_lines, write_summary
from screening.export.worklist_csv import resolved_rows, worklist_rows, write_csv

FORMATS = ("csv", "xlsx", "html", "fhir")


@dataclass
class ExportOptions:
    formats: tuple[str, ...] = FORMATS
    deidentify: bool = False
    salt_file: str | None = None          # the salt itself is never a parameter (Prefect would record it)
    write_back_url: str | None = None
    write_back_auth: dict = field(default_factory=dict)  # AuthConfig.from_options keywords (paths, env names)
    insecure: bool = False
    max_cards: int = 2000

    @classmethod
    def from_dict(cls, d: dict | None) -> ExportOptions:
        d = dict(d or {})
        if "formats" in d:
            d["formats"] = tuple(d["formats"])
        return cls(**d)


def _dicts(con: duckdb.DuckDBPyConnection, relative: str, run_id: str) -> list[dict]:
    text = sql_text(relative)
    cur = con.execute(text, {"run_id": run_id} if "run_id" in statement_params(text) else None)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def export_run(db: Path, out: Path, as_of: date | None = None, config_dir: Path | None = None,
               options: ExportOptions | None = None) -> dict:
    opts = options or ExportOptions()
    out = Path(out)
    salt = None
    if opts.deidentify:
        from screening.export.deidentify import read_salt

        salt = read_salt(Path(opts.salt_file) if opts.salt_file else None)  # fail before anything is written
    con = open_database(db)
    try:
        counts = record_run(con, Path(db), as_of, config_dir)
    finally:
        con.close()
    run_id = counts["run_id"]
    extra: dict = {}
    con = open_database(db, read_only=True)
    try:
        counts = run_counts(con, run_id)
        run_as_of = date.fromisoformat(counts["as_of"])
        columns, rows = worklist_rows(con, run_id)
        resolved = resolved_rows(con, run_id)
        listed = _dicts(con, "export/worklist_patients.sql", run_id)
        patients = [p for p in listed if not p["suppressed"]]
        outputs: dict[str, str] = {}
        outputs["worklist.csv"] = str(write_csv(out / "worklist.csv", columns, rows))
        outputs["resolved.csv"] = str(write_csv(out / "resolved.csv", *resolved))
        dq = _data_quality_writer()  # data_quality.csv of the clinical-rules branch, when it is merged
        if dq is not None:
            dq_path, dq_rows = dq(con, out)
            outputs["data_quality.csv"] = str(dq_path)
            extra["data_quality"], extra["data_quality_warnings"] = str(dq_path), dq_rows
        d_cur = con.execute(sql_text("export/dispositions_export.sql"))
        outputs["dispositions.csv"] = str(write_csv(out / "dispositions.csv", [d[0] for d in d_cur.description],
                                                    d_cur.fetchall()))
        by_priority: dict[str, int] = {}
        for p in patients:
            by_priority[p["priority"]] = by_priority.get(p["priority"], 0) + 1
        summary = {
            "run_id": run_id, "as_of": counts["as_of"], "screened": counts["screened"], "listed": counts["active"],
            "listed_by_priority": by_priority, "safety_alerts": sum(1 for p in patients if p["safety"]),
            "new": counts["new"], "changed": counts["changed"], "back": counts["back"],
            "continuing": counts["continuing"], "resolved": counts["resolved"], "suppressed": counts["suppressed"],
            "outputs": outputs,
        }
        rules = disp.load_rules(config_dir)
        if "xlsx" in opts.formats:
            from screening.export.worklist_xlsx import write_worklist_xlsx

            outputs["worklist.xlsx"] = str(write_worklist_xlsx(out / "worklist.xlsx", columns, rows, resolved,
                                                               summary_lines(summary), list(rules)))
        if "html" in opts.formats:
            from screening.export.report_html import write_report

            hits: dict[str, list[dict]] = {}
            for h in _dicts(con, "export/worklist_timeline.sql", run_id):
                hits.setdefault(h["patient_id"], []).append(h)
            trend = _dicts(con, "export/worklist_trend.sql", run_id)
            for t in trend:
                t["as_of"] = t["as_of"].isoformat()
            row_dicts = [dict(zip(columns, r, strict=True)) for r in rows]
            kpis = [("screened", counts["screened"]), ("on the worklist", counts["active"]),
                    ("safety alerts", summary["safety_alerts"]), ("high", by_priority.get("high", 0)),
                    ("medium", by_priority.get("medium", 0)), ("low", by_priority.get("low", 0)),
                    ("new", counts["new"]), ("changed", counts["changed"]), ("back", counts["back"]),
                    ("resolved", counts["resolved"]), ("suppressed", counts["suppressed"])]
            pages = write_report(out, row_dicts, hits, trend, kpis, counts["as_of"], opts.max_cards)
            outputs["report"] = str(pages[0])
        tasks = lst = None
        if "fhir" in opts.formats or opts.write_back_url:
            from screening.export.fhir_tasks import build_all, validate_all, write_fhir_files

            tasks, lst = build_all(listed, run_id, counts["as_of"], {r.status: r.task_status
                                                                        for r in rules.values()})
            if "fhir" in opts.formats:
                nd, bundle = write_fhir_files(out, tasks, lst)  # validates the Bundle: every Task in it
                outputs["tasks.ndjson"], outputs["tasks-bundle.json"] = str(nd), str(bundle)
            else:
                validate_all(tasks, lst)
        if salt is not None:
            from screening.export.deidentify import write_deidentified

            outputs["worklist-deidentified.csv"] = str(write_deidentified(out, patients, salt, run_as_of))
    finally:
        con.close()
    if opts.write_back_url:
        summary["write_back"] = _write_back(opts, tasks, lst)
    outputs["summary.json"], outputs["summary.md"] = str(out / "summary.json"), str(out / "summary.md")
    write_summary(out, summary)
    mark_completed(Path(db), run_id)
    return {**summary, **extra} if extra else summary


def _data_quality_writer():
    try:
        from screening.export.data_quality_csv import write_data_quality_csv
    except ImportError:
        return None
    return write_data_quality_csv


def _write_back(opts: ExportOptions, tasks: list[dict], lst: dict) -> dict:
    from screening.errors import ExtractError
    from screening.export.fhir_tasks import WriteBackError, write_back
    from screening.sources.auth import AuthConfig
    from screening.sources.http import FhirSession

    session = FhirSession(opts.write_back_url, verify_tls=not opts.insecure)
    try:
        auth = AuthConfig.from_options(**opts.write_back_auth) if opts.write_back_auth else None
        if auth is not None:
            session.tokens = auth.token_source(session)
        try:
            return write_back(session, tasks, lst)
        except WriteBackError as exc:
            raise ExtractError(f"write-back: {exc}") from None
    finally:
        session.close()
