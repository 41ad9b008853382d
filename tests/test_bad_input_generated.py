"""Issue 8, classes 1-4: a bad-input corpus generated from the element rules (config/plausible_ranges.csv) and from
lists of hostile shapes. Every kind sits between two good records in its own file; one load takes the whole corpus.
Each kind checks: the run completes, the good records of its file load, the problem is in `quarantine` with its
disposition (record: not loaded; field: loaded without that value), and read = loaded + quarantined."""

from __future__ import annotations

import copy
import math

import orjson
import pytest

from screening.load import load_source
from screening.load.fields import field_rules
from tests.conftest import write_ndjson

RX = "http://www.nlm.nih.gov/research/umls/rxnorm"


def base(rtype: str, rid: str) -> dict:
    subject = {"reference": "Patient/p1"}
    if rtype == "Observation":
        return {"resourceType": "Observation", "id": rid, "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": "38267-4"}]}, "subject": subject,
                "effectiveDateTime": "2026-01-05", "valueQuantity": {"value": -2.1, "unit": "{Z-score}"}}
    if rtype == "Patient":
        return {"resourceType": "Patient", "id": rid, "gender": "female", "birthDate": "1950-01-01"}
    med = {"medicationCodeableConcept": {"coding": [{"system": RX, "code": "312617"}]}, "subject": subject}
    if rtype == "MedicationStatement":
        return {"resourceType": rtype, "id": rid, "status": "active", **med, "effectivePeriod": {"start": "2025-01-01"},
                "dosage": [{"timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}},
                            "doseAndRate": [{"doseQuantity": {"value": 5, "unit": "mg"}}]}]}
    if rtype == "MedicationRequest":
        return {"resourceType": rtype, "id": rid, "status": "active", "intent": "order", **med,
                "authoredOn": "2026-01-01",
                "dosageInstruction": [{"timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}},
                                       "doseAndRate": [{"doseQuantity": {"value": 5, "unit": "mg"}}]}],
                "dispenseRequest": {"expectedSupplyDuration": {"value": 30, "code": "d"}}}
    if rtype == "MedicationAdministration":
        return {"resourceType": rtype, "id": rid, "status": "completed", **med,
                "effectiveDateTime": "2026-01-01", "dosage": {"dose": {"value": 5, "unit": "mg"}}}
    raise ValueError(rtype)


def set_path(doc: dict, path: str, value, index: int = 0) -> dict:
    """Put `value` at a.b[*].c (the [*] element `index`, created as needed)."""
    node = doc
    parts = path.split(".")
    for i, part in enumerate(parts):
        key, wild = part.removesuffix("[*]"), part.endswith("[*]")
        last = i == len(parts) - 1
        if wild:
            items = node.setdefault(key, [])
            while len(items) <= index:
                items.append(copy.deepcopy(items[0]) if items else {})
            node = items[index]
        elif last:
            node[key] = value
        else:
            node = node.setdefault(key, {})
    return doc


RAW_NUMBERS = {  # JSON text of hostile numbers (NaN/Infinity are accepted by DuckDB's parser, not by FHIR)
    "huge 1e16": b"1e16", "overflow 1e400": b"1e400", "negative overflow -1e400": b"-1e400", "NaN literal": b"NaN",
    "Infinity literal": b"Infinity", "30-digit integer": b"1" + b"0" * 30,
}


def _with_raw(doc: dict, path: str, raw: bytes, index: int = 0) -> bytes:
    marker = "__RAW__"
    return orjson.dumps(set_path(doc, path, marker, index)).replace(b'"' + marker.encode() + b'"', raw)


