"""Code lists (CSV and FHIR ValueSet expansions) and the medication code map, loaded as DuckDB tables."""

from screening.codes.valuesets import (
    CodeRow,
    code_norm,
    load_code_tables,
    read_valueset_csv,
    read_valueset_json,
    system_canon,
)

__all__ = [
    "CodeRow",
    "code_norm",
    "load_code_tables",
    "read_valueset_csv",
    "read_valueset_json",
    "system_canon",
]
