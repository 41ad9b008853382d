"""Element rules as data (config/plausible_ranges.csv): JSON type per element, plausible range per number element.

A value of the wrong JSON type is ill-formed: the record is quarantined. A well-formed number outside its plausible
range is implausible: that field is quarantined (disposition 'field'), the record loads without it, so one absurd
value can never overflow a cast downstream or affect another patient.
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass
from pathlib import Path

from screening.db import sql_text
from screening.errors import ConfigError
from screening.paths import config_dirs as default_config_dirs

RANGES_FILE = "plausible_ranges.csv"
TYPES_FILE = "fhir_resource_types.csv"
_PATH = re.compile(r"[A-Za-z]+(\[\*\])?(\.[A-Za-z]+(\[\*\])?)*")
_TYPE = re.compile(r"[A-Z][A-Za-z]{0,63}")


class FieldRuleError(ValueError):
    """config/plausible_ranges.csv has a row the loader cannot use."""


@dataclass(frozen=True)
class FieldRule:
    rule: int
    types: tuple[str, ...]
    path: str
    json_type: str  # number | boolean
    lo: float | None
    hi: float | None


def config_file(name: str, config_dirs: list[Path] | None) -> Path:
    """The last configuration folder that has `name` wins (a --config folder overrides the shipped file)."""
    # caller's folders, then the site folder (OSTEOSCREEN_CONFIG), then the packaged defaults
    for d in reversed([*default_config_dirs(), *(config_dirs or [])]):
        if (Path(d) / name).exists():
            return Path(d) / name
    raise ConfigError(f"{name}: missing from every configuration folder")


def fhir_types(config_dirs: list[Path] | None = None) -> list[str]:
    with open(config_file(TYPES_FILE, config_dirs), newline="", encoding="utf-8") as fh:
        return [row["resource_type"].strip() for row in csv.DictReader(fh) if row["resource_type"].strip()]


def field_rules(config_dirs: list[Path] | None = None) -> list[FieldRule]:
    path = config_file(RANGES_FILE, config_dirs)
    rules = []
    with open(path, newline="", encoding="utf-8") as fh:
        for i, row in enumerate(csv.DictReader(fh), start=1):
            where = f"{path.name} row {i + 1}"
            fpath = (row.get("path") or "").strip()
            if not _PATH.fullmatch(fpath):
                raise FieldRuleError(f"{where}: path {fpath!r} is not a FHIR element path (a.b[*].c)")
            jtype = (row.get("json_type") or "").strip()
            if jtype not in ("number", "boolean"):
                raise FieldRuleError(f"{where}: json_type must be number or boolean")
            lo, hi = (_num(row.get(k), where) for k in ("min", "max"))
            if lo is not None and hi is not None and lo > hi:
                raise FieldRuleError(f"{where}: min above max")
            types = tuple(t.strip() for t in (row.get("resource_types") or "").split("|") if t.strip())
            if not types or not (row.get("source") or "").strip():
                raise FieldRuleError(f"{where}: resource_types and source are required")
            if not all(_TYPE.fullmatch(t) for t in types):
                raise FieldRuleError(f"{where}: resource_types must be FHIR type names separated by |")
            rules.append(FieldRule(i, types, fpath, jtype, lo, hi))
    return rules


def _num(text: str | None, where: str) -> float | None:
    if text is None or not text.strip():
        return None
    try:
        v = float(text)
    except ValueError:
        raise FieldRuleError(f"{where}: {text!r} is not a number") from None
    if not math.isfinite(v):
        raise FieldRuleError(f"{where}: bounds must be finite")
    return v


def field_values_sql(rules: list[FieldRule]) -> str:
    """The UNION ALL of sql/ingest/15_field_values.sql over the resource types (paths validated above).

    One parse per record instead of one per rule: `a[*].b` is read as `$[*].b` of the fragment at `$.a`, which
    json_extract gives exactly as the whole path would (a JSON null stays a JSON null)."""
    template = "\n".join(ln for ln in sql_text("ingest/15_field_values.sql").splitlines()
                         if ln.strip() and not ln.lstrip().startswith("--"))
    parts = []
    for rtype in dict.fromkeys(t for r in rules for t in r.types):
        mine = [r for r in rules if rtype in r.types]
        roots: list[str] = []
        values = []
        for r in mine:
            root, wild, rest = r.path.partition("[*]")
            if root not in roots:
                roots.append(root)
            frag = f"f[{roots.index(root) + 1}]"
            values.append(f"json_extract({frag}, '$[*]{rest}')" if wild else f"[{frag}]")
        parts.append(template.format(rules=", ".join(str(r.rule) for r in mine), values=", ".join(values),
                                     roots=", ".join(f"'$.{p}'" for p in roots), type=rtype))
    return "\nUNION ALL\n".join(parts)
