"""Turn a published FHIR ValueSet expansion (VSAC / eCQM) into an osteoscreen code-list CSV.

Why: "SNOMED equivalents" means the descendant closure; hand-picked codes miss most of it. A published
expansion already holds the closure, so the shipped lists are built from those files with this importer, and a
site refreshes them the same way (`osteoscreen valuesets import FILE --name CONCEPT --out CSV`).

Merging into an existing CSV keeps every row that came from elsewhere (curated rows, other value sets), replaces
the rows that came from this value set, and never writes a code twice (the first row of a code wins, so
curated qualifiers stay). Every row carries its `source`: `curated`, or `<ValueSet url>|<version>`.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from screening.errors import ConfigError

COLUMNS = ["system", "code", "display", "match", "qualifier", "source"]
SYSTEM_ALIASES = {
    "snomed": "http://snomed.info/sct",
    "sct": "http://snomed.info/sct",
    "icd10cm": "http://hl7.org/fhir/sid/icd-10-cm",
    "icd-10-cm": "http://hl7.org/fhir/sid/icd-10-cm",
    "loinc": "http://loinc.org",
    "rxnorm": "http://www.nlm.nih.gov/research/umls/rxnorm",
    "cpt": "http://www.ama-assn.org/go/cpt",
    "hcpcs": "http://www.nlm.nih.gov/research/umls/hcpcs",
}


@dataclass
class ImportOptions:
    concept: str
    systems: list[str] = field(default_factory=list)        # keep only these systems (empty: all)
    qualifier: str = ""                                       # default qualifier of imported rows
    qualify: list[tuple[str, str]] = field(default_factory=list)  # (display regex, qualifier), first match wins
    include: str | None = None                                # keep only displays matching this regex
    exclude: str | None = None                                # drop displays matching this regex


def parse_qualify(specs: list[str]) -> list[tuple[str, str]]:
    out = []
    for s in specs:
        pattern, sep, qual = s.rpartition("=")
        if not sep or not pattern:
            raise ConfigError(f"--qualify needs REGEX=QUALIFIER, got {s!r}")
        _compile(pattern)
        out.append((pattern, qual.strip()))
    return out


def _compile(pattern: str) -> re.Pattern:
    try:
        return re.compile(pattern, re.IGNORECASE)
    except re.error as exc:
        raise ConfigError(f"bad regular expression {pattern!r}: {exc}") from None


def read_expansion(path: Path) -> tuple[dict, list[dict]]:
    """The ValueSet's identity and its expansion codes (nested `contains` flattened; abstract/inactive dropped)."""
    try:
        vs = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: not a readable FHIR ValueSet JSON: {exc}") from None
    if isinstance(vs, dict) and vs.get("resourceType") == "Bundle":  # a one-entry bundle, as some tools write
        found = [e.get("resource") for e in vs.get("entry") or [] if (e.get("resource") or {}).get(
            "resourceType") == "ValueSet"]
        if len(found) != 1:
            raise ConfigError(f"{path}: a Bundle must hold exactly one ValueSet to import (found {len(found)})")
        vs = found[0]
    if not isinstance(vs, dict) or vs.get("resourceType") != "ValueSet":
        raise ConfigError(f"{path}: not a FHIR ValueSet (resourceType must be ValueSet)")
    contains = (vs.get("expansion") or {}).get("contains")
    if not contains:
        raise ConfigError(f"{path}: the ValueSet has no expansion.contains (import needs an expanded set)")
    codes: list[dict] = []

    def walk(items: list) -> None:
        for item in items or []:
            if item.get("code") and item.get("system") and not item.get("abstract") and not item.get("inactive"):
                codes.append({"system": item["system"].strip(), "code": str(item["code"]).strip(),
                              "display": (item.get("display") or "").strip()})
            walk(item.get("contains"))

    walk(contains)
    ident = {
        "url": vs.get("url") or "",
        "version": vs.get("version") or "",
        "title": vs.get("title") or vs.get("name") or path.stem,
        "timestamp": (vs.get("expansion") or {}).get("timestamp") or "",
    }
    if not ident["url"]:
        raise ConfigError(f"{path}: the ValueSet has no url: its rows could not name their source")
    return ident, codes


