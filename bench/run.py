"""Load-throughput benchmark: osteoscreen's loader against baselines measured in the same run, as ratios.

Baselines (same machine, same file, same process):
  duckdb_plain  DuckDB read_json with an explicit schema into one flat table: no quarantine, no versions.
  orjson_loop   orjson.loads of every line in a Python loop: the cost of touching each record in Python.
  fhir_models   fhir.resources R4B validation (the way we do NOT load), on a sample, as records/s.
Usage: python bench/run.py [--resources 200000] [--out bench/results/latest.md]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from screening.database import open_database  # noqa: E402
from screening.load import load_source  # noqa: E402


def make_data(folder: Path, n: int, seed: int = 7) -> Path:
    rng = random.Random(seed)
    loincs = ["85394-5", "80933-5", "38267-1", "2160-0", "62292-8", "17861-6", "3016-3", "4548-4"]
    path = folder / "Observation.ndjson"
    with open(path, "wb") as fh:
        for i in range(n):
            fh.write(orjson.dumps({
                "resourceType": "Observation", "id": f"o{i}", "status": "final",
                "meta": {"versionId": "1", "lastUpdated": "2026-01-01T00:00:00Z"},
                "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                          "code": "laboratory"}]}],
                "code": {"coding": [{"system": "http://loinc.org", "code": rng.choice(loincs)}]},
                "subject": {"reference": f"Patient/p{i % 5000}"},
                "effectiveDateTime": f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T08:00:00-05:00",
                "valueQuantity": {"value": round(rng.uniform(-4, 120), 2), "unit": "1",
                                  "system": "http://unitsofmeasure.org", "code": "1"},
                "referenceRange": [{"low": {"value": 1.0}, "high": {"value": 10.0}}],
            }) + b"\n")
    return path


def timed(fn, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--resources", type=int, default=200_000)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "latest.md")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = make_data(tmp, args.resources)
        n = args.resources

        def ours():
            db = tmp / f"ours-{time.monotonic_ns()}.duckdb"
            con = open_database(db)
            r = load_source(con, data)
            con.close()
            assert r.loaded == n

        def duckdb_plain():
            con = duckdb.connect(str(tmp / f"plain-{time.monotonic_ns()}.duckdb"))
            con.execute("SET enable_progress_bar = false")
            con.execute(f"""CREATE TABLE obs AS SELECT id, status, subject.reference AS subject,
                effectiveDateTime, valueQuantity.value AS value FROM read_json('{data}',
                format='newline_delimited', columns={{id: 'VARCHAR', status: 'VARCHAR',
                subject: 'STRUCT(reference VARCHAR)', effectiveDateTime: 'VARCHAR',
                valueQuantity: 'STRUCT(value DOUBLE)'}})""")
            con.close()

        def orjson_loop():
            with open(data, "rb") as fh:
                for line in fh:
                    orjson.loads(line)

        sample = 2000

        def fhir_models():
            from fhir.resources.R4B.observation import Observation

            with open(data, "rb") as fh:
                for _, line in zip(range(sample), fh, strict=False):
                    Observation.model_validate_json(line)

        size_mb = data.stat().st_size / 1e6
        results = {
            "osteoscreen load_source (quarantine + versions + typed tables)": n / timed(ours),
            "baseline duckdb_plain (read_json explicit schema, 1 flat table)": n / timed(duckdb_plain),
            "baseline orjson_loop (parse each line in Python, nothing stored)": n / timed(orjson_loop),
            "baseline fhir_models (fhir.resources R4B validation, 2,000 sample)": sample / timed(fhir_models, 1),
        }
    ours_rate = results["osteoscreen load_source (quarantine + versions + typed tables)"]
    lines = [f"# Load benchmark ({n:,} Observations, {size_mb:.0f} MB NDJSON)", "",
             "| method | resources/s | osteoscreen / method |", "|---|---:|---:|"]
    for name, rate in results.items():
        lines.append(f"| {name} | {rate:,.0f} | {ours_rate / rate:.2f}x |")
    text = "\n".join(lines) + "\n"
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)


if __name__ == "__main__":
    main()
