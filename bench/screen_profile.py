"""Per-statement wall time of one screen run (sql/model + sql/screens), worst first; optional EXPLAIN ANALYZE.

    .venv/bin/python bench/screen_profile.py --db bench/work/100000/db/o.duckdb [--as-of 2026-06-30]
        [--top 25] [--explain 3]

Runs the real `run_screens` on a COPY of the database (the original is never written) with `execute_file`
wrapped so that every statement is timed; with --explain N the N slowest are run again under EXPLAIN ANALYZE
(inside the same transaction, so every table they read exists) and their plans printed. Statement text is
shortened to its first line: SQL only, no patient data.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", type=Path, required=True)
    ap.add_argument("--as-of", type=date.fromisoformat, default=date(2026, 6, 30))
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--explain", type=int, default=0)
    args = ap.parse_args()

    from screening.database import open_database
    from screening.db import split_statements, statement_params
    from screening.paths import SQL_DIR
    from screening.screens import runner

    timings: list[tuple[float, str, str, str, dict]] = []

    def timed_execute_file(con, path: Path, params: dict) -> None:
        for stmt in split_statements(path.read_text(encoding="utf-8")):
            names = statement_params(stmt)
            bound = {k: params[k] for k in names} if names else None
            t = time.perf_counter()
            con.execute(stmt, bound)
            head = next((ln for ln in stmt.splitlines() if ln.strip() and not ln.lstrip().startswith("--")), "")
            timings.append((time.perf_counter() - t, str(path.relative_to(SQL_DIR)), head.strip()[:90], stmt,
                            bound or {}))

    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "profile.duckdb"
        shutil.copy(args.db, copy)
        wal = args.db.with_name(args.db.name + ".wal")
        if wal.exists():
            shutil.copy(wal, copy.with_name(copy.name + ".wal"))
        con = open_database(copy)
        runner.execute_file = timed_execute_file
        phases: dict[str, float] = {}

        def timed(name: str, fn):
            def wrapper(*a, **kw):
                t = time.perf_counter()
                try:
                    return fn(*a, **kw)
                finally:
                    phases[name] = phases.get(name, 0.0) + time.perf_counter() - t
            return wrapper

        for name in ("load_code_tables", "_config_tables", "_load_actions", "register_report_functions",
                     "unread_counts", "_ensure_typed_tables", "_config_hash"):
            setattr(runner, name, timed(name, getattr(runner, name)))
        for name in ("inputs_digest", "code_hash", "output_counts"):
            setattr(runner.skip, name, timed(name, getattr(runner.skip, name)))
        t0 = time.perf_counter()
        result = runner.run_screens(con, args.as_of, force=True)
        total = time.perf_counter() - t0
        sql_total = sum(t[0] for t in timings)
        print(f"screen run: {total:.2f} s ({sql_total:.2f} s in {len(timings)} statements); "
              f"{result['screened']} screened, {result['listed']} listed")
        by_file: dict[str, float] = {}
        for sec, f, *_ in timings:
            by_file[f] = by_file.get(f, 0.0) + sec
        print("outside the manifest SQL: " + ", ".join(f"{k} {v:.2f} s" for k, v in sorted(phases.items(),
                                                                                       key=lambda x: -x[1])))
        print("\nper file:")
        for f, sec in sorted(by_file.items(), key=lambda x: -x[1])[: args.top]:
            print(f"  {sec:7.2f} s  {100 * sec / sql_total:5.1f} %  {f}")
        print("\nper statement:")
        worst = sorted(timings, key=lambda x: -x[0])
        for sec, f, head, *_ in worst[: args.top]:
            print(f"  {sec:7.2f} s  {f:<40} {head}")
        if args.explain:
            con.execute("BEGIN TRANSACTION")  # tables of the run are committed: re-run the slowest in a throwaway
            for sec, f, head, stmt, bound in worst[: args.explain]:
                print(f"\n===== {f}: {head} ({sec:.2f} s)")
                rows = con.execute("EXPLAIN ANALYZE " + stmt, bound or None).fetchall()
                for r in rows:
                    print(r[-1])
            con.execute("ROLLBACK")
        con.close()


if __name__ == "__main__":
    main()
