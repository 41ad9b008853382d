"""Population benchmark: every stage measured in ONE run on the SAME files, each in its own process so that peak RSS
comes from the OS (getrusage of the child), as ratios against DuckDB alone reading the same files (the floor).

    python bench/bench.py --patients 10000      (make bench; make bench BENCH_PATIENTS=1000000)

Stages: floor (read_ndjson, 9 explicit columns, into a table) | load | screen | export | end to end through the CLI
(Prefect start-up measured apart) | unchanged re-run | +1% delta | fhir.resources R4B + pandas json_normalize
(time-capped, extrapolated per resource: said so in the output). The population comes from the project's generator
and is cached in bench/cache/. Results: a table on stdout and bench/results/<date>-<size>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import textwrap
import time
from datetime import UTC, date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
AS_OF = date(2026, 6, 30)
PY = sys.executable

FLOOR = """
import duckdb, glob, sys
con = duckdb.connect(sys.argv[2], config={"autoinstall_known_extensions": False, "memory_limit": "2GiB"})
con.execute("SET enable_progress_bar = false")
files = [f for f in glob.glob(sys.argv[1] + "/*.ndjson")]
con.execute(f'''CREATE TABLE floor AS SELECT * FROM read_ndjson({files!r}, columns={{
  resourceType: 'VARCHAR', id: 'VARCHAR', meta: 'STRUCT(versionId VARCHAR, lastUpdated VARCHAR)',
  status: 'VARCHAR', subject: 'STRUCT(reference VARCHAR)', code: 'STRUCT(coding STRUCT(system VARCHAR,
  code VARCHAR)[])', effectiveDateTime: 'VARCHAR', valueQuantity: 'STRUCT(value DOUBLE, unit VARCHAR)',
  authoredOn: 'VARCHAR'}}, ignore_errors=true, maximum_object_size=67108864)''')
print("records", con.execute("SELECT count(*) FROM floor").fetchone()[0])
"""

LOAD = """
import sys
from pathlib import Path
from screening.database import open_database
from screening.load import load_source
con = open_database(Path(sys.argv[2]))
r = load_source(con, Path(sys.argv[1]))
print("records", r.records_read, "skipped", r.files_skipped, "inserted", r.inserted, "replaced", r.replaced,
      "unchanged", r.unchanged)
"""

SCREEN = """
import sys
from datetime import date
from pathlib import Path
from screening.pipeline import screen_step
screen_step(Path(sys.argv[2]), date.fromisoformat(sys.argv[3]))
"""

EXPORT = """
import sys
from pathlib import Path
from screening.pipeline import export_step
r = export_step(Path(sys.argv[2]), Path(sys.argv[3]))
print("listed", r["listed"])
"""

PREFECT_STARTUP = """
from prefect import flow
@flow
def noop():
    return 1
noop()
"""

BASELINE = """
import sys, time, glob
import pandas as pd
from fhir.resources.R4B import get_fhir_model_class
cap = float(sys.argv[2])
t0 = time.perf_counter(); n = 0; rows = []
for path in sorted(glob.glob(sys.argv[1] + "/*.ndjson")):
    with open(path, "rb") as fh:
        for line in fh:
            import orjson
            d = orjson.loads(line)
            get_fhir_model_class(d["resourceType"]).model_validate(d)
            rows.append(d); n += 1
            if n % 500 == 0:
                pd.json_normalize(rows); rows = []
                if time.perf_counter() - t0 > cap:
                    break
    if time.perf_counter() - t0 > cap:
        break
if rows:
    pd.json_normalize(rows)
print("records", n)
"""

# Peak RSS and wall time of a child process, from the OS.
WRAP = r"""
import resource, runpy, sys, time
t = time.perf_counter()
code = sys.argv[1]
sys.argv = ["stage"] + sys.argv[2:]
exec(compile(code, "stage", "exec"), {"__name__": "__main__"})
print("__elapsed", time.perf_counter() - t)
try:  # the process's own peak: ru_maxrss after (v)fork + exec starts from the parent's high-water mark on Linux
    import re
    print("__maxrss_kib", re.search(r"VmHWM:\s*(\d+)", open("/proc/self/status").read()).group(1))