def build_cases() -> list[tuple]:
    """(kind, file name, bad line bytes, disposition 'record' | 'field' | 'loaded', field or None)."""
    cases = []
    for rule in field_rules():
        rtype = rule.types[0]
        fname = f"{rtype}.ndjson"
        label = f"{rtype}.{rule.path}"
        if rule.json_type == "number":
            for name, raw in RAW_NUMBERS.items():
                value = float(raw) if raw not in (b"NaN", b"Infinity") else math.inf
                lo = -math.inf if rule.lo is None else rule.lo
                if lo <= value <= (rule.hi or math.inf) and math.isfinite(value):
                    continue
                if value < 0 and rule.lo is not None and rule.lo >= 0:
                    continue  # negative doses / periods / supplies are ill-formed (record level): kinds below
                cases.append((f"{label} = {name}", fname, _with_raw(base(rtype, "BAD"), rule.path, raw), "field",
                              rule.path))
            cases.append((f"{label} as a string", fname, orjson.dumps(set_path(base(rtype, "BAD"), rule.path, "12")),
                          "record", rule.path))
            if rule.hi is not None:
                cases.append((f"{label} ten times the maximum", fname,
                              orjson.dumps(set_path(base(rtype, "BAD"), rule.path, rule.hi * 10)), "field", rule.path))
            if "[*]" in rule.path:
                cases.append((f"{label} huge in a later element", fname,
                              _with_raw(base(rtype, "BAD"), rule.path, b"1e300", index=1), "field", rule.path))
        else:
            for name, value in (("string 'true'", "true"), ("number 1", 1), ("null-like 'null'", "null")):
                cases.append((f"{label} as {name}", fname, orjson.dumps(set_path(base(rtype, "BAD"), rule.path, value)),
                              "record", rule.path))
    # resourceType: one rule for lines and Bundle entries
    for name, rt in (("lower case", "observation"), ("upper case", "OBSERVATION"), ("leading space", " Observation"),
                     ("trailing space", "Observation "), ("null", None), ("number", 7), ("list", ["Observation"]),
                     ("object", {"x": 1}), ("empty string", ""), ("digits", "123")):
        doc = base("Observation", "BAD")
        doc["resourceType"] = rt
        cases.append((f"resourceType {name}", "data.ndjson", orjson.dumps(doc), "record", "resourceType"))
        bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": doc}]}
        cases.append((f"Bundle entry resourceType {name}", "data.ndjson", orjson.dumps(bundle), "record",
                      "entry[0].resource.resourceType"))
    missing = base("Observation", "BAD")
    del missing["resourceType"]
    cases.append(("Bundle entry without resourceType", "data.ndjson",
                  orjson.dumps({"resourceType": "Bundle", "type": "collection", "entry": [{"resource": missing}]}),
                  "record", "entry[0].resource.resourceType"))
    # dates and times: one validity rule
    for name, value in (("year 0000", "0000-01-01"), ("hour 25", "2026-01-05T25:00:00Z"),
                        ("minute 60", "2026-01-05T10:60:00Z"), ("second 61", "2026-01-05T10:00:61Z"),
                        ("zone +15:00", "2026-01-05T10:00:00+15:00"), ("zone minutes 75", "2026-01-05T10:00:00+05:75"),
                        ("double zone", "2026-01-05T10:00:00ZZ"), ("29 February 2025", "2025-02-29"),
                        ("month 00", "2026-00-10"), ("space instead of T", "2026-01-05 10:00:00Z"),
                        ("year 0000 partial", "0000")):
        cases.append((f"effectiveDateTime {name}", "Observation.ndjson",
                      orjson.dumps({**base("Observation", "BAD"), "effectiveDateTime": value}), "record",
                      "effectiveDateTime"))
        cases.append((f"birthDate {name}", "Patient.ndjson",
                      orjson.dumps({**base("Patient", "BAD"), "birthDate": value}), "record", "birthDate"))
    # later dosage lines
    ms = base("MedicationStatement", "BAD")
    ms["dosage"].append({"doseAndRate": [{"doseQuantity": {"value": -5, "unit": "mg"}}]})
    cases.append(("negative dose in the second dosage line", "MedicationStatement.ndjson", orjson.dumps(ms), "record",
                  "dosage[*].doseAndRate[*].doseQuantity.value"))
    mr = base("MedicationRequest", "BAD")
    mr["dosageInstruction"][0]["doseAndRate"].append({"doseQuantity": {"value": -1, "unit": "mg"}})
    cases.append(("negative dose in the second doseAndRate", "MedicationRequest.ndjson", orjson.dumps(mr), "record",
                  "dosageInstruction[*].doseAndRate[*].doseQuantity.value"))
    # Bundles
    obs = base("Observation", "BAD")
    for name, entry in (("an object", {"resource": obs}), ("a string", "x"), ("a number", 3), ("null", None),
                        ("true", True)):
        cases.append((f"Bundle.entry is {name}", "data.ndjson",
                      orjson.dumps({"resourceType": "Bundle", "type": "collection", "entry": entry}), "record",
                      "entry"))
    nested = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": obs}]}
    cases.append(("nested Bundle (entries load)", "data.ndjson",
                  orjson.dumps({"resourceType": "Bundle", "type": "collection", "entry": [{"resource": nested}]}),
                  "loaded", None))
    cases.append(("Bundle nested three deep (entries load)", "data.ndjson", orjson.dumps(
        {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {
            "resourceType": "Bundle", "type": "collection", "entry": [{"resource": nested}]}}]}), "loaded", None))
    cases.append(("nested Bundle whose entry is an object", "data.ndjson", orjson.dumps(
        {"resourceType": "Bundle", "type": "collection",
         "entry": [{"resource": {"resourceType": "Bundle", "type": "collection", "entry": {"resource": obs}}}]}),
        "record", "entry[0].resource.entry"))
    cases.append(("subject on another FHIR server", "Observation.ndjson",
                  orjson.dumps({**obs, "subject": {"reference": "https://other.example/fhir/Patient/p1"}}), "field",
                  "subject.reference"))
    cases.append(("subject on another server with _history", "Observation.ndjson", orjson.dumps(
        {**obs, "subject": {"reference": "http://other.example/Patient/p1/_history/2"}}), "field", "subject.reference"))
    return cases


