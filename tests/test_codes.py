"""Code lists: CSV with a comment header, FHIR ValueSet expansions, local additions, normalisation."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import duckdb
import pytest

from screening.codes import code_norm, load_code_tables, read_valueset_csv, read_valueset_json, system_canon
from screening.errors import ConfigError
from screening.settings import DEFAULT_CONFIG_DIR, load_settings

ICD = "http://hl7.org/fhir/sid/icd-10-cm"


def test_code_norm_icd_drops_dot_and_case():
    assert code_norm(ICD, " m80.08xa ") == "M8008XA"
    assert code_norm("http://loinc.org", "38267-1") == "38267-1"


def test_system_aliases_map_oids():
    aliases = {"urn:oid:2.16.840.1.113883.6.90": ICD}
    assert system_canon("urn:oid:2.16.840.1.113883.6.90", aliases) == ICD
    assert system_canon("http://other/", aliases) == "http://other/"


def test_csv_reader_meta_and_concept_column(tmp_path):
    p = tmp_path / "extra.csv"
    p.write_text(
        "# source: local lab\n# version: 7\nconcept,system,code,display,match\n"
        "lab_tsh,http://lab.example,TSH1,TSH,exact\nmyeloma,http://hl7.org/fhir/sid/icd-10-cm,C90.0,MM,prefix\n"
    )
    rows, meta = read_valueset_csv(p, {})
    assert meta == {"source": "local lab", "version": "7"}
    assert [(r.concept, r.match) for r in rows] == [("lab_tsh", "exact"), ("myeloma", "prefix")]


def test_csv_reader_rejects_bad_match(tmp_path):
    p = tmp_path / "x.csv"
    p.write_text("system,code,match\ns,c,regex\n")
    with pytest.raises(ConfigError, match="match must be one of"):
        read_valueset_csv(p, {})


def test_valueset_json_nested_contains_skips_abstract_and_inactive(tmp_path):
    p = tmp_path / "myeloma.vsac.json"
    p.write_text(
        json.dumps(
            {
                "resourceType": "ValueSet",
                "version": "v1",
                "expansion": {
                    "contains": [
                        {"system": "http://snomed.info/sct", "code": "1", "display": "a"},
                        {
                            "system": "http://snomed.info/sct",
                            "code": "g",
                            "abstract": True,
                            "contains": [{"system": "http://snomed.info/sct", "code": "2"}],
                        },
                        {"system": "http://snomed.info/sct", "code": "3", "inactive": True},
                    ]
                },
            }
        )
    )
    rows, meta = read_valueset_json(p, {})
    assert [r.code for r in rows] == ["1", "2"] and {r.concept for r in rows} == {"myeloma"}
    assert meta["version"] == "v1"


def test_valueset_json_must_be_a_valueset(tmp_path):
    p = tmp_path / "x.json"
    p.write_text('{"resourceType": "Bundle"}')
    with pytest.raises(ConfigError):
        read_valueset_json(p, {})


def test_shipped_lists_load_with_versions():
    con = duckdb.connect()
    versions = load_code_tables(con, [DEFAULT_CONFIG_DIR])
    assert "fracture.csv" in versions and versions["drug_map.csv"]
    concepts = {r[0] for r in con.execute("SELECT DISTINCT concept FROM vs_code").fetchall()}
    assert {"dxa_t_score", "dxa_z_score", "fracture", "malabsorption", "cushing", "lab_vitamin_d"} <= concepts
    # shipped lists are LOINC, RxNorm, ICD-10-CM, SNOMED CT (+ route vocabularies, free-text terms): never CPT
    systems = {r[0] for r in con.execute("SELECT DISTINCT system FROM vs_code").fetchall()}
    assert not any("cpt" in s.lower() for s in systems)
    assert (
        con.execute("SELECT count(*) FROM med_drug_map WHERE code = '312617' AND strength = 5").fetchone()[0]
        == 1
    )


def test_user_valueset_file_replaces_shipped_one(tmp_path):
    (tmp_path / "valuesets").mkdir()
    (tmp_path / "valuesets" / "cushing.csv").write_text(
        "system,code\nhttp://hl7.org/fhir/sid/icd-10-cm,E24.0\n"
    )
    con = duckdb.connect()
    load_code_tables(con, [DEFAULT_CONFIG_DIR, tmp_path])
    assert con.execute("SELECT count(*) FROM vs_code WHERE concept = 'cushing'").fetchone()[0] == 1


def test_settings_override_and_unknown_key(tmp_path):
    (tmp_path / "settings.toml").write_text("[dxa]\nlow_z = -1.8\n")
    s = load_settings(tmp_path)
    assert s.params["dxa_low_z"] == -1.8 and s.params["dxa_high_z"] == -2.5
    (tmp_path / "settings.toml").write_text("[dxa]\nlow_zz = -1.8\n")
    with pytest.raises(ConfigError, match="unknown setting"):
        load_settings(tmp_path)
    (tmp_path / "settings.toml").write_text("[dxa]\nlow_z = 'x'\n")
    with pytest.raises(ConfigError, match="must be a number"):
        load_settings(tmp_path)


def test_every_threshold_is_a_parameter():
    p = load_settings().params
    for key in [
        "lookback_dxa_months",
        "lookback_lab_months",
        "lookback_frax_months",
        "lookback_gc_window_months",
        "dxa_low_z",
        "dxa_osteoporosis_t",
        "frax_mof_pct",
        "frax_hip_pct",
        "glucocorticoid_min_days",
        "glucocorticoid_min_mean_mg",
        "glucocorticoid_high_dose_mg",
        "vitamin_d_deficiency_ngml",
        "thyroid_suppressed_tsh",
        "fracture_episode_days",
    ]:
        assert key in p, key


def test_undeclared_code_system_in_a_local_list_is_a_config_error(tmp_path):
    import duckdb
    import pytest

    from screening.codes import load_code_tables
    from screening.errors import ConfigError
    from screening.paths import CONFIG_DIR

    (tmp_path / "local").mkdir()
    (tmp_path / "local" / "dxa_z_score.csv").write_text("system,code\nhttp://nobody.example/x,Z1\n")
    with pytest.raises(ConfigError, match="unknown code system 'http://nobody.example/x'") as err:
        load_code_tables(duckdb.connect(), [CONFIG_DIR, tmp_path])
    assert err.value.exit_code == 5
    (tmp_path / "code_systems.csv").write_text("alias,canonical\nhttp://nobody.example/x,http://nobody.example/x\n")
    load_code_tables(duckdb.connect(), [CONFIG_DIR, tmp_path])


# --- importer: FHIR ValueSet expansion -> code-list CSV (osteoscreen valuesets import) -----------------------

VSAC_DIR = DEFAULT_CONFIG_DIR / "valuesets" / "vsac"
MYELOMA_VS = VSAC_DIR / "valueset-2.16.840.1.113883.3.464.1003.1011.json"  # real VSAC expansion, 15 codes
OSTEO = Path(sys.executable).parent / "osteoscreen"


def _run_cli(*args, cwd=None):
    return subprocess.run([str(OSTEO), *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=120)


def test_import_cli_writes_rows_with_source_and_merges(tmp_path):
    out = tmp_path / "myeloma.csv"
    out.write_text(
        "# concept: myeloma\n# source: curated list\nsystem,code,display,match,qualifier\n"
        "http://snomed.info/sct,277577000,Monoclonal gammopathy of uncertain significance,exact,\n"
        "http://snomed.info/sct,109989006,Multiple myeloma,exact,curated_qual\n",
        encoding="utf-8",
    )
    r = _run_cli("valuesets", "import", MYELOMA_VS, "--name", "myeloma", "--out", out, "--system", "snomed")
    assert r.returncode == 0, r.stderr
    assert "15 codes in the expansion, 12 selected, 11 added" in r.stdout
    first = out.read_text(encoding="utf-8")
    rows, meta = read_valueset_csv(out, {})
    assert meta["source"] == "curated list"  # the header is kept
    src = "http://cts.nlm.nih.gov/fhir/ValueSet/2.16.840.1.113883.3.464.1003.1011|20240112"
    by_code = {r.code: r for r in rows}
    assert by_code["277577000"].row_source == "curated"
    assert by_code["109989006"].row_source == "curated" and by_code["109989006"].qualifier == "curated_qual"
    assert by_code["413587002"].row_source == src  # smoldering myeloma: a descendant the curated list lacked
    assert len(rows) == 13 and len(by_code) == 13  # no code twice
    assert all(r.system == "http://snomed.info/sct" for r in rows)  # --system kept only SNOMED (no ICD rows)
    assert f"# imported: {src} (Multiple Myeloma" in first
    # re-running replaces the rows of this value set: same file, byte for byte
    assert _run_cli("valuesets", "import", MYELOMA_VS, "--name", "myeloma", "--out", out,
                    "--system", "snomed").returncode == 0
    assert out.read_text(encoding="utf-8") == first


def test_import_cli_errors_have_exit_codes(tmp_path):
    missing = _run_cli("valuesets", "import", tmp_path / "nope.json", "--name", "x", "--out", tmp_path / "x.csv")
    assert missing.returncode == 3 and "no such file" in missing.stderr
    notvs = tmp_path / "p.json"
    notvs.write_text(json.dumps({"resourceType": "Patient", "id": "x"}))
    bad = _run_cli("valuesets", "import", notvs, "--name", "x", "--out", tmp_path / "x.csv")
    assert bad.returncode == 5 and "not a FHIR ValueSet" in bad.stderr
    compose_only = tmp_path / "c.json"
    compose_only.write_text(json.dumps({"resourceType": "ValueSet", "url": "http://x/vs",
                                        "compose": {"include": [{"system": "http://snomed.info/sct"}]}}))
    unexpanded = _run_cli("valuesets", "import", compose_only, "--name", "x", "--out", tmp_path / "x.csv")
    assert unexpanded.returncode == 5 and "no expansion" in unexpanded.stderr
    assert not (tmp_path / "x.csv").exists()


def test_import_filters_and_qualifiers(tmp_path):
    from screening.codes.importer import ImportOptions, import_valueset, parse_qualify

    out = tmp_path / "mal.csv"
    vs = VSAC_DIR / "valueset-2.16.840.1.113883.3.464.1003.199.12.1050.json"  # Malabsorption Syndromes
    import_valueset(vs, out, ImportOptions("malabsorption", ["snomed"], "other",
                                           parse_qualify(["celiac|coeliac=celiac"]), None, "crohn|colitis"))
    rows, _ = read_valueset_csv(out, {})
    quals = {r.code: r.qualifier for r in rows}
    assert quals["396331005"] == "celiac" and quals["91867008"] == "celiac"  # celiac disease, adult form
    assert quals["26629001"] == "other"  # short bowel syndrome
    assert "34000006" not in quals and "64766004" not in quals  # Crohn's / UC excluded by --exclude
    with pytest.raises(ConfigError):
        parse_qualify(["no-equals-sign"])


def test_shipped_snomed_lists_are_the_published_expansions():
    """Reproducible: re-running every import of build_from_vsac.sh over the shipped lists changes nothing, and
    every published row names its value set; every SNOMED list row has a source."""
    from screening.codes.importer import SYSTEM_ALIASES, ImportOptions, import_valueset, parse_qualify

    script = (DEFAULT_CONFIG_DIR / "valuesets" / "build_from_vsac.sh").read_text(encoding="utf-8")
    commands = [shlex.split(line)[1:] for line in script.replace("\\\n", " ").splitlines()
                if line.startswith("imp ")]
    assert len(commands) >= 25
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for p in (DEFAULT_CONFIG_DIR / "valuesets").glob("*.csv"):
            shutil.copy(p, work / p.name)
        for cmd in commands:
            oid, rest = cmd[0], cmd[1:]
            opts: dict = {"systems": [], "qualify": [], "qualifier": "", "include": None, "exclude": None}
            out = name = None
            it = iter(rest)
            for flag in it:
                value = next(it)
                if flag == "--name":
                    name = value
                elif flag == "--out":
                    out = work / Path(value.replace("$V/", "")).name
                elif flag == "--system":
                    opts["systems"].append(SYSTEM_ALIASES.get(value, value))
                elif flag == "--qualify":
                    opts["qualify"].append(value)
                else:
                    opts[flag[2:]] = value
            import_valueset(VSAC_DIR / f"valueset-{oid}.json", out,
                            ImportOptions(name, opts["systems"], opts["qualifier"], parse_qualify(opts["qualify"]),
                                          opts["include"], opts["exclude"]))
        for p in sorted(work.glob("*.csv")):
            assert p.read_text(encoding="utf-8") == (DEFAULT_CONFIG_DIR / "valuesets" / p.name).read_text(
                encoding="utf-8"), f"{p.name} differs from a fresh import"
    sizes = {}
    for name in ("inflammatory_disease", "hyperthyroidism", "malabsorption", "myeloma", "hyperparathyroidism",
                 "cushing", "hypogonadism", "fracture", "hospice_palliative"):
        rows, _ = read_valueset_csv(DEFAULT_CONFIG_DIR / "valuesets" / f"{name}.csv", {})
        assert all(r.row_source for r in rows)
        sizes[name] = sum(1 for r in rows if r.system == "http://snomed.info/sct")
        assert any(r.row_source.startswith("http://cts.nlm.nih.gov/fhir/ValueSet/") for r in rows), name
    assert sizes["inflammatory_disease"] > 200  # the RA set alone has 141 SNOMED codes (7 before the import)
