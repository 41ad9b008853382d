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
    for code, _display, cite, _gen in (build_module.vsac_entries() + build_module.ohdsi_entries()
                                       + build_module.synthea_entries()):
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
    assert groups["op_therapy"] >= 20 and groups["thyroid_hormone"] >= 22 and groups["vitamin_d"] >= 1


def test_sources_are_the_pinned_files():
    vs = json.loads((MED / "sources" / "vsac" / "valueset-2.16.840.1.113883.3.464.1003.1060.json").read_text())
    assert vs["name"] == "DesiccatedThyroidMedications" and vs["version"] == "20240117"
    assert (MED / "sources" / "ohdsi" / "COMMIT").read_text().strip() == "dc04b417ef9625d1caa89e8aef8cdad2482c139f"
