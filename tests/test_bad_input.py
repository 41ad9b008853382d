"""Issue 5: a corpus of bad records and files. Each kind sits between two good records in the same file;
the run completes, the good records load, the bad one is loaded or quarantined as documented (with file,
line, field and reason), and read = loaded + quarantined."""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson
import pytest

from screening.load import SourceError, load_source
from tests.conftest import write_ndjson


def _obs(oid: str = "bad", **over) -> dict:
    base = {"resourceType": "Observation", "id": oid, "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "85394-5"}]},
            "subject": {"reference": "Patient/p1"}, "effectiveDateTime": "2026-01-05",
            "valueQuantity": {"value": -2.1, "unit": "{Z-score}"}}
    base.update(over)
    return {k: v for k, v in base.items() if v is not None}


def _ms(**over) -> dict:
    base = {"resourceType": "MedicationStatement", "id": "bad", "status": "active",
            "medicationCodeableConcept": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                                                      "code": "312617"}]},
            "subject": {"reference": "Patient/p1"}, "effectivePeriod": {"start": "2025-01-01"},
            "dosage": [{"route": {"coding": [{"code": "26643006"}]},
                        "timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}},
                        "doseAndRate": [{"doseQuantity": {"value": 1, "unit": "TAB"}}]}]}
    base.update(over)
    return {k: v for k, v in base.items() if v is not None}


def _mr(**over) -> dict:
    base = {"resourceType": "MedicationRequest", "id": "bad", "status": "active", "intent": "order",
            "medicationCodeableConcept": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                                                      "code": "312617"}]},
            "subject": {"reference": "Patient/p1"}, "authoredOn": "2026-01-01",
            "dispenseRequest": {"expectedSupplyDuration": {"value": 30, "code": "d"}}}
    base.update(over)
    return base


def j(d: dict) -> bytes:
    return orjson.dumps(d)


EXT = [{"url": "http://example.org/x", "valueString": "y"}]

