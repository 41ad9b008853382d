"""Read code lists from config and load them into DuckDB, where the screens JOIN them (no codes in SQL text).

Layout (every folder below is looked up in the shipped `config/` and then in a user `--config DIR`):

- `valuesets/<concept>.csv`: `system,code,display,match,qualifier[,source]` (match `exact` | `prefix` | `text` |
  `name`; `name` rows are lab name patterns with qualifier `include` / `exclude`, used when a lab's code is
  local); lines starting with `#` are comments, `# source:` and `# version:` name where the list comes from; the
  optional `source` column names each row's origin (`curated`, or the ValueSet url|version it was imported from,
  see `osteoscreen valuesets import`). A user file with the same name replaces the shipped one.
- `valuesets/<concept>.json` or `local/<concept>[.anything].json`: a FHIR ValueSet (`expansion.contains[]`,
  nested contains allowed, as VSAC delivers it; else `compose.include[].concept[]`). Adds codes to the
  concept.
- `local/*.csv`: local codes added to a concept: the concept is the file name up to the first dot, or a
  `concept` column when present (one file may then feed several concepts).
- `medications/drug_map.csv`, `medications/ingredients.csv`, `medications/dose_forms.csv` and
  `local/drug_map*.csv` (more code -> ingredient rows); `medications/depots.csv` (labelled depot intervals, plus
  `local/depots*.csv` rows) and `medications/route_text.csv` (route text tokens).
- `code_systems.csv`: system URIs / OIDs that mean the same system.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path

import duckdb

from screening.errors import ConfigError

ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
MATCHES = {"exact", "prefix", "text", "name"}
FREE_TEXT = {"text", "name"}  # matches on text, not on a coded system


@dataclass(frozen=True)
class CodeRow:
    concept: str
    system: str
    code: str
    display: str
    match: str
    qualifier: str
    source_file: str
    row_source: str = "curated"


def system_canon(system: str | None, aliases: dict[str, str]) -> str:
    s = (system or "").strip()
    return aliases.get(s.rstrip("/").lower(), s)


def code_norm(system: str, code: str | None) -> str:
    """Same rule as the SQL macro `code_norm`: trimmed, upper-case; ICD-10-CM without the dot."""
    c = (code or "").strip().upper()
    return c.replace(".", "") if system == ICD10CM else c


def read_commented_csv(path: Path) -> tuple[list[dict], dict]:
    meta: dict[str, str] = {}
    body: list[str] = []
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read code list: {exc}") from None
    for line in text.splitlines():
        if line.lstrip().startswith("#"):
            key, sep, value = line.lstrip()[1:].partition(":")
            if sep and key.strip().lower() in {"source", "version", "concept"}:
                meta[key.strip().lower()] = value.strip()
            continue
        if line.strip():
            body.append(line)
    rows = list(csv.DictReader(io.StringIO("\n".join(body))))
    return rows, meta


def _concept_of(path: Path) -> str:
    return path.name.split(".", 1)[0]


def read_valueset_csv(path: Path, aliases: dict[str, str]) -> tuple[list[CodeRow], dict]:
    rows, meta = read_commented_csv(path)
    if rows and not {"system", "code"} <= set(rows[0]):
        raise ConfigError(f"{path}: a code list needs the columns system,code (got {sorted(rows[0])})")
    out = []
    for i, r in enumerate(rows, start=2):
        match = (r.get("match") or "exact").strip().lower()
        if match not in MATCHES:
            raise ConfigError(f"{path}: row {i}: match must be one of {sorted(MATCHES)}, got {match!r}")
        concept = (r.get("concept") or "").strip() or _concept_of(path)
        system = system_canon(r.get("system"), aliases)
        code = (r.get("code") or "").strip()
        if not code:
            raise ConfigError(f"{path}: row {i}: empty code")
        out.append(
            CodeRow(
                concept,
                system,
                code,
                (r.get("display") or "").strip(),
                match,
                (r.get("qualifier") or "").strip(),
                str(path),
                (r.get("source") or "").strip() or "curated",
            )
        )
    return out, meta


def read_valueset_json(path: Path, aliases: dict[str, str]) -> tuple[list[CodeRow], dict]:
    try:
        vs = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: not a readable FHIR ValueSet JSON: {exc}") from None
    if not isinstance(vs, dict) or vs.get("resourceType") != "ValueSet":
        raise ConfigError(f"{path}: not a FHIR ValueSet (resourceType must be ValueSet)")
    concept = _concept_of(path)
    out: list[CodeRow] = []

    def walk(items):
        for item in items or []:
            if item.get("code") and not item.get("abstract") and item.get("inactive") is not True:
                out.append(
                    CodeRow(
                        concept,
                        system_canon(item.get("system"), aliases),
                        str(item["code"]).strip(),
                        item.get("display") or "",
                        "exact",
                        "",
                        str(path),
                    )
                )
            walk(item.get("contains"))

    walk((vs.get("expansion") or {}).get("contains"))
    if not out:
        for inc in (vs.get("compose") or {}).get("include") or []:
            for c in inc.get("concept") or []:
                out.append(
                    CodeRow(
                        concept,
                        system_canon(inc.get("system"), aliases),
                        str(c["code"]).strip(),
                        c.get("display") or "",
                        "exact",
                        "",
                        str(path),
                    )
                )
    meta = {
        "source": vs.get("url") or vs.get("name") or path.name,
        "version": vs.get("version") or (vs.get("expansion") or {}).get("timestamp") or "",
    }
    row_source = meta["source"] + (f"|{meta['version']}" if meta["version"] else "")
    out = [CodeRow(**{**r.__dict__, "row_source": row_source}) for r in out]
    return out, meta


def _files(dirs: list[Path], sub: str, pattern: str) -> dict[str, Path]:
    """Files by name; a later folder's file with the same name replaces an earlier one."""
    found: dict[str, Path] = {}
    for d in dirs:
        folder = d / sub
        if folder.is_dir():
            for p in sorted(folder.glob(pattern)):
                if p.is_file() and not p.name.startswith("."):
                    found[p.name] = p
    return found


