"""The shipped drug map (config/medications/drug_map.csv): every row names its published source, the build script
reproduces it byte for byte from the committed extracts, and the loader reads it into med_drug_map."""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

ROOT = Path(__file__).resolve().parents[1]
MED = ROOT / "config" / "medications"
SCRIPT = MED / "build_drug_map.py"
SYNTHEA_COSTS = "synthea/medications_costs_extract.csv"
PINNED = re.compile(r"^(vsac:[0-9.]+\|\d{8}|[\w.-]+/[\w.-]+@[0-9a-f]{40}:[\w./-]+)$")


def _rows(path: Path) -> list[dict]:
    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip() and not ln.startswith("#")]
    return list(csv.DictReader(io.StringIO("\n".join(lines))))


@pytest.fixture(scope="module")
def build_module():
    spec = importlib.util.spec_from_file_location("build_drug_map", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    return _rows(MED / "drug_map.csv")


def test_every_row_names_a_source_and_generated_rows_a_pinned_one(rows):
    curated = {r["code"] for r in _rows(MED / "sources" / "curated_rows.csv")}
    assert len(rows) > len(curated) + 60   # the build added rows
    unverified = []
    for r in rows:
        assert r["source"].strip(), f"{r['code']} has no source"
        parts = [p.strip() for p in r["source"].split(";")]
        if parts[0].startswith("unverified:"):
            assert r["code"] in curated, f"generated row {r['code']} without a pinned source"
            unverified.append(r["code"])
            continue
        for p in parts:
            assert PINNED.match(p), f"{r['code']}: source {p!r} is not OID|version or repo@commit:path"
    assert sorted(unverified) == ["203769", "262105", "262485"]   # the three brand names, stated as unverified


def test_every_cited_extract_lists_the_code(rows, build_module):
    by_cite: dict[str, set[str]] = {}
    for code, _display, cite, _gen in build_module.all_entries():
        by_cite.setdefault(cite, set()).add(code)
    for r in rows:
        for p in r["source"].split(";"):
            p = p.strip()
            if not p.startswith("unverified:"):
                assert r["code"] in by_cite[p], f"{r['code']} not in {p}"


def test_build_reproduces_the_file_byte_for_byte(tmp_path):
    out = tmp_path / "drug_map.csv"
    subprocess.run([sys.executable, str(SCRIPT), "--out", str(out)], check=True, capture_output=True)
    assert out.read_bytes() == (MED / "drug_map.csv").read_bytes()
    ok = subprocess.run([sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    out.write_text(out.read_text(encoding="utf-8").replace(",70,mg,unit,", ",7,mg,unit,", 1), encoding="utf-8")
    bad = subprocess.run([sys.executable, str(SCRIPT), "--check", "--out", str(out)], capture_output=True, text=True)
    assert bad.returncode == 1 and "differs" in bad.stderr


@pytest.mark.parametrize(
    ("display", "expected"),
    [
        ("alendronic acid 70 MG Oral Tablet", [("alendronate", "70", "mg", "unit")]),
        ("alendronic acid 70 MG / cholecalciferol 5600 UNT Oral Tablet",
         [("alendronate", "70", "mg", "unit"), ("cholecalciferol", "5600", "iu", "unit")]),
        ("1 ML denosumab 60 MG/ML Prefilled Syringe [Prolia]", [("denosumab", "60", "mg", "unit")]),
        ("denosumab 60 MG/ML Injectable Solution [Prolia]", [("denosumab", "60", "mg", "ml")]),
        ("100 ML zoledronic acid 0.05 MG/ML Injection", [("zoledronic acid", "5", "mg", "unit")]),
        ("{21 (dexamethasone 1.5 MG Oral Tablet) } Pack", [("dexamethasone", "1.5", "mg", "unit")]),
        ("{28 (letrozole 2.5 MG Oral Tablet) / 21 (ribociclib 200 MG Oral Tablet) } Pack",
         [("letrozole", "2.5", "mg", "unit")]),
        ("3-Month 1.5 ML leuprolide acetate 20 MG/ML Prefilled Syringe", [("leuprolide", "", "", "")]),
        ("triamcinolone acetonide 0.001 MG/MG Oral Paste", [("triamcinolone", "", "", "")]),
        ("thyroid (USP) 60 MG Oral Tablet", [("desiccated thyroid", "60", "mg", "unit")]),
        ("Levothyroxine Sodium 0.088 MG Oral Tablet [Synthroid]", [("levothyroxine", "0.088", "mg", "unit")]),
        ("Synthroid", [("levothyroxine", "", "", "")]),
        ("Calcium Carbonate 1250 MG / Cholecalciferol 1000 UNT / Vitamin K 0.4 MG Chewable Tablet",
         [("cholecalciferol", "1000", "iu", "unit")]),
        ("prednisolone 5 MG/ML Oral Solution", [("prednisolone", "5", "mg", "ml")]),
        ("everolimus 7.5 MG Oral Tablet", []),
    ],
)
def test_strength_per_unit_is_parsed_from_the_display(build_module, display, expected):
    got = build_module.parse_rows(display, build_module.ingredient_names())
    assert sorted(got) == sorted(expected)


def test_loader_reads_the_new_rows(tmp_path):
    from screening.codes.valuesets import load_code_tables

    con = duckdb.connect(str(tmp_path / "t.duckdb"))
    load_code_tables(con, [ROOT / "config"])
    got = con.execute("""SELECT code, ingredient, strength, strength_unit, per FROM med_drug_map
                         WHERE code IN ('904462', '313391', '993452') ORDER BY code, ingredient""").fetchall()
    assert got == [("313391", "desiccated thyroid", 60.0, "mg", "unit"),
                   ("904462", "alendronate", 70.0, "mg", "unit"), ("904462", "cholecalciferol", 5600.0, "iu", "unit"),
                   ("993452", "denosumab", 60.0, "mg", "unit")]
    missing = con.execute("""SELECT DISTINCT d.ingredient FROM med_drug_map d
                             ANTI JOIN med_ingredient i USING (ingredient)""").fetchall()
    assert missing == []
    groups = dict(con.execute("""SELECT i.drug_group, count(DISTINCT d.code) FROM med_drug_map d
                                 JOIN med_ingredient i USING (ingredient) GROUP BY 1""").fetchall())
    assert groups["op_therapy"] >= 20 and groups["thyroid_hormone"] >= 31 and groups["vitamin_d"] >= 2


def test_sources_are_the_pinned_files():
    vs = json.loads((MED / "sources" / "vsac" / "valueset-2.16.840.1.113883.3.464.1003.1060.json").read_text())
    assert vs["name"] == "DesiccatedThyroidMedications" and vs["version"] == "20240117"
    assert (MED / "sources" / "ohdsi" / "COMMIT").read_text().strip() == "dc04b417ef9625d1caa89e8aef8cdad2482c139f"


def test_a_contradicted_code_is_left_out(build_module):
    names = build_module.ingredient_names()
    entries = [("1", "prednisone 5 MG Oral Tablet", "a", True),
               ("1", "Prednisone 5 MG Oral Tablet [Deltasone]", "b", True),
               ("2", "prednisone 5 MG Oral Tablet", "a", True), ("2", "prednisone 10 MG Oral Tablet", "b", True),
               ("3", "levothyroxine sodium 0.05 MG Oral Tablet", "a", True)]
    got = build_module.conflicts(entries, names)
    assert list(got) == ["2"]   # case and brand brackets are no contradiction; another strength is
    assert build_module.conflicts(build_module.all_entries(), names) == {}   # the shipped extracts agree


def test_new_sources_add_levothyroxine_and_calcium_vitamin_d_codes(rows):
    by_code = {(r["code"], r["ingredient"]): r for r in rows}
    want = {"966224": ("0.125", "aws/aws-cli@"), "966405": ("0.125", "aws/aws-cli@"),
            "966282": ("0.088", "aws/aws-cli@"), "966247": ("0.05", "aws/aws-cli@"),
            "966158": ("0.025", "aws/aws-cli@"), "966190": ("0.125", "aws/aws-cli@"),
            "966191": ("0.125", "aws/aws-cli@"), "892255": ("0.3", "LHNCBC/r-snippets-bmi@"),
            "966222": ("0.075", "synthetichealth/synthea@")}
    for code, (strength, source) in want.items():
        r = by_code[(code, "levothyroxine")]
        assert (r["strength"], r["strength_unit"], r["per"]) == (strength, "mg", "unit") and source in r["source"]
    assert by_code[("224920", "levothyroxine")]["strength"] == ""   # brand name Synthroid
    assert "10582" not in {r["code"] for r in rows}   # the ingredient code resolves through ingredients.csv
    cad = by_code[("1362805", "cholecalciferol")]
    assert (cad["strength"], cad["strength_unit"], cad["per"]) == ("1000", "iu", "unit")
    assert "cerebral_microbleeds.json" in cad["source"]


def test_glucocorticoid_rows_take_the_strength_of_their_pinned_display(rows):
    by_code = {r["code"]: r for r in rows}
    for code, display, strength, per in [("249066", "prednisolone 5 MG/ML Oral Solution", "5", "ml"),
                                         ("763183", "{48 (prednisone 10 MG Oral Tablet) } Pack", "10", "unit"),
                                         ("643127", "prednisolone 30 MG Disintegrating Oral Tablet", "30", "unit"),
                                         ("309686", "dexamethasone 0.1 MG/ML Oral Solution", "0.1", "ml")]:
        r = by_code[code]
        assert (r["display"], r["strength"], r["strength_unit"], r["per"]) == (display, strength, "mg", per)
        assert r["source"].startswith("vsac:2.16.840.1.113883.3.464.1003.196.12.1266|")
    assert by_code["752899"]["strength"] == ""   # not a glucocorticoid: the old ADT row is kept as it was
    assert by_code["1085728"]["strength"] == ""   # per-mg paste: no per-unit strength


def test_new_codes_resolve_code_only_to_ingredient_and_daily_dose(tmp_path):
    """A code-only record (no display, no text) of each new code gets its ingredient and dose from the map alone."""
    from datetime import date

    from screening.db import connect
    from screening.load import load_source
    from screening.screens import run_screens
    from tests.conftest import write_ndjson

    cases = {"966224": (1, "TAB"), "966405": (1, "TAB"), "966282": (1, "TAB"), "892255": (1, "TAB"),
             "224920": (1, "TAB"), "1362805": (1, "TAB"), "249066": (4, "mL"), "763183": (1, "TAB")}
    res = [{"resourceType": "Patient", "id": "p", "gender": "female", "birthDate": "1950-01-01"}]
    for code, (value, unit) in cases.items():
        res.append({"resourceType": "MedicationRequest", "id": f"m{code}", "status": "active", "intent": "order",
                    "subject": {"reference": "Patient/p"}, "authoredOn": "2026-06-01",
                    "medicationCodeableConcept": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                                                              "code": code}]},
                    "dosageInstruction": [{"timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}},
                                           "doseAndRate": [{"doseQuantity": {"value": value, "unit": unit}}]}]})
    write_ndjson(tmp_path / "src" / "MedicationRequest.ndjson", res)
    con = connect(tmp_path / "db.duckdb")
    try:
        load_source(con, tmp_path / "src")
        run_screens(con, date(2026, 6, 30), None)
        got = {use.removeprefix("m"): (ing, by, amount, unit) for use, ing, by, amount, unit in con.execute(
            "SELECT use_id, ingredient, resolved_by, daily_amount, amount_unit FROM med_exposure").fetchall()}
    finally:
        con.close()
    assert got == {"966224": ("levothyroxine", "code_map", 0.125, "mg"),
                   "966405": ("levothyroxine", "code_map", 0.125, "mg"),
                   "966282": ("levothyroxine", "code_map", 0.088, "mg"),
                   "892255": ("levothyroxine", "code_map", 0.3, "mg"),
                   "224920": ("levothyroxine", "code_map", None, "mg"),   # a brand name: dose unknown
                   "1362805": ("cholecalciferol", "code_map", 1000.0, "IU"),
                   "249066": ("prednisolone", "code_map", 20.0, "mg"),
                   "763183": ("prednisone", "code_map", 10.0, "mg")}