# (kind, file name, bad line(s) as bytes, expected: "loaded" | "quarantined" | "blank", quarantine field or None)
CASES = [
    ("truncated line", "Observation.ndjson", j(_obs())[:40], "quarantined", None),
    ("invalid JSON", "Observation.ndjson", b"{resourceType: Observation}", "quarantined", None),
    ("trailing garbage after JSON", "Observation.ndjson", j(_obs()) + b" xyz", "quarantined", None),
    ("invalid UTF-8", "Observation.ndjson", b'{"resourceType": "Observation", "id": "\xff\xfe"}', "quarantined",
     None),
    ("Windows-1252 bytes", "Observation.ndjson", j(_obs(code={"text": "caf\xe9"})).replace(b"\xc3\xa9", b"\xe9"),
     "quarantined", None),
    ("NUL byte inside a string", "Observation.ndjson", j(_obs()).replace(b"final", b"fi\x00nal"), "quarantined",
     None),
    ("BOM at line start", "Observation.ndjson", b"\xef\xbb\xbf" + j(_obs()), "loaded", None),
    ("CRLF line end", "Observation.ndjson", j(_obs()) + b"\r", "loaded", None),
    ("blank line", "Observation.ndjson", b"", "blank", None),
    ("whitespace-only line", "Observation.ndjson", b"   \t ", "blank", None),
    ("JSON array line", "Observation.ndjson", b"[1, 2, 3]", "quarantined", None),
    ("JSON scalar line", "Observation.ndjson", b"42", "quarantined", None),
    ("JSON null line", "Observation.ndjson", b"null", "quarantined", None),
    ("no resourceType", "Observation.ndjson", j({"id": "bad", "status": "final"}), "quarantined", "resourceType"),
    ("resourceType not a string", "Observation.ndjson", j({"resourceType": 7, "id": "bad"}), "quarantined",
     "resourceType"),
    ("wrong resourceType for the file", "Observation.ndjson", j({"resourceType": "Patient", "id": "bad"}),
     "quarantined", "resourceType"),
    ("unknown resourceType in a generic file", "data.ndjson", j({"resourceType": "FooBar", "id": "bad"}), "loaded",
     None),
    ("missing id", "Observation.ndjson", j(_obs(id=None)), "quarantined", "id"),
    ("id is a number", "Observation.ndjson", j(_obs(id=12)), "quarantined", "id"),
    ("id with illegal characters", "Observation.ndjson", j(_obs(id="a/b c")), "quarantined", "id"),
    ("id longer than 64", "Observation.ndjson", j(_obs(id="x" * 65)), "quarantined", "id"),
    ("missing subject", "Observation.ndjson", j(_obs(subject=None)), "quarantined", "subject"),
    ("subject is a Group", "Observation.ndjson", j(_obs(subject={"reference": "Group/g1"})), "quarantined",
     "subject"),
    ("dangling subject (Patient not in data)", "Observation.ndjson", j(_obs(subject={"reference": "Patient/zz"})),
     "loaded", None),
    ("urn:uuid subject that resolves nowhere", "Observation.ndjson",
     j(_obs(subject={"reference": "urn:uuid:0000"})), "quarantined", "subject"),
    ("absolute subject URL with _history", "Observation.ndjson",
     j(_obs(subject={"reference": "https://ehr.example/fhir/Patient/p1/_history/3"})), "loaded", None),
    ("missing status", "Observation.ndjson", j(_obs(status=None)), "quarantined", "status"),
    ("status outside the value set", "Observation.ndjson", j(_obs(status="done")), "quarantined", "status"),
    ("status not a string", "Observation.ndjson", j(_obs(status=["final"])), "quarantined", "status"),
    ("impossible date", "Observation.ndjson", j(_obs(effectiveDateTime="2023-02-30")), "quarantined",
     "effectiveDateTime"),
    ("date that is not a date", "Observation.ndjson", j(_obs(effectiveDateTime="yesterday")), "quarantined",
     "effectiveDateTime"),
    ("impossible lastUpdated", "Observation.ndjson", j(_obs(meta={"lastUpdated": "2026-13-01T00:00:00Z"})),
     "quarantined", "meta.lastUpdated"),
    ("partial date (year)", "Observation.ndjson", j(_obs(effectiveDateTime="2025")), "loaded", None),
    ("partial date (year-month)", "Observation.ndjson", j(_obs(effectiveDateTime="2025-07")), "loaded", None),
    ("dateTime with offset", "Observation.ndjson", j(_obs(effectiveDateTime="2026-01-05T23:30:00-05:00")), "loaded",
     None),
    ("dateTime without offset", "Observation.ndjson", j(_obs(effectiveDateTime="2026-01-05T10:00:00")), "loaded",
     None),
    ("period ending before it starts", "MedicationStatement.ndjson",
     j(_ms(effectivePeriod={"start": "2026-02-01", "end": "2025-01-01"})), "quarantined", "effectivePeriod"),
    ("number as string", "Observation.ndjson", j(_obs(valueQuantity={"value": "-2.1"})), "quarantined",
     "valueQuantity.value"),
    ("valueQuantity without value", "Observation.ndjson", j(_obs(valueQuantity={"unit": "{Z-score}"})), "loaded",
     None),
    ("unknown unit", "Observation.ndjson", j(_obs(valueQuantity={"value": 5, "unit": "furlongs"})), "loaded", None),
    ("unknown code system", "Observation.ndjson",
     j(_obs(code={"coding": [{"system": "urn:local:lab", "code": "ZZ"}]})), "loaded", None),
    ("extensions everywhere", "Observation.ndjson",
     j(_obs(extension=EXT, modifierExtension=EXT, _status={"extension": EXT},
            valueQuantity={"value": -2.0, "extension": EXT})), "loaded", None),
    ("contained resources", "MedicationStatement.ndjson",
     j(_ms(medicationCodeableConcept=None, medicationReference={"reference": "#m1"},
           contained=[{"resourceType": "Medication", "id": "m1",
                       "code": {"coding": [{"code": "312617"}]}}])), "loaded", None),
    ("dosage without timing", "MedicationStatement.ndjson",
     j(_ms(dosage=[{"doseAndRate": [{"doseQuantity": {"value": 5, "unit": "mg"}}]}])), "loaded", None),
    ("absurd dose (loaded; the screens treat it as dose unknown)", "MedicationStatement.ndjson",
     j(_ms(dosage=[{"doseAndRate": [{"doseQuantity": {"value": 50000, "unit": "TAB"}}]}])), "loaded", None),
    ("negative dose", "MedicationStatement.ndjson",
     j(_ms(dosage=[{"doseAndRate": [{"doseQuantity": {"value": -5, "unit": "mg"}}]}])), "quarantined",
     "dosage[0].doseAndRate[0].doseQuantity.value"),
    ("zero timing period", "MedicationStatement.ndjson",
     j(_ms(dosage=[{"timing": {"repeat": {"frequency": 1, "period": 0, "periodUnit": "d"}}}])), "quarantined",
     "dosage[0].timing.repeat.period"),
    ("negative supply duration", "MedicationRequest.ndjson",
     j(_mr(dispenseRequest={"expectedSupplyDuration": {"value": -30, "code": "d"}})), "quarantined",
     "dispenseRequest.expectedSupplyDuration.value"),
    ("zero supply duration", "MedicationRequest.ndjson",
     j(_mr(dispenseRequest={"expectedSupplyDuration": {"value": 0, "code": "d"}})), "quarantined",
     "dispenseRequest.expectedSupplyDuration.value"),
    ("Bundle inside an NDJSON file (entries load)", "data.ndjson",
     j({"resourceType": "Bundle", "type": "collection", "entry": [{"resource": _obs("inbundle")}]}), "loaded", None),
    ("Bundle entry that is not an object", "data.ndjson",
     j({"resourceType": "Bundle", "type": "collection", "entry": ["oops"]}), "quarantined", "entry[0]"),
    ("DELETE entry without url", "data.ndjson",
     j({"resourceType": "Bundle", "type": "transaction", "entry": [{"request": {"method": "DELETE"}}]}),
     "quarantined", "request.url"),
    ("duplicate JSON keys", "Observation.ndjson",
     b'{"resourceType": "Observation", "id": "bad", "id": "bad2", "status": "final", '
     b'"subject": {"reference": "Patient/p1"}, "code": {}}', "loaded", None),
    ("deeply nested extension", "Observation.ndjson",
     j(_obs(extension=[{"url": "u", "extension": [{"url": "v", "extension": [{"url": "w", "valueInteger": 1}]}]}])),
     "loaded", None),
]