def _aliases(dirs: list[Path]) -> dict[str, str]:
    aliases: dict[str, str] = {}
    for d in dirs:
        path = d / "code_systems.csv"
        if path.exists():
            rows, _ = read_commented_csv(path)
            for r in rows:
                aliases[r["alias"].strip().rstrip("/").lower()] = r["canonical"].strip()
    return aliases


def load_code_tables(con: duckdb.DuckDBPyConnection, dirs: list[Path]) -> dict[str, str]:
    """Create vs_code, vs_source, cfg_code_system, med_drug_map, med_ingredient(_name), med_dose_form.

    Returns {file name: version} for the run record.
    """
    aliases = _aliases(dirs)
    rows: list[CodeRow] = []
    sources: list[tuple] = []
    vs_files = dict(_files(dirs, "valuesets", "*.csv"))
    vs_files.update({f"json:{k}": v for k, v in _files(dirs, "valuesets", "*.json").items()})
    local = {
        f"local:{k}": v for k, v in _files(dirs, "local", "*.csv").items() if not k.startswith(("drug_map", "depots"))
    }
    local.update({f"localjson:{k}": v for k, v in _files(dirs, "local", "*.json").items()})
    known_systems = set(aliases.values())
    for _name, path in sorted({**vs_files, **local}.items()):
        reader = read_valueset_json if path.suffix.lower() == ".json" else read_valueset_csv
        got, meta = reader(path, aliases)
        unknown = sorted({r.system for r in got if r.match not in FREE_TEXT} - known_systems)
        if unknown:
            raise ConfigError(f"{path}: unknown code system {unknown[0]!r}: declare it (alias,canonical) in "
                              "code_systems.csv of your config folder")
        rows.extend(got)
        for concept in sorted({r.concept for r in got}) or [_concept_of(path)]:
            sources.append(
                (
                    concept,
                    str(path),
                    meta.get("source", ""),
                    meta.get("version", ""),
                    sum(1 for r in got if r.concept == concept),
                )
            )
    if not rows:
        raise ConfigError("no code lists found (config/valuesets/*.csv)")
    codes, seen = [], set()
    for r in rows:  # the first row of a (concept, system, normalised code, match) wins
        norm = code_norm(r.system, r.code)
        norm = norm.lower() if r.match in FREE_TEXT else norm
        if (key := (r.concept, r.system, norm, r.match)) not in seen:
            seen.add(key)
            codes.append({**r.__dict__, "code_norm": norm})
    _replace(con, "vs_code", codes)
    _replace(con, "vs_source", sources)
    _replace(con, "cfg_code_system", sorted(aliases.items()))

    versions = {Path(s[1]).name: s[3] for s in sources}
    versions.update(_load_medication_tables(con, dirs, aliases))
    return versions