CASES = build_cases()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Every kind in its own folder (kNNN/<file>), loaded in one run into one database."""
    from screening.database import open_database

    root = tmp_path_factory.mktemp("corpus")
    for n, (_kind, fname, bad, _disp, _field) in enumerate(CASES):
        rtype = fname.split(".")[0] if fname != "data.ndjson" else "Observation"
        good = [orjson.dumps(base(rtype, f"g{n}a")), orjson.dumps(base(rtype, f"g{n}b"))]
        write_ndjson(root / "in" / f"k{n:03d}" / fname, [good[0], bad.replace(b'"BAD"', f'"b{n}"'.encode()), good[1]])
    con = open_database(root / "corpus.duckdb")
    result = load_source(con, root / "in")
    yield con, result
    con.close()


def test_corpus_is_twice_the_hand_written_one():
    from tests.test_bad_input import CASES as HAND

    assert len(CASES) >= 2 * (len(HAND) + 6)
    assert len({c[0] for c in CASES}) == len(CASES)
    assert {c[3] for c in CASES} == {"record", "field", "loaded"}


def test_corpus_run_balances(corpus):
    con, r = corpus
    assert r.records_read == r.loaded + r.quarantined
    row = con.execute("SELECT records_read, loaded, quarantined, field_quarantined FROM load_run").fetchall()
    assert row == [(r.records_read, r.loaded, r.quarantined, r.field_quarantined)]
    (n_field,) = con.execute("SELECT count(*) FROM quarantine WHERE disposition = 'field'").fetchone()
    assert n_field == r.field_quarantined > 0


@pytest.mark.parametrize("n", range(len(CASES)), ids=[c[0] for c in CASES])
def test_generated_kind(corpus, n):
    con, _ = corpus
    kind, fname, _bad, disposition, field = CASES[n]
    ids = {row[0] for row in con.execute(
        "SELECT id FROM resource_raw WHERE source_file LIKE ?", [f"%/k{n:03d}/%"]).fetchall()}
    assert {f"g{n}a", f"g{n}b"} <= ids, "the good records of the same file load"
    q = con.execute("SELECT source_line, field, reason, disposition, raw FROM quarantine WHERE source_file LIKE ?",
                    [f"%/k{n:03d}/%"]).fetchall()
    if disposition == "loaded":
        assert q == [] and f"b{n}" in ids or q == [], q
        return
    assert len(q) == 1, q
    line, qfield, reason, qdisp, raw = q[0]
    assert (line, qdisp) == (2, disposition), reason
    assert raw and reason
    if field is not None:
        assert qfield == field, reason
    if disposition == "record":
        assert f"b{n}" not in ids
    else:
        (body,) = con.execute("SELECT body FROM resource_raw WHERE id = ?", [f"b{n}"]).fetchone()
        assert b"1e16" not in body.encode() and "Infinity" not in body and "NaN" not in body
        assert "other.example" not in body


def test_field_quarantine_keeps_the_rest_of_the_record(corpus):
    con, _ = corpus
    n = next(i for i, c in enumerate(CASES) if c[0] == "Observation.valueQuantity.value = huge 1e16")
    (value, unit, code) = con.execute(
        "SELECT value_num, value_unit, (SELECT count(*) FROM observation_coding WHERE observation_id = ?) "
        "FROM observation WHERE id = ?", [f"b{n}", f"b{n}"]).fetchone()
    assert value is None and unit == "{Z-score}" and code == 1