@pytest.mark.parametrize("kind,fname,bad,expected,field", CASES, ids=[c[0] for c in CASES])
def test_bad_record_kind(con, tmp_path, kind, fname, bad, expected, field):
    good_before = _obs("good-1") if fname != "data.ndjson" else _obs("good-1")
    good_after = _obs("good-2")
    if fname.startswith("Medication"):
        good_before, good_after = (_ms(id="good-1") if fname.startswith("MedicationS") else _mr(id="good-1"),
                                   _ms(id="good-2") if fname.startswith("MedicationS") else _mr(id="good-2"))
    write_ndjson(tmp_path / fname, [j(good_before), bad, j(good_after)])
    r = load_source(con, tmp_path)
    assert r.records_read == r.loaded + r.quarantined
    ids = {row[0] for row in con.execute("SELECT id FROM resource_raw").fetchall()}
    assert {"good-1", "good-2"} <= ids, "good records in the same file must still load"
    quarantine = con.execute("SELECT source_file, source_line, field, reason FROM quarantine").fetchall()
    if expected == "quarantined":
        assert r.quarantined == 1 and len(quarantine) == 1
        qfile, qline, qfield, reason = quarantine[0]
        assert qfile.endswith(fname) and qline == 2 and reason
        if field is not None:
            assert qfield == field, reason
    elif expected == "blank":
        assert (r.quarantined, r.blank_lines, r.loaded) == (0, 1, 2)
    else:
        assert r.quarantined == 0 and r.loaded == 3, quarantine


