"""Build config/medications/drug_map.csv from pinned, published code lists (no code is typed by hand).

Why: a code-only medication record (RxNorm SCD / SBD with no display) is resolved only through this map; the
name fallback needs a drug text. Every row names the published source(s) that list its code, so a reviewer can
check it and a site can refresh it.

Inputs (all under config/medications/sources/, committed, small):
- curated_rows.csv: the rows kept from before this build, verbatim (their sources are looked up below).
- vsac/valueset-<OID>.json: VSAC expansions (cqframework/ecqm-content-qicore-2024, input/vocabulary/valueset/
  external/), cited as `vsac:<OID>|<version>`.
- ohdsi/Osteoporosis1.json: OHDSI cohort of dr-you-group/OsteoporosisTreatmentPathways; its concept sets carry
  RxNorm concepts (code, RxNorm name, concept class) from the OHDSI vocabulary. Only VOCABULARY_ID "RxNorm" (not
  "RxNorm Extension", whose OMOP codes are no RxCUIs) and the drug classes SCD / SBD / quantified / packs count.
- lhncbc/translate_ndc_b_extract.csv: RxNorm concepts (code, name, class) of an OMOP-vocabulary extract published by
  the NLM Lister Hill Center (LHNCBC/r-snippets-bmi, NDC -> RxNorm clinical drug); same class filter as OHDSI.
- synthea/*: verbatim extracts of Synthea's medication cost table and of module medication states.
- medcheck/drug_rxnorm_mapping_extract.csv: rows of the drug_rxnorm_mapping table in the pg_dump of kumar2net/medcheck
  whose source is `rxnav_auto_import` (written by its server from RxNav /drugs.json: rxcui, name, tty) and whose RxCUI
  is numeric; term types SCD / SBD / GPCK / BPCK.
- aws/infer-rx-norm_extract.json: the RxNorm concepts (RxCUI + RxNorm name) that Amazon Comprehend Medical returns in
  the AWS CLI example for InferRxNorm (aws/aws-cli); its ingredient (IN) entry is left to ingredients.csv.

Rules: ingredient = the ingredients.csv names found as whole words in the source display (the same rule as the
SQL name fallback); strength per unit parsed from the display ("alendronic acid 70 MG Oral Tablet" -> 70 mg per
unit; "1 ML denosumab 60 MG/ML Prefilled Syringe" -> 60 mg per unit; "prednisone 5 MG/ML Oral Solution" -> 5 mg
per ml); packs with one strength of the ingredient keep it, others stay empty; a duration-labelled product
("3-Month 1.5 ML leuprolide ...") keeps an empty strength (config/medications/depots.csv keys depots on mg only).
When sources give different displays for one code, the first of VSAC, OHDSI, LHNCBC, Synthea, AWS, MedicineChk is kept
(RxNorm naming). A code whose pinned displays disagree on what it is (different ingredient, strength or per after
parsing; case, brand brackets and notes do not count) is contradicted: it is left out of the generated rows and
listed by --conflicts. A curated row without a strength takes the strength (and display) of its first pinned display
when that display gives one and the ingredient is a glucocorticoid (the old VSAC rows "prednisolone Oral Solution" ->
"prednisolone 5 MG/ML Oral Solution").

Usage:
  python config/medications/build_drug_map.py            # rewrite drug_map.csv
  python config/medications/build_drug_map.py --check    # exit 1 when drug_map.csv differs from a rebuild
  python config/medications/build_drug_map.py --out F    # write elsewhere
  python config/medications/build_drug_map.py --conflicts  # list codes whose pinned sources disagree (exit 0)
  Refresh the extracts first (then rebuild): --refresh-vsac GITDIR, --refresh-ohdsi GITDIR, --refresh-aws GITDIR,
  --refresh-lhncbc GITDIR, --refresh-medcheck GITDIR (bare git mirrors of the repositories; their HEAD commit is
  written into the cited source), --refresh-synthea-costs FILE.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCES = HERE / "sources"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
COLUMNS = ["system", "code", "display", "ingredient", "strength", "strength_unit", "per", "source"]

# VSAC expansions: (OID, generate rows from it). 1151.32 (immunosuppressives) only confirms budesonide/prednisone rows.
VSAC_SETS = [
    ("2.16.840.1.113883.3.464.1003.196.12.1266", True),   # Glucocorticoids (oral only)
    ("2.16.840.1.113883.3.464.1003.196.12.1265", True),   # Aromatase Inhibitors
    ("2.16.840.1.113762.1.4.1151.48", True),              # Androgen deprivation therapy for Urology Care
    ("2.16.840.1.113883.3.464.1003.1060", True),          # Desiccated Thyroid Medications
    ("2.16.840.1.113762.1.4.1151.32", False),             # Immunosuppressive Drugs for Urology Care
]
VSAC_REPO = "cqframework/ecqm-content-qicore-2024"
VSAC_PATH = "input/vocabulary/valueset/external/valueset-{oid}.json"
OHDSI_REPO = "dr-you-group/OsteoporosisTreatmentPathways"
OHDSI_COMMIT = "dc04b417ef9625d1caa89e8aef8cdad2482c139f"
OHDSI_PATH = "inst/cohorts/Osteoporosis1.json"
OHDSI_CLASSES = {"Clinical Drug", "Branded Drug", "Quant Clinical Drug", "Quant Branded Drug", "Clinical Pack",
                 "Branded Pack"}
SYNTHEA_COSTS = "synthea/medications_costs_extract.csv"
SYNTHEA_MODULES = ["synthea/osteoporosis_module_extract.json", "synthea/cerebral_microbleeds_module_extract.json"]
AWS_REPO = "aws/aws-cli"
AWS_PATH = "awscli/examples/comprehendmedical/infer-rx-norm.rst"
AWS_EXTRACT = "aws/infer-rx-norm_extract.json"
LHNCBC_REPO = "LHNCBC/r-snippets-bmi"
LHNCBC_PATH = "mmbox/02-ClinicalDrug/translate_ndc_b-all-preview-small.csv"
LHNCBC_EXTRACT = "lhncbc/translate_ndc_b_extract.csv"
LHNCBC_COLUMNS = ["concept_code.y", "concept_name.y", "vocabulary_id.y", "concept_class_id.y", "standard_concept.y"]
MEDCHECK_REPO = "kumar2net/medcheck"
MEDCHECK_PATH = "server/kummedchkdb.sql"
MEDCHECK_EXTRACT = "medcheck/drug_rxnorm_mapping_extract.csv"
MEDCHECK_TTYS = {"SCD", "SBD", "GPCK", "BPCK"}
STRENGTH_FILL_GROUPS = {"glucocorticoid", "glucocorticoid_excluded"}
# Local products (ear and eye drops, creams, inhalers) of the MedicineChk source are left out: the engine reads the
# dose form from the use's own text, so a code-only use of one would count as systemic exposure.
LOCAL_FORM = re.compile(r"\b(otic|ophthalmic|topical|inhal\w*|nasal|rectal|vaginal)\b", re.I)

HEADER = """\
# Shipped code map: RxNorm clinical drugs (SCD), branded drugs (SBD), brand names and packs -> ingredient,
# with the strength per unit where known (per = unit | ml; empty strength = ingredient only, dose from the
# dosage or unknown). Codes not listed are resolved by the name fallback (the RxNorm-style display).
# GENERATED by config/medications/build_drug_map.py from config/medications/sources/ (do not edit by hand: add
#   site codes in config/local/drug_map*.csv, or a source extract and rebuild). `source` names, per row, every
#   pinned list that carries the code: vsac:<OID>|<version> (expansions of cqframework/ecqm-content-qicore-2024),
#   <owner>/<repo>@<commit>:<path> (OHDSI vocabulary names in an OHDSI cohort; an NLM OMOP-vocabulary extract;
#   Synthea tables and modules; Amazon Comprehend Medical RxNorm output in the AWS CLI examples).
# source: VSAC expansions 2.16.840.1.113883.3.464.1003.196.12.1266 / .1265 / 2.16.840.1.113762.1.4.1151.48 /
#   2.16.840.1.113883.3.464.1003.1060 / 2.16.840.1.113762.1.4.1151.32; dr-you-group/OsteoporosisTreatmentPathways
#   @dc04b417 (OHDSI vocabulary); LHNCBC/r-snippets-bmi @113a2ee6 (OMOP vocabulary); synthetichealth/synthea
#   @00f3c89a / @106459b9 / @5b703d6f; aws/aws-cli @07c4fe36 (UMLS 2020AB RxCUIs); kumar2net/medcheck @f321ee6c
#   (RxNav /drugs.json rows, 2025-08); clinical-knowledge.md 3.3.
# version: VSAC eCQM 2025 cycle (expansion 20240502, RxNorm 2024-01) / osteoscreen 2026-12 (build 3)
"""

_AMOUNT = re.compile(r"^[^0-9/;{}()\[\]]{0,30}?(\d+(?:\.\d+)?)\s*(mg|mcg|unt)(/ml|/mg|/actuat|/hr)?\b")
_QUANTITY = re.compile(r"^(\d+(?:\.\d+)?) ml ")
_DURATION = re.compile(r"^\d+[- ](?:day|week|month|year)s?\b")


def read_commented(path: Path) -> list[dict]:
    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip() and not ln.startswith("#")]
    return list(csv.DictReader(io.StringIO("\n".join(lines))))


def ingredient_names() -> dict[str, list[str]]:
    """ingredient -> lower-case names, longest first (ingredients.csv, the list the name fallback uses)."""
    out: dict[str, list[str]] = {}
    for r in read_commented(HERE / "ingredients.csv"):
        name = r["ingredient"].strip().lower()
        names = {name, *[x.strip().lower() for x in (r.get("names") or "").split("|") if x.strip()]}
        out[name] = sorted(names, key=lambda n: (-len(n), n))
    return out


def _word_hits(text: str, name: str) -> list[int]:
    """End offsets of `name` in `text` as a whole word (same boundary rule as sql/model/50_medication.sql)."""
    hits, start = [], 0
    while (i := text.find(name, start)) >= 0:
        before = text[i - 1] if i > 0 else ""
        after = text[i + len(name)] if i + len(name) < len(text) else ""
        if not re.match(r"[a-z0-9_]", before) and not re.match(r"[a-z0-9_]", after):
            hits.append(i + len(name))
        start = i + 1
    return hits


def _fmt(v: float) -> str:
    return f"{round(v, 6):g}"


def parse_rows(display: str, names: dict[str, list[str]]) -> list[tuple[str, str, str, str]]:
    """(ingredient, strength, unit, per) for every known ingredient named in an RxNorm display."""
    text = " ".join(display.lower().split())
    quantity = _QUANTITY.match(text)
    duration = _DURATION.match(text)
    out = []
    for ingredient, ns in names.items():
        ends = sorted({e for n in ns for e in _word_hits(text, n)})
        if not ends:
            continue
        amounts = set()
        for e in ends:
            m = _AMOUNT.match(text[e:])
            if m:
                amounts.add((float(m.group(1)), m.group(2), m.group(3) or ""))
        strength = unit = per = ""
        if len(amounts) == 1 and not duration:
            value, u, denom = amounts.pop()
            unit = "iu" if u == "unt" else u
            if denom == "":
                strength, per = _fmt(value), "unit"
            elif denom == "/ml" and quantity and "{" not in text:
                strength, per = _fmt(value * float(quantity.group(1))), "unit"
            elif denom == "/ml":
                strength, per = _fmt(value), "ml"
            else:   # per mg of paste, per actuation, per hour: no per-unit strength
                unit = ""
            if not strength:
                unit = per = ""
        out.append((ingredient, strength, unit, per))
    return out


def vsac_entries() -> list[tuple[str, str, str, bool]]:
    """(code, display, citation, generate) from the committed VSAC expansions."""
    out = []
    for oid, generate in VSAC_SETS:
        vs = json.loads((SOURCES / "vsac" / f"valueset-{oid}.json").read_text(encoding="utf-8"))
        cite = f"vsac:{oid}|{vs.get('version', '')}"

        def walk(items, cite=cite, generate=generate):
            for c in items or []:
                if c.get("code") and c.get("system") == RXNORM and not c.get("inactive"):
                    out.append((str(c["code"]), c.get("display") or "", cite, generate))
                walk(c.get("contains"))

        walk((vs.get("expansion") or {}).get("contains"))
    return out


def ohdsi_entries() -> list[tuple[str, str, str, bool]]:
    path = SOURCES / "ohdsi" / Path(OHDSI_PATH).name
    data = json.loads(path.read_text(encoding="utf-8"))
    commit = (SOURCES / "ohdsi" / "COMMIT").read_text(encoding="utf-8").strip()
    cite = f"{OHDSI_REPO}@{commit}:{OHDSI_PATH}"
    seen: dict[str, str] = {}

    def walk(node):
        if isinstance(node, dict):
            if node.get("VOCABULARY_ID") == "RxNorm" and node.get("CONCEPT_CLASS_ID") in OHDSI_CLASSES:
                seen.setdefault(str(node["CONCEPT_CODE"]), node["CONCEPT_NAME"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(data)
    return [(code, name, cite, True) for code, name in sorted(seen.items(), key=lambda kv: int(kv[0]))]


def _cited(path: Path) -> str:
    """The `# source:` line of a commented extract."""
    return next(ln.split(":", 1)[1].strip() for ln in path.read_text(encoding="utf-8").splitlines()
                if ln.startswith("# source:"))


def lhncbc_entries() -> list[tuple[str, str, str, bool]]:
    path = SOURCES / LHNCBC_EXTRACT
    cite = _cited(path)
    return [(r["concept_code"], r["concept_name"], cite, True) for r in read_commented(path)
            if r["vocabulary_id"] == "RxNorm" and r["concept_class_id"] in OHDSI_CLASSES
            and r["standard_concept"] == "S"]


def medcheck_entries() -> list[tuple[str, str, str, bool]]:
    """drug_rxnorm_mapping rows that the MedicineChk server wrote from RxNav /drugs.json (source rxnav_auto_import)."""
    path = SOURCES / MEDCHECK_EXTRACT
    cite = _cited(path)
    return [(r["rxcui"], r["concept_name"], cite, True) for r in read_commented(path)
            if r["term_type"] in MEDCHECK_TTYS and not LOCAL_FORM.search(r["concept_name"])]


def synthea_entries() -> list[tuple[str, str, str, bool]]:
    out = []
    path = SOURCES / SYNTHEA_COSTS
    cite = _cited(path)
    for r in read_commented(path):
        display = re.split(r" -- | - http", r["COMMENTS"])[0].strip()
        out.append((r["CODE"].strip(), display, cite, True))
    for name in SYNTHEA_MODULES:
        module = json.loads((SOURCES / name).read_text(encoding="utf-8"))
        for state in module["states"].values():
            for c in state.get("codes", []):
                if c.get("system") == "RxNorm":
                    out.append((str(c["code"]), c["display"], module["source"], True))
    return out


def aws_entries() -> list[tuple[str, str, str, bool]]:
    """RxNorm concepts of the InferRxNorm example; an ingredient (IN) entry resolves through ingredients.csv instead."""
    data = json.loads((SOURCES / AWS_EXTRACT).read_text(encoding="utf-8"))
    plain = set(ingredient_names())
    return [(str(c["Code"]), c["Description"], data["source"], True) for c in data["RxNormConcepts"]
            if c["Description"].strip().lower() not in plain]


def all_entries() -> list[tuple[str, str, str, bool]]:
    """Every pinned (code, display, citation, generate) in display precedence order."""
    return (vsac_entries() + ohdsi_entries() + lhncbc_entries() + synthea_entries() + aws_entries()
            + medcheck_entries())


def _meaning(display: str, names: dict[str, list[str]]) -> frozenset:
    return frozenset(parse_rows(display, names))


def conflicts(entries: list[tuple[str, str, str, bool]], names: dict[str, list[str]]) -> dict[str, list[tuple]]:
    """Codes whose pinned displays name different things: {code: [(display, citation), ...]}."""
    by_code: dict[str, list[tuple[str, str]]] = {}
    for code, display, cite, _gen in entries:
        by_code.setdefault(code, []).append((display, cite))
    out = {}
    for code, pairs in by_code.items():
        if len({_meaning(d, names) for d, _c in pairs}) > 1:
            out[code] = pairs
    return out


def _groups() -> dict[str, str]:
    return {r["ingredient"].strip().lower(): r["drug_group"].strip() for r in read_commented(HERE / "ingredients.csv")}


def build() -> str:
    names = ingredient_names()
    groups = _groups()
    entries = all_entries()   # precedence order for displays
    contradicted = conflicts(entries, names)
    first_display: dict[str, str] = {}
    for code, display, _cite, _gen in entries:
        first_display.setdefault(code, display)
    cites: dict[str, list[str]] = {}
    for code, _display, cite, _gen in entries:
        cites.setdefault(code, [])
        if cite not in cites[code]:
            cites[code].append(cite)

    buf = io.StringIO()
    buf.write(HEADER)
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS)
    curated = read_commented(SOURCES / "curated_rows.csv")
    have = set()
    for r in curated:
        source = "; ".join(cites.get(r["code"], [])) or r["source"].strip()
        row = [r[c] for c in COLUMNS[:-1]]
        pinned = first_display.get(r["code"])
        if (not r["strength"].strip() and pinned and r["code"] not in contradicted
                and groups.get(r["ingredient"].strip().lower()) in STRENGTH_FILL_GROUPS):
            filled = [p for p in parse_rows(pinned, names) if p[0] == r["ingredient"].strip().lower() and p[1]]
            if len(filled) == 1:
                _ing, strength, unit, per = filled[0]
                row = [r["system"], r["code"], pinned, r["ingredient"], strength, unit, per]
        w.writerow(row + [source])
        have.add(r["code"])

    generated = []
    chosen: dict[str, str] = {}
    for code, display, _cite, generate in entries:
        if generate and code not in have and code not in chosen and code not in contradicted:
            chosen[code] = display
    for code, display in chosen.items():
        for ingredient, strength, unit, per in parse_rows(display, names):
            generated.append((ingredient, int(code), [RXNORM, code, display, ingredient, strength, unit, per,
                                                      "; ".join(cites[code])]))
    for _i, _c, row in sorted(generated, key=lambda g: (g[0], g[1])):
        w.writerow(row)
    return buf.getvalue()


def _git_show(gitdir: str, path: str) -> tuple[str, str]:
    commit = subprocess.run(["git", f"--git-dir={gitdir}", "rev-parse", "HEAD"], check=True, capture_output=True,
                            text=True).stdout.strip()
    text = subprocess.run(["git", f"--git-dir={gitdir}", "show", f"HEAD:{path}"], check=True, capture_output=True,
                          text=True).stdout
    return commit, text


def _write_extract(path: Path, cited: str, rows: list) -> None:
    """Rewrite a commented CSV extract: its own comment lines kept, the `# source:` line set to the refreshed commit."""
    head = [ln for ln in path.read_text(encoding="utf-8").splitlines()
            if ln.startswith("#") and not ln.startswith("# source:")]
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    path.write_text("\n".join([*head, f"# source: {cited}"]) + "\n" + buf.getvalue(), encoding="utf-8")


def refresh(args: argparse.Namespace) -> None:
    if args.refresh_vsac:
        for oid, _gen in VSAC_SETS:
            _commit, text = _git_show(args.refresh_vsac, VSAC_PATH.format(oid=oid))
            (SOURCES / "vsac" / f"valueset-{oid}.json").write_text(text, encoding="utf-8")
    if args.refresh_ohdsi:
        commit, text = _git_show(args.refresh_ohdsi, OHDSI_PATH)
        (SOURCES / "ohdsi" / Path(OHDSI_PATH).name).write_text(text, encoding="utf-8")
        (SOURCES / "ohdsi" / "COMMIT").write_text(commit + "\n", encoding="utf-8")
    if args.refresh_aws:
        commit, text = _git_show(args.refresh_aws, AWS_PATH)
        seen: list[dict] = []
        for desc, code in re.findall(r'"Description":\s*"([^"]+)",\s*"Code":\s*"(\d+)"', text):
            if {"Description": desc, "Code": code} not in seen:
                seen.append({"Description": desc, "Code": code})
        path = SOURCES / AWS_EXTRACT
        data = json.loads(path.read_text(encoding="utf-8"))
        data.update({"source": f"{AWS_REPO}@{commit}:{AWS_PATH}", "RxNormConcepts": seen})
        path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    if args.refresh_lhncbc:
        commit, text = _git_show(args.refresh_lhncbc, LHNCBC_PATH)
        names = ingredient_names()
        keep: list[tuple] = []
        for r in csv.DictReader(io.StringIO(text)):
            row = tuple(r[c] for c in LHNCBC_COLUMNS)
            if row not in keep and parse_rows(row[1], names):
                keep.append(row)
        _write_extract(SOURCES / LHNCBC_EXTRACT, f"{LHNCBC_REPO}@{commit}:{LHNCBC_PATH}",
                       [["concept_code", "concept_name", "vocabulary_id", "concept_class_id", "standard_concept"],
                        *keep])
    if args.refresh_medcheck:
        commit, text = _git_show(args.refresh_medcheck, MEDCHECK_PATH)
        names = ingredient_names()
        rows, inside = [], False
        for ln in text.splitlines():
            if ln.startswith("COPY public.drug_rxnorm_mapping "):
                inside = True
            elif inside and ln == "\\.":
                break
            elif inside:
                f = ln.split("\t")
                # rxnav_auto_import rows with a numeric RxCUI (the server's non-RxNav fallbacks write IND_... ids)
                if f[5] == "rxnav_auto_import" and f[2].isdigit() and parse_rows(f[3], names):
                    rows.append([f[2], f[3], f[4]])
        _write_extract(SOURCES / MEDCHECK_EXTRACT, f"{MEDCHECK_REPO}@{commit}:{MEDCHECK_PATH}",
                       [["rxcui", "concept_name", "term_type"], *rows])
    if args.refresh_synthea_costs:
        names = ingredient_names()
        path = SOURCES / SYNTHEA_COSTS
        head = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.startswith("#")]
        lines = Path(args.refresh_synthea_costs).read_text(encoding="utf-8").splitlines()
        keep = [ln for ln in lines[1:] if parse_rows(ln.split(",", 4)[-1], names)]
        path.write_text("\n".join(head + [lines[0], *keep]) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--out", type=Path, default=HERE / "drug_map.csv")
    ap.add_argument("--check", action="store_true", help="compare with --out instead of writing it")
    ap.add_argument("--refresh-vsac", metavar="GITDIR")
    ap.add_argument("--refresh-ohdsi", metavar="GITDIR")
    ap.add_argument("--refresh-aws", metavar="GITDIR")
    ap.add_argument("--refresh-lhncbc", metavar="GITDIR")
    ap.add_argument("--refresh-medcheck", metavar="GITDIR")
    ap.add_argument("--refresh-synthea-costs", metavar="FILE")
    ap.add_argument("--conflicts", action="store_true", help="list codes whose pinned sources disagree")
    args = ap.parse_args(argv)
    refresh(args)
    if args.conflicts:
        for code, pairs in sorted(conflicts(all_entries(), ingredient_names()).items(), key=lambda kv: int(kv[0])):
            print(code, " | ".join(f"{d} ({c})" for d, c in pairs))
        return 0
    text = build()
    if args.check:
        same = args.out.exists() and args.out.read_text(encoding="utf-8") == text
        print("drug_map.csv is up to date" if same else f"{args.out} differs from a rebuild", file=sys.stderr)
        return 0 if same else 1
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out} ({text.count(chr(10)) - HEADER.count(chr(10)) - 1} rows)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