def _load_medication_tables(con, dirs: list[Path], aliases: dict[str, str]) -> dict[str, str]:
    versions: dict[str, str] = {}
    med = _files(dirs, "medications", "*.csv")
    for needed in ("drug_map.csv", "ingredients.csv", "dose_forms.csv", "depots.csv", "route_text.csv"):
        if needed not in med:
            raise ConfigError(f"config/medications/{needed} is missing")
    drug_files = [med["drug_map.csv"], *_files(dirs, "local", "drug_map*.csv").values()]
    drug_rows = []
    for path in drug_files:
        rows, meta = read_commented_csv(path)
        versions[path.name if path.parent.name == "medications" else f"local/{path.name}"] = meta.get(
            "version", ""
        )
        for i, r in enumerate(rows, start=2):
            if not (r.get("code") or "").strip() or not (r.get("ingredient") or "").strip():
                raise ConfigError(f"{path}: row {i}: code and ingredient are required")
            system = system_canon(r.get("system"), aliases)
            strength = (r.get("strength") or "").strip()
            try:
                strength_v = float(strength) if strength else None
            except ValueError:
                raise ConfigError(f"{path}: row {i}: strength must be a number, got {strength!r}") from None
            drug_rows.append(
                {
                    "system": system,
                    "code": r["code"].strip(),
                    "code_norm": code_norm(system, r["code"]),
                    "display": (r.get("display") or "").strip(),
                    "ingredient": r["ingredient"].strip().lower(),
                    "strength": strength_v,
                    "strength_unit": (r.get("strength_unit") or "").strip().lower() or None,
                    "per": (r.get("per") or "").strip().lower() or None,
                }
            )
    _replace(con, "med_drug_map", drug_rows)

    rows, meta = read_commented_csv(med["ingredients.csv"])
    versions["ingredients.csv"] = meta.get("version", "")
    ing, names = [], []
    for r in rows:
        name = r["ingredient"].strip().lower()
        depot = (r.get("depot_days") or "").strip()
        ing.append(
            {
                "ingredient": name,
                "rxcui": (r.get("rxcui") or "").strip() or None,
                "drug_group": r["drug_group"].strip(),
                "op_class": (r.get("op_class") or "").strip() or None,
                "route_unknown_counts": (r.get("route_unknown_counts") or "").strip().lower() == "true",
                "depot_days": float(depot) if depot else None,
            }
        )
        for n in {name, *[(x.strip().lower()) for x in (r.get("names") or "").split("|") if x.strip()]}:
            names.append({"ingredient": name, "name": n})
    _replace(con, "med_ingredient", ing)
    _replace(con, "med_ingredient_name", names)

    rows, meta = read_commented_csv(med["dose_forms.csv"])
    versions["dose_forms.csv"] = meta.get("version", "")
    _replace(con, "med_dose_form", [
        {"term": r["term"].strip().lower(), "route_class": r["route_class"].strip(), "priority": int(r["priority"])}
        for r in rows
    ])
    versions.update(_load_depots(con, [med["depots.csv"], *_files(dirs, "local", "depots*.csv").values()], aliases))
    rows, meta = read_commented_csv(med["route_text.csv"])
    versions["route_text.csv"] = meta.get("version", "")
    tokens = []
    for i, r in enumerate(rows, start=2):
        cls = (r.get("route_class") or "").strip()
        if not (r.get("token") or "").strip() or cls not in {"local", "oral", "parenteral"}:
            raise ConfigError(f"{med['route_text.csv']}: row {i}: token and route_class (local|oral|parenteral) needed")
        tokens.append({"token": " ".join(r["token"].lower().split()), "route_class": cls,
                       "kind": (r.get("kind") or cls).strip(), "priority": int(r.get("priority") or 5)})
    _replace(con, "med_route_token", tokens)
    return versions


DEPOT_UNITS = {"day", "week", "month"}


def _load_depots(con, paths: list[Path], aliases: dict[str, str]) -> dict[str, str]:
    """med_depot: labelled depot intervals (clinical-rules.md 8); a bad row is a config error, never guessed."""
    versions: dict[str, str] = {}
    out = []
    for path in paths:
        rows, meta = read_commented_csv(path)
        versions[path.name if path.parent.name == "medications" else f"local/{path.name}"] = meta.get("version", "")
        for i, r in enumerate(rows, start=2):
            unit = (r.get("interval_unit") or "").strip().lower()
            try:
                value = int((r.get("interval_value") or "").strip())
                strength = float(r["strength_mg"]) if (r.get("strength_mg") or "").strip() else None
            except ValueError:
                raise ConfigError(f"{path}: row {i}: interval_value must be a whole number and strength_mg a "
                                  "number") from None
            if not (r.get("ingredient") or "").strip() or unit not in DEPOT_UNITS or value <= 0:
                raise ConfigError(f"{path}: row {i}: ingredient, interval_value > 0 and interval_unit "
                                  f"({'|'.join(sorted(DEPOT_UNITS))}) are required")
            system = system_canon(r.get("system"), aliases) if (r.get("system") or "").strip() else None
            code = (r.get("code") or "").strip()
            tokens = [" ".join(t.lower().split()) for t in (r.get("product_token") or "").split("|") if t.strip()]
            out.append({
                "depot_row": len(out) + 1,
                "ingredient": r["ingredient"].strip().lower(),
                "strength_mg": strength,
                "system": system,
                "code_norm": code_norm(system or "", code) if code else None,
                "product_tokens": tokens or None,
                "interval_value": value,
                "interval_unit": unit,
                "spread": (r.get("spread") or "").strip().lower() == "true",
                "label": (r.get("label") or "").strip(),
            })
    _replace(con, "med_depot", out)
    return versions