def test_twenty_megabyte_line(con, tmp_path):
    big = _obs("big", code={"coding": [{"system": "http://loinc.org", "code": "85394-5"}], "text": "x" * 20_000_000})
    write_ndjson(tmp_path / "Observation.ndjson", [_obs("good-1"), big, _obs("good-2")])
    r = load_source(con, tmp_path)
    assert (r.loaded, r.quarantined) == (3, 0)
    (length,) = con.execute("SELECT length(code_text) FROM observation WHERE id = 'big'").fetchone()
    assert length == 20_000_000


def test_duplicate_ids_in_one_file_keep_the_last(con, tmp_path):
    write_ndjson(tmp_path / "Observation.ndjson", [_obs("d", valueQuantity={"value": -1.0}),
                                                   _obs("d", valueQuantity={"value": -3.0})])
    r = load_source(con, tmp_path)
    assert (r.records_read, r.loaded, r.inserted, r.unchanged) == (2, 2, 1, 1)
    assert con.execute("SELECT value_num FROM observation").fetchall() == [(-3.0,)]


def test_zero_byte_file_and_file_without_trailing_newline(con, tmp_path):
    (tmp_path / "Patient.ndjson").write_bytes(b"")
    (tmp_path / "Observation.ndjson").write_bytes(j(_obs("a")) + b"\n" + j(_obs("b")))
    r = load_source(con, tmp_path)
    assert (r.files, r.loaded, r.quarantined) == (2, 2, 0)


def test_empty_gzip_and_corrupt_gzip(con, tmp_path):
    (tmp_path / "Patient.ndjson.gz").write_bytes(gzip.compress(b""))
    (tmp_path / "Observation.ndjson.gz").write_bytes(b"\x1f\x8b\x08\x00garbage")
    r = load_source(con, tmp_path)
    assert (r.loaded, r.quarantined) == (0, 1)
    (f, line, reason) = con.execute("SELECT source_file, source_line, reason FROM quarantine").fetchone()
    assert f.endswith("Observation.ndjson.gz") and line is None and "unreadable file" in reason


def test_directory_with_no_fhir_files(con, tmp_path):
    (tmp_path / "readme.txt").write_text("nothing here")
    (tmp_path / "manifest.json").write_text("{}")
    with pytest.raises(SourceError, match="no FHIR files"):
        load_source(con, tmp_path)


def test_unreadable_file_is_quarantined_not_fatal(con, tmp_path):
    import os

    write_ndjson(tmp_path / "Patient.ndjson", [{"resourceType": "Patient", "id": "p1"}])
    locked = write_ndjson(tmp_path / "Observation.ndjson", [_obs("x")])
    os.chmod(locked, 0)
    try:
        if os.access(locked, os.R_OK):  # root reads anything: make the file unreadable another way
            os.chmod(locked, 0o644)
            locked.unlink()
            locked.mkdir()  # a folder named like a file: reading it fails
            (locked / "inner.txt").write_text("x")
        r = load_source(con, tmp_path)
    finally:
        if locked.is_file():
            os.chmod(locked, 0o644)
    assert r.loaded == 1
    assert r.records_read == r.loaded + r.quarantined


def test_corpus_size():
    """The issue asks for at least 40 kinds; count the parametrized ones plus the file-level tests above."""
    assert len(CASES) + 6 >= 40
    assert len({c[0] for c in CASES}) == len(CASES)


def test_kinds_doc_lists_nothing_unknown():
    assert all(isinstance(c[2], bytes) for c in CASES)
    assert {c[3] for c in CASES} <= {"loaded", "quarantined", "blank"}


def test_paths_are_reported_as_given(con, tmp_path):
    write_ndjson(tmp_path / "sub" / "Observation.ndjson", [b"{oops"])
    load_source(con, tmp_path)
    (f,) = con.execute("SELECT source_file FROM quarantine").fetchone()
    assert Path(f) == tmp_path / "sub" / "Observation.ndjson"
