"""Property-based: mutate valid resources at random; the load completes, every untouched record loads,
and read = loaded + quarantined. Input order and file splitting do not change what is stored."""

from __future__ import annotations

import random

import duckdb
import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from screening.db import ensure_schema
from screening.load import load_source
from tests.conftest import write_ndjson


def valid(i: int) -> dict:
    return {"resourceType": "Observation", "id": f"ok-{i}", "status": "final",
            "meta": {"versionId": str(i % 3 + 1), "lastUpdated": "2026-01-01T00:00:00Z"},
            "code": {"coding": [{"system": "http://loinc.org", "code": "85394-5"}]},
            "subject": {"reference": f"Patient/p{i % 4}"}, "effectiveDateTime": "2026-01-05",
            "valueQuantity": {"value": -2.0 - i / 10, "unit": "{Z-score}"}}


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=6,
)
FIELDS = ["resourceType", "id", "status", "subject", "effectiveDateTime", "valueQuantity", "meta", "code"]


@st.composite
def mutation(draw):
    kind = draw(st.sampled_from(["drop", "replace", "bytes", "truncate"]))
    return kind, draw(st.sampled_from(FIELDS)), draw(JSON_VALUES), draw(st.binary(max_size=20)), draw(
        st.integers(0, 300))


def mutate(rec: dict, m) -> bytes:
    kind, field, value, junk, cut = m
    if kind == "drop":
        rec = {k: v for k, v in rec.items() if k != field}
        return orjson.dumps(rec)
    if kind == "replace":
        rec = {**rec, field: value}
        return orjson.dumps(rec)
    raw = orjson.dumps(rec)
    if kind == "bytes":
        return (raw[:cut] + junk + raw[cut:]).replace(b"\n", b" ")
    return raw[:cut]


def fresh_db():
    con = duckdb.connect(":memory:")
    con.execute("SET enable_progress_bar = false")
    ensure_schema(con)
    return con


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mutations=st.lists(mutation(), min_size=1, max_size=6), seed=st.integers(0, 1000))
def test_mutated_records_never_break_the_invariants(tmp_path_factory, mutations, seed):
    folder = tmp_path_factory.mktemp("mut")
    rng = random.Random(seed)
    lines, untouched = [], set()
    for i in range(12):
        lines.append(orjson.dumps(valid(i)))
        untouched.add(f"ok-{i}")
    for n, m in enumerate(mutations):
        victim = valid(100 + n)
        lines.insert(rng.randrange(len(lines) + 1), mutate(victim, m))
    write_ndjson(folder / "Observation.ndjson", lines)
    con = fresh_db()
    r = load_source(con, folder)
    assert r.records_read == r.loaded + r.quarantined
    assert r.records_read + r.blank_lines == len(lines)
    stored = {row[0] for row in con.execute("SELECT id FROM resource_raw").fetchall()}
    assert untouched <= stored
    (q,) = con.execute("SELECT count(*) FROM quarantine WHERE reason IS NULL OR reason = ''").fetchone()
    assert q == 0


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10_000), parts=st.integers(1, 5))
def test_order_and_file_splitting_do_not_change_the_stored_data(tmp_path_factory, seed, parts):
    recs = [valid(i) for i in range(20)] + [{**valid(3), "meta": {"versionId": "9"}, "status": "amended"}]
    rng = random.Random(seed)
    shuffled = recs[:]
    rng.shuffle(shuffled)
    a = tmp_path_factory.mktemp("a")
    write_ndjson(a / "Observation.ndjson", recs)
    b = tmp_path_factory.mktemp("b")
    for k in range(parts):
        write_ndjson(b / f"Observation.{k:03d}.ndjson", shuffled[k::parts])
    snapshots = []
    for folder in (a, b):
        con = fresh_db()
        load_source(con, folder)
        snapshots.append(con.execute(
            "SELECT id, status, value_num FROM observation ORDER BY id").fetchall())
    assert snapshots[0] == snapshots[1]
    assert ("ok-3", "amended", -2.3) in snapshots[0]
