"""`<landing>/latest`: the last finished export, repointed atomically so a reader never sees a half export."""

from __future__ import annotations

import os
import uuid
from pathlib import Path


def repoint_latest(landing: Path, export_dir: Path) -> Path:
    """Point `<landing>/latest` at `export_dir` (relative symlink made under a temp name, then renamed)."""
    landing, export_dir = Path(landing), Path(export_dir)
    link = landing / "latest"
    tmp = landing / f".latest.{uuid.uuid4().hex[:8]}"
    os.symlink(os.path.relpath(export_dir.resolve(), landing.resolve()), tmp)
    try:
        os.replace(tmp, link)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return link
