"""What was loaded but read by no rule (clinical-rules.md 8: nothing ignored in silence).

Which top-level elements the rules read is derived from the SQL itself, so it stays true as rules are added:
every statement in sql/load, sql/model and sql/screens that names resource types (`resource_type = 'X'` or
`IN ('X', ...)`) reads the top-level keys of its `json_transform` specs and of its `$.element` paths for those
types. One DuckDB pass over resource_raw's element lists (json_keys of each body, stored by the load) counts, per
resource type and top-level element, the resources carrying it; the run record keeps the counts of those nobody
reads (no ids, no values).
"""

from __future__ import annotations

import json
import re

import duckdb

from screening.db import split_statements
from screening.paths import SQL_DIR

ENVELOPE = {"resourceType", "id", "meta", "text"}  # identity and narrative: never clinical rule input
_TYPES_EQ = re.compile(r"resource_type\s*=\s*'([A-Za-z]+)'")
_TYPES_IN = re.compile(r"resource_type\s+IN\s*\(([^)]*)\)", re.IGNORECASE)
_TYPES_WHEN = re.compile(r"WHEN\s+'([A-Z][A-Za-z]+)'\s+THEN")
_SPEC = re.compile(r"json_transform\(\s*r\.body\s*,\s*'(\{.*?\})'\s*\)", re.DOTALL)
_PATH = re.compile(r"'\$\.([A-Za-z]+)")

# resource_raw.elements is written by the load (sql/ingest/30_merge.sql); rows of an older load have none and are
# parsed here. Resources sharing a key list are counted once per list, then the lists are unnested.
UNREAD_SQL = """
SELECT resource_type, element, sum(n)::BIGINT AS resources
FROM (SELECT resource_type, unnest(keys) AS element, n
      FROM (SELECT resource_type, coalesce(elements, json_keys(body)) AS keys, count(*) AS n
            FROM resource_raw GROUP BY ALL))
GROUP BY ALL ORDER BY resource_type, element
"""


def read_elements() -> dict[str, set[str]]:
    """{resource type: top-level elements some rule reads}, parsed from the SQL files."""
    out: dict[str, set[str]] = {}
    for folder in ("load", "model", "screens"):
        for path in sorted((SQL_DIR / folder).rglob("*.sql")):
            for stmt in split_statements(path.read_text(encoding="utf-8")):
                types = set(_TYPES_EQ.findall(stmt)) | set(_TYPES_WHEN.findall(stmt))
                for group in _TYPES_IN.findall(stmt):
                    types |= set(re.findall(r"'([A-Za-z]+)'", group))
                if not types:
                    continue
                keys: set[str] = set(_PATH.findall(stmt))
                for spec in _SPEC.findall(stmt):
                    try:
                        keys |= set(json.loads(spec))
                    except json.JSONDecodeError:
                        continue
                for t in types:
                    out.setdefault(t, set()).update(keys)
    return out


def unread_counts(con: duckdb.DuckDBPyConnection) -> dict[str, dict]:
    """{type: {"resources": n (only for a type no rule reads), "elements": {element: resources}}}."""
    read = read_elements()
    totals = dict(con.execute("SELECT resource_type, count(*) FROM resource_raw GROUP BY ALL").fetchall())
    out: dict[str, dict] = {}
    for rtype, element, n in con.execute(UNREAD_SQL).fetchall():
        if element in ENVELOPE or element in read.get(rtype, set()):
            continue
        entry = out.setdefault(rtype, {"elements": {}})
        entry["elements"][element] = n
    for rtype, entry in out.items():
        entry["read_by_rules"] = rtype in read
        entry["resources"] = totals.get(rtype, 0)
    return out