def _ingredient_rxcuis() -> dict[str, str]:
    return {r["ingredient"]: r["rxcui"] for r in _rows(MED / "ingredients.csv")}


def test_unverified_ingredient_rxcuis_are_checked_against_pinned_extracts():
    table = _rows(MED / "sources" / "ingredients" / "ingredient_rxcui.csv")
    rxcuis = _ingredient_rxcuis()
    uscore = json.loads((MED / "sources" / "ingredients" / "us-core-allergy-substance_extract.json").read_text())
    cpic_text = (MED / "sources" / "ingredients" / "cpic_drug_extract.tsv").read_text()
    cpic = [ln.split("\t") for ln in cpic_text.splitlines() if ln.startswith("RxNorm:")]
    names = {uscore["source"]: {c["code"]: c["display"] for c in uscore["concept"]},
             "cpicpgx/cpic-schema@05f9b09c5fcdf674efe3289411994b54f979aedb:drug.sql":
                 {d.removeprefix("RxNorm:"): n for d, n, _p in cpic}}
    assert uscore["system"] == "http://www.nlm.nih.gov/research/umls/rxnorm" and uscore["version"] == "3.1.1"
    status = {}
    for r in table:
        assert rxcuis[r["ingredient"]] == r["rxcui"]   # the table checks the code ingredients.csv ships
        status[r["ingredient"]] = r["status"]
        if r["status"] == "V":
            for cite in [c.strip() for c in r["source"].split(";")]:
                assert PINNED.match(cite) and names[cite][r["rxcui"]].lower() == r["ingredient"]
        else:
            assert r["status"] == "U" and r["source"].startswith("no pinned source")
    assert status == {"budesonide": "V", "cholecalciferol": "V", "letrozole": "U", "exemestane": "U",
                      "liothyronine": "U", "ergocalciferol": "U", "calcitriol": "U"}
    head = (MED / "ingredients.csv").read_text().split("\n# route_unknown_counts")[0]
    unverified = head.split("[U] unverified, no pinned source found:")[1].split(")")[0]
    assert sorted(x.strip() for x in unverified.split(",")) == sorted(k for k, v in status.items() if v == "U")


