"""The run summary: printed by `run`, written as summary.json / summary.md. Counts and paths only, no patient data."""

from __future__ import annotations

import json
from pathlib import Path

from screening.export.safe_files import atomic_write


def summary_lines(s: dict) -> list[tuple[str, object]]:
    p = s["listed_by_priority"]
    return [
        ("as of", s["as_of"]),
        ("screened", s["screened"]),
        ("listed (on the worklist)", s["listed"]),
        ("listed high / medium / low", f"{p.get('high', 0)} / {p.get('medium', 0)} / {p.get('low', 0)}"),
        ("safety alerts", s["safety_alerts"]),
        ("new / changed / back / continuing", f"{s['new']} / {s['changed']} / {s['back']} / {s['continuing']}"),
        ("resolved since the last run", s["resolved"]),
        ("suppressed by a disposition", s["suppressed"]),
        *[(f"output: {k}", v) for k, v in s["outputs"].items()],
    ]


def markdown(s: dict) -> str:
    rows = "\n".join(f"| {k} | {v} |" for k, v in summary_lines(s))
    return f"# osteoscreen worklist summary\n\n| | |\n|---|---|\n{rows}\n"


def write_summary(out_dir: Path, s: dict) -> tuple[Path, Path]:
    out_dir = Path(out_dir)
    j = atomic_write(out_dir / "summary.json", lambda fh: fh.write(json.dumps(s, indent=2, sort_keys=True) + "\n"))
    m = atomic_write(out_dir / "summary.md", lambda fh: fh.write(markdown(s)))
    return j, m
