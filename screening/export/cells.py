"""Spreadsheet-safe text cells: a cell a spreadsheet would run as a formula is written with a leading quote.

The rule is bijective so every import can reverse it exactly: a text cell that starts with = + - @, a tab, a
carriage return or a quote (and is not a plain number such as -2.8) gets one extra leading quote; reading drops one
leading quote.
"""

from __future__ import annotations

from datetime import date, datetime

DANGEROUS = ("=", "+", "-", "@", "\t", "\r", "'")


def _plain_number(text: str) -> bool:
    """'-2.8' is a number to a spreadsheet, not a formula: written as it is."""
    try:
        float(text)
    except ValueError:
        return False
    return not text[:1].isspace() and not text[-1:].isspace()


def neutralise(value: object) -> object:
    """The cell as written: text that could start a formula is quoted; numbers and dates stay typed."""
    if isinstance(value, str) and value.startswith(DANGEROUS) and not _plain_number(value):
        return "'" + value
    return value


def restore(value: object) -> object:
    """The inverse of `neutralise` for a cell read back from a CSV or XLSX the project wrote."""
    if isinstance(value, str) and value.startswith("'"):
        return value[1:]
    return value


def csv_cell(value: object) -> str:
    """A value as CSV text: None empty, dates ISO, text neutralised."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value) if isinstance(value, float) else str(value)
    if isinstance(value, list | tuple):
        value = ";".join(str(v) for v in value)
    return str(neutralise(str(value)))