def source_id(ident: dict) -> str:
    return f"{ident['url']}|{ident['version']}" if ident["version"] else ident["url"]


def rows_from_expansion(ident: dict, codes: list[dict], opts: ImportOptions) -> list[dict]:
    systems = {SYSTEM_ALIASES.get(s.lower(), s) for s in opts.systems}
    inc = _compile(opts.include) if opts.include else None
    exc = _compile(opts.exclude) if opts.exclude else None
    rules = [(_compile(p), q) for p, q in opts.qualify]
    src = source_id(ident)
    out = []
    for c in codes:
        if systems and c["system"] not in systems:
            continue
        if inc and not inc.search(c["display"]):
            continue
        if exc and exc.search(c["display"]):
            continue
        qual = next((q for rx, q in rules if rx.search(c["display"])), opts.qualifier)
        out.append({"system": c["system"], "code": c["code"], "display": _clean(c["display"]),
                    "match": "exact", "qualifier": qual, "source": src})
    out.sort(key=lambda r: (r["system"], r["code"]))
    return out


def _clean(text: str) -> str:
    """Displays go into a CSV read by people and spreadsheets: one line, no leading formula character."""
    t = " ".join(text.split())
    return t.lstrip("=+-@\t") if t[:1] in "=+-@\t" else t


def read_existing(path: Path) -> tuple[list[str], list[dict]]:
    """Comment lines (kept verbatim) and rows of an existing code-list CSV; rows without a source are curated."""
    if not path.exists():
        return [], []
    comments, body = [], []
    for line in path.read_text(encoding="utf-8-sig").splitlines():
        if line.lstrip().startswith("#"):
            comments.append(line)
        elif line.strip():
            body.append(line)
    rows = []
    for r in csv.DictReader(io.StringIO("\n".join(body))):
        if not {"system", "code"} <= set(r):
            raise ConfigError(f"{path}: a code list needs the columns system,code")
        row = {k: (r.get(k) or "").strip() for k in COLUMNS}
        row["match"] = row["match"] or "exact"
        row["source"] = row["source"] or "curated"
        rows.append(row)
    return comments, rows


def merge(existing: list[dict], imported: list[dict], src: str) -> list[dict]:
    kept = [r for r in existing if r["source"] != src]
    seen = {(r["system"], r["code"].upper(), r["match"]) for r in kept}
    fresh = [r for r in imported if (r["system"], r["code"].upper(), r["match"]) not in seen]
    return kept + fresh


def write_csv(path: Path, comments: list[str], rows: list[dict], ident: dict, n_imported: int,
              file_label: str, concept: str) -> None:
    src = source_id(ident)
    note = (f"# imported: {src} ({ident['title']}, expansion {ident['timestamp'] or 'undated'}) from {file_label}:"
            f" {n_imported} codes")
    kept = [c for c in comments if not c.lstrip().startswith(f"# imported: {src} ")]
    if not any(c.lstrip().lower().startswith("# concept:") for c in kept):
        kept.insert(0, f"# concept: {concept}")
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("\n".join([*kept, note]) + "\n" + buf.getvalue(), encoding="utf-8")
    tmp.replace(path)


def import_valueset(file: Path, out: Path, opts: ImportOptions) -> dict:
    """Import one expansion into `out` (created or merged). Returns counts for the command's one-line report."""
    ident, codes = read_expansion(file)
    imported = rows_from_expansion(ident, codes, opts)
    comments, existing = read_existing(out)
    rows = merge(existing, imported, source_id(ident))
    added = len(rows) - len([r for r in existing if r["source"] != source_id(ident)])
    write_csv(out, comments, rows, ident, added, file.name, opts.concept)
    return {"expansion": len(codes), "selected": len(imported), "added": added, "rows": len(rows),
            "source": source_id(ident)}
