"""worklist.xlsx: a sheet per care team (Excel's 31-character names; beyond 50 teams the rest share "Other
teams"), plus All, Resolved and Summary. Typed cells only (text, numbers, real dates; never formulas), frozen header,
autofilter, widths, priority / safety colours, wrapped evidence, and a drop-down on `disposition` that
`osteoscreen import` reads back."""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from screening.export.cells import neutralise
from screening.export.safe_files import atomic_write_file

MAX_TEAM_SHEETS = 50
RESERVED = {"all", "resolved", "summary", "other teams"}
FILLS = {"high": PatternFill("solid", fgColor="F8CBAD"), "medium": PatternFill("solid", fgColor="FFE699"),
         "low": PatternFill("solid", fgColor="E2EFDA")}
SAFETY_FILL = PatternFill("solid", fgColor="C00000")
HEADER_FILL = PatternFill("solid", fgColor="D9E1F2")
WIDTHS = {"evidence": 70, "recommended_actions": 50, "evidence_ids": 40, "name": 24, "last_disposition": 30,
          "care_team": 24, "causes": 28, "unaddressed": 28, "risk_markers": 28, "data_quality_warnings": 40,
          "disposition": 18, "disposition_note": 30}
WRAP = {"evidence", "recommended_actions", "evidence_ids", "data_quality_warnings"}
DATE_COLUMNS = {"birth_date", "first_listed", "latest_evidence_date", "as_of", "disposition_review"}


def sheet_name(team: str, taken: set[str]) -> str:
    """Excel's rules: at most 31 characters, none of []:*?/\\, not blank, unique ignoring case, no leading quote."""
    name = re.sub(r"[\[\]:*?/\\]", "_", team).strip().strip("'") or "Unnamed"
    name = name[:31]
    base, n = name, 2
    while name.lower() in taken or name.lower() in RESERVED:
        suffix = f" ({n})"
        name = base[: 31 - len(suffix)] + suffix
        n += 1
    taken.add(name.lower())
    return name


def _cell_value(column: str, value: object) -> object:
    if value is None:
        return None
    if column in DATE_COLUMNS and isinstance(value, str) and value:
        try:
            return date.fromisoformat(value)
        except ValueError:
            return neutralise(value)
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    if isinstance(value, list | tuple):
        value = ";".join(map(str, value))
    return neutralise(value)


def _write_table(ws, columns: list[str], rows: list[tuple], statuses: list[str] | None) -> None:
    ws.append(columns)
    for c in ws[1]:
        c.font = Font(bold=True)
        c.fill = HEADER_FILL
    for row in rows:
        ws.append([_cell_value(col, v) for col, v in zip(columns, row, strict=True)])
    for i, col in enumerate(columns, start=1):
        letter = get_column_letter(i)
        ws.column_dimensions[letter].width = WIDTHS.get(col, max(10, min(24, len(col) + 2)))
        if col in DATE_COLUMNS:
            for c in ws[letter][1:]:
                c.number_format = "yyyy-mm-dd"
        if col in WRAP:
            for c in ws[letter][1:]:
                c.alignment = Alignment(wrap_text=True, vertical="top")
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{max(1, len(rows) + 1)}"
    if "priority" in columns:
        p = columns.index("priority") + 1
        for r in range(2, len(rows) + 2):
            fill = FILLS.get(ws.cell(r, p).value)
            if fill:
                ws.cell(r, p).fill = fill
    if "safety" in columns:
        s = columns.index("safety") + 1
        for r in range(2, len(rows) + 2):
            if ws.cell(r, s).value is True:
                ws.cell(r, s).fill = SAFETY_FILL
                ws.cell(r, s).font = Font(bold=True, color="FFFFFF")
    if statuses is not None and "disposition" in columns and rows:
        letter = get_column_letter(columns.index("disposition") + 1)
        dv = DataValidation(type="list", formula1='"' + ",".join(statuses) + '"', allow_blank=True,
                            showErrorMessage=True, errorTitle="disposition",
                            error="Choose a disposition from the list")
        dv.add(f"{letter}2:{letter}{len(rows) + 1}")
        ws.add_data_validation(dv)
        review = columns.index("disposition_review") + 1 if "disposition_review" in columns else None
        if review:
            rl = get_column_letter(review)
            dd = DataValidation(type="date", operator="greaterThan", formula1="1", allow_blank=True)
            dd.add(f"{rl}2:{rl}{len(rows) + 1}")
            ws.add_data_validation(dd)


def write_worklist_xlsx(path: Path, columns: list[str], rows: list[tuple], resolved: tuple[list[str], list[tuple]],
                        summary: list[tuple[str, object]], statuses: list[str]) -> Path:
    """Write the workbook (owner-only, atomic)."""
    team_i = columns.index("care_team")
    teams: dict[str, list[tuple]] = {}
    for row in rows:
        teams.setdefault(row[team_i] or "Unassigned", []).append(row)
    ordered = sorted(teams, key=lambda t: (-len(teams[t]), t))  # biggest teams first get their own sheet
    own, rest = ordered[:MAX_TEAM_SHEETS], ordered[MAX_TEAM_SHEETS:]

    def write(tmp: Path) -> None:
        wb = Workbook()
        ws_all = wb.active
        ws_all.title = "All"
        _write_table(ws_all, columns, rows, statuses)
        taken: set[str] = set()
        for team in sorted(own):
            _write_table(wb.create_sheet(sheet_name(team, taken)), columns, teams[team], statuses)
        if rest:
            other = [r for r in rows if (r[team_i] or "Unassigned") in set(rest)]
            _write_table(wb.create_sheet("Other teams"), columns, other, statuses)
        _write_table(wb.create_sheet("Resolved"), resolved[0], resolved[1], None)
        ws_sum = wb.create_sheet("Summary")
        _write_table(ws_sum, ["measure", "value"], [(k, v) for k, v in summary], None)
        ws_sum.column_dimensions["A"].width = 36
        ws_sum.column_dimensions["B"].width = 60
        wb.save(tmp)

    return atomic_write_file(path, write)
