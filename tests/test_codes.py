"""Code lists: CSV with a comment header, FHIR ValueSet expansions, local additions, normalisation."""

from __future__ import annotations

import json

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