def test_every_source_folder_names_its_pinned_origin():
    """Each extract's in-file citation is pinned and its folder's README names the same repository@commit:path."""
    src = MED / "sources"
    lhncbc = (src / "lhncbc" / "translate_ndc_b_extract.csv").read_text()
    cited = {f: json.loads((src / f).read_text())["source"] for f in
             ["aws/infer-rx-norm_extract.json", "synthea/cerebral_microbleeds_module_extract.json",
              "synthea/osteoporosis_module_extract.json", "ingredients/us-core-allergy-substance_extract.json"]}
    cited["lhncbc/translate_ndc_b_extract.csv"] = next(
        ln.split(":", 1)[1].strip() for ln in lhncbc.splitlines() if ln.startswith("# source:"))
    cited["synthea/medications_costs_extract.csv"] = next(
        ln.split(":", 1)[1].strip() for ln in (src / SYNTHEA_COSTS).read_text().splitlines()
        if ln.startswith("# source:"))
    for f, cite in cited.items():
        assert PINNED.match(cite), cite
        assert cite in (src / f.split("/")[0] / "README.md").read_text(), f
    ohdsi = (src / "ohdsi" / "README.md").read_text()
    assert (src / "ohdsi" / "COMMIT").read_text().strip() in ohdsi
    assert re.search(r"cqframework/ecqm-content-qicore-2024@[0-9a-f]{40}:", (src / "vsac" / "README.md").read_text())
