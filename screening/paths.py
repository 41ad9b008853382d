"""Where the project's SQL and configuration live (repo-relative, so an editable install finds them)."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SQL_DIR = PROJECT_ROOT / "sql"
CONFIG_DIR = Path(os.environ.get("OSTEOSCREEN_CONFIG_DIR", PROJECT_ROOT / "config"))