# The config tables the screens JOIN, with fixed column types (an empty or all-NULL column keeps its type). They are
# (re)created DuckDB-natively from one typed list per column (no pandas: it cost 0.2-0.25 s of every screen's
# start-up, and inferred types from the values, so an all-empty column became DuckDB's NULL type); the statements
# are fixed text built from these constants, the values always travel as parameters.
CONFIG_TABLES: dict[str, tuple[tuple[str, str], ...]] = {
    "vs_code": (("concept", "VARCHAR"), ("system", "VARCHAR"), ("code", "VARCHAR"), ("code_norm", "VARCHAR"),
                ("display", "VARCHAR"), ("match", "VARCHAR"), ("qualifier", "VARCHAR"), ("source_file", "VARCHAR"),
                ("row_source", "VARCHAR")),
    "vs_source": (("concept", "VARCHAR"), ("file", "VARCHAR"), ("source", "VARCHAR"), ("version", "VARCHAR"),
                  ("codes", "BIGINT")),
    "cfg_code_system": (("alias", "VARCHAR"), ("canonical", "VARCHAR")),
    "med_drug_map": (("system", "VARCHAR"), ("code", "VARCHAR"), ("code_norm", "VARCHAR"), ("display", "VARCHAR"),
                     ("ingredient", "VARCHAR"), ("strength", "DOUBLE"), ("strength_unit", "VARCHAR"),
                     ("per", "VARCHAR")),
    "med_ingredient": (("ingredient", "VARCHAR"), ("rxcui", "VARCHAR"), ("drug_group", "VARCHAR"),
                       ("op_class", "VARCHAR"), ("route_unknown_counts", "BOOLEAN"), ("depot_days", "DOUBLE")),
    "med_ingredient_name": (("ingredient", "VARCHAR"), ("name", "VARCHAR")),
    "med_dose_form": (("term", "VARCHAR"), ("route_class", "VARCHAR"), ("priority", "BIGINT")),
    "med_depot": (("depot_row", "BIGINT"), ("ingredient", "VARCHAR"), ("strength_mg", "DOUBLE"),
                  ("system", "VARCHAR"), ("code_norm", "VARCHAR"), ("product_tokens", "VARCHAR[]"),
                  ("interval_value", "BIGINT"), ("interval_unit", "VARCHAR"), ("spread", "BOOLEAN"),
                  ("label", "VARCHAR")),
    "med_route_token": (("token", "VARCHAR"), ("route_class", "VARCHAR"), ("kind", "VARCHAR"),
                        ("priority", "BIGINT")),
    "cfg_pred_factor": (("ingredient", "VARCHAR"), ("factor", "DOUBLE")),
    "cfg_op_window": (("op_class", "VARCHAR"), ("months", "BIGINT")),
    "cfg_unit": (("analyte", "VARCHAR"), ("unit", "VARCHAR"), ("factor", "DOUBLE")),
    "cfg_unit_canonical": (("analyte", "VARCHAR"), ("unit", "VARCHAR")),
    "cfg_lab_range": (("analyte", "VARCHAR"), ("low", "DOUBLE"), ("high", "DOUBLE")),
    "cfg_dose_unit": (("unit", "VARCHAR"), ("factor", "DOUBLE")),
    "cfg_action": (("rule_id", "VARCHAR"), ("ord", "BIGINT"), ("action", "VARCHAR"), ("specialist", "VARCHAR")),
}
REPLACE_SQL = {
    name: "CREATE OR REPLACE TABLE " + name + " AS SELECT "
    + ", ".join(f"unnest(CAST(? AS {typ}[])) AS {col}" for col, typ in cols)
    for name, cols in CONFIG_TABLES.items()
}
_PY = {"DOUBLE": float, "BIGINT": int, "BOOLEAN": bool}


def replace_table(con, table: str, rows) -> None:
    """Create or replace one of CONFIG_TABLES from rows (dicts by column name, or tuples in column order)."""
    cols = CONFIG_TABLES[table]
    rows = list(rows)
    columns = []
    for i, (col, typ) in enumerate(cols):
        conv = _PY.get(typ)
        values = [r.get(col) if isinstance(r, dict) else r[i] for r in rows]
        columns.append([v if v is None or conv is None else conv(v) for v in values])
    con.execute(REPLACE_SQL[table], columns)


_replace = replace_table
