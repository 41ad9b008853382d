"""DuckDB functions that read DXA report text, registered on the screening connection.

Why a Python UDF: JSON work (finding reports, attachments, Binary resolution, dates, look-backs, joining with
discrete results) stays in SQL (sql/load/report_text.sql, sql/model/18_dxa_report_text.sql); only the text
itself (base64, HTML/RTF/PDF, the pattern grammar) goes through Python, once per DXA report text source — a
handful per patient at most. No patient data leaves DuckDB except through these return values.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from screening.reports.extract import extract, grammar_path, load_grammar
from screening.reports.text import READ, report_text

FINDING = duckdb.struct_type({
    "kind": "VARCHAR", "site": "VARCHAR", "model_site": "VARCHAR", "label": "VARCHAR", "side": "VARCHAR",
    "value": "DOUBLE", "rank": "INTEGER", "span_start": "INTEGER", "span_end": "INTEGER", "quote": "VARCHAR",
})
READ_RESULT = duckdb.struct_type({
    "status": "VARCHAR", "dxa_words": "BOOLEAN", "scan_date": "DATE", "unattributed": "INTEGER",
    "findings": duckdb.list_type(FINDING),
})

def register_report_functions(con: duckdb.DuckDBPyConnection, config_dirs: list[Path] | None = None) -> None:
    """dxa_report_title(title) -> BOOLEAN; dxa_report_read(content_type, text, data, limit_bytes) -> READ_RESULT."""
    grammar = load_grammar(grammar_path(config_dirs))

    def is_dxa_title(title):
        return bool(title) and any(p.search(title) for p in grammar.title)

    def read(content_type, text, data, limit_bytes):
        try:
            return _read(content_type, text, data, limit_bytes)
        except Exception:  # noqa: BLE001 - one odd document must not stop the run, nor leak its text in a message
            return {"status": "extract_error", "dxa_words": False, "scan_date": None, "unattributed": 0,
                    "findings": []}

    def _read(content_type, text, data, limit_bytes):
        status, plain = report_text(content_type, text, data, int(limit_bytes or 0))
        if status != READ:
            return {"status": status, "dxa_words": False, "scan_date": None, "unattributed": 0, "findings": []}
        res = extract(plain, grammar)
        findings = [{"kind": f.kind, "site": f.site, "model_site": f.model_site, "label": f.label,
                     "side": f.side, "value": f.value, "rank": f.rank, "span_start": f.start, "span_end": f.end,
                     "quote": f.quote} for f in res.findings]
        return {"status": READ if findings or res.unattributed else "no_scores",
                "dxa_words": is_dxa_title(res.text[:2000]), "scan_date": res.scan_date,
                "unattributed": res.unattributed, "findings": findings}

    for name in ("dxa_report_title", "dxa_report_read"):
        try:
            con.remove_function(name)
        except (duckdb.InvalidInputException, duckdb.CatalogException):
            pass
    con.create_function("dxa_report_title", is_dxa_title, ["VARCHAR"], "BOOLEAN", null_handling="special",
                        side_effects=False)
    con.create_function("dxa_report_read", read, ["VARCHAR", "VARCHAR", "VARCHAR", "BIGINT"], READ_RESULT,
                        null_handling="special", side_effects=False)