except OSError:
    print("__maxrss_kib", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def stage(name: str, code: str, *args: str, env: dict | None = None) -> dict:
    out = subprocess.run([PY, "-c", WRAP, textwrap.dedent(code), *map(str, args)], capture_output=True, text=True,
                         cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})
    if out.returncode != 0:
        raise SystemExit(f"{name} failed:\n{out.stderr[-3000:]}")
    info: dict = {"stage": name}
    for line in out.stdout.splitlines():
        parts = line.split()
        if parts and parts[0] == "__elapsed":
            info["seconds"] = float(parts[1])
        elif parts and parts[0] == "__maxrss_kib":
            info["peak_rss_mib"] = int(parts[1]) / 1024
        elif len(parts) >= 2 and len(parts) % 2 == 0:
            for k, v in zip(parts[::2], parts[1::2], strict=True):
                info[k] = int(v) if v.lstrip("-").isdigit() else v
    print(f"  {name:<28} {info.get('seconds', 0):8.1f} s  {info.get('peak_rss_mib', 0):8.0f} MiB", flush=True)
    return info


def population(patients: int, seed: int) -> Path:
    """Generated once per (size, seed) with the project's generator; reused by later runs."""
    # Built around the benchmark's as-of date, so that its ground truth holds for the screens (stage ground_truth).
    folder = ROOT / "bench" / "cache" / f"{patients}-{seed}-{AS_OF.isoformat()}"
    if not (folder / "ground_truth.csv").exists():
        print(f"generating {patients} patients -> {folder}", flush=True)
        subprocess.run([str(ROOT / ".venv" / "bin" / "osteoscreen"), "synth", "--patients", str(patients),
                        "--seed", str(seed), "--as-of", AS_OF.isoformat(), "--out", str(folder)], check=True,
                       capture_output=True)
    return folder


def delta_file(src: Path, dest: Path, fraction: float) -> int:
    """+fraction new resources: copies of the first Observations with new ids (same patients)."""
    total = sum(1 for p in src.glob("*.ndjson") for _ in open(p, "rb"))
    want = max(1, int(total * fraction))
    n = 0
    with open(src / "Observation.ndjson", "rb") as fh, open(dest / "Observation.delta.ndjson", "wb") as out:
        for line in fh:
            d = json.loads(line)
            d["id"] = f"delta-{n}"
            out.write(json.dumps(d).encode() + b"\n")
            n += 1
            if n >= want:
                break
    return n


def ground_truth_stage(src: Path, out: Path) -> dict:
    """Correctness at scale: the export stage's worklist against the generator's ground truth (bench/ground_truth)."""
    sys.path.insert(0, str(ROOT / "bench"))
    from ground_truth import compare

    info = {"stage": "ground truth", **compare(src / "ground_truth.csv", out / "worklist.csv")}
    print(f"  {'ground truth vs worklist':<28} {info['listed_match']} of {info['expected_listed']} expected listed "
          f"match, {info['mismatches']} mismatches ({info['listed']} listed, {info['patients']} patients)",
          flush=True)
    return info


