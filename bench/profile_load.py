"""Per-statement wall time of one load (sql/ingest, sql/load), summed over batches, plus the time outside SQL.

    python bench/profile_load.py bench/cache/100000-42 [--db /tmp/p.duckdb] [--top 25]

Every statement that screening.db.run_sql_file runs (and the loader's own con.execute calls) is timed; statements
are named by file and first line. What is left of the wall time is Python (reading, cutting, Arrow staging).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import screening.db as db  # noqa: E402
import screening.load.loader as loader  # noqa: E402
import screening.load.typed as typed  # noqa: E402
from screening.database import open_database  # noqa: E402

TIMES: dict[str, float] = defaultdict(float)
COUNTS: dict[str, int] = defaultdict(int)


class _Timed:
    """A connection proxy that times execute()."""

    def __init__(self, con, label: str = "loader.py"):
        self._con, self._label = con, label

    def execute(self, sql, *args, **kw):
        key = f"{self._label}: {' '.join(str(sql).split())[:90]}"
        t = time.perf_counter()
        try:
            return self._con.execute(sql, *args, **kw)
        finally:
            TIMES[key] += time.perf_counter() - t
            COUNTS[key] += 1

    def __getattr__(self, name):
        return getattr(self._con, name)


def _timed_run_sql_file(con, relative, params=None):
    params = params or {}
    raw = con._con if isinstance(con, _Timed) else con
    for statement in db.split_statements(db.sql_text(relative)):
        names = db.statement_params(statement)
        first = next(ln for ln in statement.splitlines() if ln.strip() and not ln.lstrip().startswith("--"))
        key = f"{relative}: {' '.join(first.split())[:80]}"
        t = time.perf_counter()
        raw.execute(statement, {k: params[k] for k in names} or None)
        TIMES[key] += time.perf_counter() - t
        COUNTS[key] += 1


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("source", type=Path)
    ap.add_argument("--db", type=Path)
    ap.add_argument("--top", type=int, default=30)
    ap.add_argument("--twice", action="store_true", help="profile a second load of the same source as well")
    args = ap.parse_args()
    for mod in (loader, typed):
        mod.run_sql_file = _timed_run_sql_file
    path = args.db or Path(tempfile.mkdtemp()) / "p.duckdb"
    con = open_database(path, memory_limit=os.environ.get("PROFILE_MEMORY_LIMIT"))
    t = time.perf_counter()
    r = loader.load_source(_Timed(con), args.source)
    wall = time.perf_counter() - t
    sql = sum(TIMES.values())
    print(f"load: {r.records_read} records in {wall:.1f} s; SQL {sql:.1f} s; outside SQL {wall - sql:.1f} s; "
          f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    for key, secs in sorted(TIMES.items(), key=lambda kv: -kv[1])[:args.top]:
        print(f"  {secs:7.2f} s  x{COUNTS[key]:<4} {key}")
    con.close()


if __name__ == "__main__":
    main()
