"""Retention: landing exports, run history and earlier snapshots older than the configured days are removed.

Never removed: the export `landing/latest` points to (or one still being written: no `complete` state), the
current snapshot, and the most recent run record. Defaults keep a month (`[housekeeping]` in settings.toml).
"""

from __future__ import annotations

import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import orjson

DAY = 86400.0


def prune_run_history(con: duckdb.DuckDBPyConnection, days: int) -> int:
    """Delete run records older than `days`, keeping the latest one (the next run diffs against it)."""
    cutoff = datetime.now(UTC) - timedelta(days=days)
    old = [r[0] for r in con.execute(
        "SELECT run_id FROM run_record WHERE finished_at < ? AND run_id <> "
        "(SELECT run_id FROM run_record ORDER BY finished_at DESC LIMIT 1)", [cutoff]).fetchall()]
    if old:
        con.execute("DELETE FROM run_listed WHERE list_contains(?, run_id)", [old])
        con.execute("DELETE FROM run_record WHERE list_contains(?, run_id)", [old])
    return len(old)


def _export_complete(folder: Path) -> bool:
    try:
        doc = orjson.loads((folder / ".extract-state.json").read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return (folder / "manifest.json").exists()
    return doc.get("status") == "complete"


def prune_landing(landing: Path, days: int, now: float | None = None) -> list[str]:
    """Remove finished export folders older than `days` (by modification time), never the one `latest` names."""
    landing = Path(landing)
    if not landing.is_dir():
        return []
    now = time.time() if now is None else now
    latest = landing / "latest"
    keep = latest.resolve() if latest.is_symlink() else None
    removed = []
    for d in sorted(p for p in landing.iterdir() if p.is_dir() and not p.is_symlink()):
        if d.resolve() == keep or d.name.startswith("."):
            continue
        if now - d.stat().st_mtime > days * DAY and _export_complete(d):
            shutil.rmtree(d)
            removed.append(d.name)
    return removed


def snapshot_history_dir(snapshot: Path) -> Path:
    snapshot = Path(snapshot)
    return snapshot.with_name(f"{snapshot.name.removesuffix('.duckdb')}.history")


def prune_snapshots(snapshot: Path, days: int, now: float | None = None) -> list[str]:
    hist = snapshot_history_dir(snapshot)
    if not hist.is_dir():
        return []
    now = time.time() if now is None else now
    removed = []
    for f in sorted(hist.glob("*.duckdb")):
        if now - f.stat().st_mtime > days * DAY:
            f.unlink()
            removed.append(f.name)
    return removed