def screen_stages(r: dict, src: Path, db: Path) -> None:
    """The screens apart: unchanged (skipped), then the nightly case (as-of moves, data unchanged: a full screen)."""
    r["unchanged_screen"] = stage("unchanged re-screen (skip)", SCREEN, src, db, AS_OF.isoformat())
    r["next_day_screen"] = stage("screen, as-of + 1 day (full)", SCREEN, src, db,
                                 date.fromordinal(AS_OF.toordinal() + 1).isoformat())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--patients", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--baseline-seconds", type=float, default=30.0)
    ap.add_argument("--work", type=Path, default=ROOT / "bench" / "work")
    args = ap.parse_args()

    src = population(args.patients, args.seed)
    files = sorted(src.glob("*.ndjson"))
    resources = sum(1 for p in files for _ in open(p, "rb"))
    size_mb = sum(p.stat().st_size for p in files) / 1e6
    work = args.work / str(args.patients)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    print(f"{args.patients} patients, {resources} resources, {size_mb:.0f} MB NDJSON ({len(files)} files)")

    r = {}
    r["floor"] = stage("floor (read_ndjson)", FLOOR, src, work / "floor.duckdb")
    db = work / "db" / "o.duckdb"
    db.parent.mkdir()
    r["load"] = stage("load", LOAD, src, db)
    r["screen"] = stage("screen", SCREEN, src, db, AS_OF.isoformat())
    r["export"] = stage("export", EXPORT, src, db, work / "out")
    r["ground_truth"] = ground_truth_stage(src, work / "out")
    r["unchanged_load"] = stage("unchanged re-load", LOAD, src, db)
    screen_stages(r, src, db)
    delta_src = work / "delta_src"
    shutil.copytree(src, delta_src)
    delta_db = work / "delta" / "o.duckdb"
    delta_db.parent.mkdir()
    stage("(delta: first load)", LOAD, delta_src, delta_db)
    added = delta_file(src, delta_src, 0.01)
    r["delta_load"] = stage(f"+1% delta load ({added})", LOAD, delta_src, delta_db)
    r["prefect_startup"] = stage("Prefect start-up (empty flow)", PREFECT_STARTUP)
    e2e_db = work / "e2e" / "o.duckdb"
    t = time.perf_counter()
    subprocess.run([str(ROOT / ".venv" / "bin" / "osteoscreen"), "run", "--source", str(src), "--db", str(e2e_db),
                    "--out", str(work / "e2e-out"), "--as-of", AS_OF.isoformat()], check=True, capture_output=True,
                   cwd=ROOT)
    r["end_to_end_cli"] = {"stage": "end to end (CLI)", "seconds": time.perf_counter() - t}
    print(f"  {'end to end (CLI)':<28} {r['end_to_end_cli']['seconds']:8.1f} s")
    r["baseline"] = stage("fhir.resources + pandas", BASELINE, src, args.baseline_seconds)

    floor_s, load_s = r["floor"]["seconds"], r["load"]["seconds"]
    base_rate = r["baseline"]["records"] / r["baseline"]["seconds"]
    # `osteoscreen run` without PREFECT_API_URL runs the flow's plain functions and starts no Prefect server, so
    # the CLI time is already "without Prefect start-up" (subtracting the empty-flow start-up went negative at 10k).
    e2e_wo = r["end_to_end_cli"]["seconds"]
    ratios = {
        "load_speed_vs_floor": floor_s / load_s,
        "end_to_end_cli_no_prefect_server_vs_floor_time": e2e_wo / floor_s,
        "load_vs_fhir_resources_pandas_speed (baseline extrapolated)": (resources / load_s) / base_rate,
        "unchanged_reload_speedup": load_s / r["unchanged_load"]["seconds"],
        "unchanged_run_speedup (load+screen)": (load_s + r["screen"]["seconds"])
        / (r["unchanged_load"]["seconds"] + r["unchanged_screen"]["seconds"]),
        "delta_1pct_cost_vs_full_load": r["delta_load"]["seconds"] / load_s,
        "screen_vs_floor_time": r["screen"]["seconds"] / floor_s,
        "next_day_screen_vs_floor_time": r["next_day_screen"]["seconds"] / floor_s,
        "ground_truth_mismatches": r["ground_truth"]["mismatches"],
        "peak_rss_load_mib": r["load"]["peak_rss_mib"],
    }
    print("\n| figure | value |\n|---|---:|")
    for k, v in ratios.items():
        print(f"| {k} | {v:.2f} |")
    print(f"| load resources/s | {resources / load_s:,.0f} |\n| load MB/s | {size_mb / load_s:.1f} |"
          f"\n| load patients/s | {args.patients / load_s:,.0f} |")
    print(f"(fhir.resources + pandas: {r['baseline']['records']} resources in a {args.baseline_seconds:.0f} s cap, "
          f"extrapolated per resource to the population: {resources / base_rate:,.0f} s)")
    doc = {"date": datetime.now(UTC).isoformat(), "patients": args.patients, "resources": resources,
           "ndjson_mb": size_mb, "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                                              "python": platform.python_version()},
           "stages": r, "ratios": ratios,
           "baseline_note": "fhir.resources R4B validation + pandas json_normalize, time-capped and extrapolated "
                            "per resource"}
    out = ROOT / "bench" / "results" / f"{date.today().isoformat()}-{args.patients}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"written {out}")


if __name__ == "__main__":
    main()
