"""worklist.xlsx: a sheet per care team (Excel's 31-character names; beyond 50 teams the rest share "Other
teams"), plus All, Resolved and Summary. Typed cells only (text, numbers, real dates; never formulas), frozen header,
autofilter, widths, priority / safety colours, wrapped evidence, and a drop-down on `disposition` that
`osteoscreen import` reads back."""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
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
BOLD = Font(bold=True)
SAFETY_FONT = Font(bold=True, color="FFFFFF")
WRAP_TOP = Alignment(wrap_text=True, vertical="top")
WIDTHS = {"evidence": 70, "recommended_actions": 50, "evidence_ids": 40, "name": 24, "last_disposition": 30,
          "care_team": 24, "causes": 28, "unaddressed": 28, "risk_markers": 28, "data_quality_warnings": 40,
          "disposition": 18, "disposition_note": 30, "measure": 36, "value": 60}
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


def _write_table(wb, title: str, columns: list[str], rows: list[tuple], statuses: list[str] | None):
    """One sheet in write-only mode (fast for thousands of rows): layout first, then styled typed cells."""
    ws = wb.create_sheet(title)
    for i, col in enumerate(columns, start=1):
        ws.column_dimensions[get_column_letter(i)].width = WIDTHS.get(col, max(10, min(24, len(col) + 2)))
    ws.freeze_panes = "A2"
    last = get_column_letter(len(columns))
    ws.auto_filter.ref = f"A1:{last}{max(1, len(rows) + 1)}"
    if statuses is not None and "disposition" in columns and rows:
        letter = get_column_letter(columns.index("disposition") + 1)
        dv = DataValidation(type="list", formula1='"' + ",".join(statuses) + '"', allow_blank=True,
                            showErrorMessage=True, errorTitle="disposition",
                            error="Choose a disposition from the list")
        dv.add(f"{letter}2:{letter}{len(rows) + 1}")
        ws.data_validations.append(dv)
        if "disposition_review" in columns:
            rl = get_column_letter(columns.index("disposition_review") + 1)
            dd = DataValidation(type="date", operator="greaterThan", formula1="1", allow_blank=True)
            dd.add(f"{rl}2:{rl}{len(rows) + 1}")
            ws.data_validations.append(dd)
    header = []
    for col in columns:
        c = WriteOnlyCell(ws, value=col)
        c.font, c.fill = BOLD, HEADER_FILL
        header.append(c)
    ws.append(header)
    kinds = ["date" if c in DATE_COLUMNS else "wrap" if c in WRAP else "priority" if c == "priority"
             else "safety" if c == "safety" else "" for c in columns]
    for row in rows:
        out = []
        for col, kind, v in zip(columns, kinds, row, strict=True):
            value = _cell_value(col, v)
            if not kind:
                out.append(value)
                continue
            c = WriteOnlyCell(ws, value=value)
            if kind == "date":
                c.number_format = "yyyy-mm-dd"
            elif kind == "wrap":
                c.alignment = WRAP_TOP
            elif kind == "priority" and value in FILLS:
                c.fill = FILLS[value]
            elif kind == "safety" and value is True:
                c.fill, c.font = SAFETY_FILL, SAFETY_FONT
            out.append(c)
        ws.append(out)
    return ws


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
        wb = Workbook(write_only=True)
        _write_table(wb, "All", columns, rows, statuses)
        taken: set[str] = set()
        for team in sorted(own):
            _write_table(wb, sheet_name(team, taken), columns, teams[team], statuses)
        if rest:
            other = [r for r in rows if (r[team_i] or "Unassigned") in set(rest)]
            _write_table(wb, "Other teams", columns, other, statuses)
        _write_table(wb, "Resolved", resolved[0], resolved[1], None)
        _write_table(wb, "Summary", ["measure", "value"], [(k, v) for k, v in summary], None)
        wb.save(tmp)

    return atomic_write_file(path, write)
