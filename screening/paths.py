"""One resolver for the project's SQL and configuration, in a checkout and in an installed wheel alike.

The `sql/` and `config/` folders stay at the top of the repository (reviewers read a rule as one SQL file beside
its value set); the wheel carries them as package data `screening/_sql` and `screening/_config` (mapped in
setup.py). A site folder named by `OSTEOSCREEN_CONFIG` overrides the packaged config file by file, and a
`--config DIR` overrides both.
"""

from __future__ import annotations

import os
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
PROJECT_ROOT = _PACKAGE.parent  # the checkout (meaningless in a wheel; kept for tools that run from a checkout)


def _data_dir(name: str) -> Path:
    """`screening/_<name>` inside an installed wheel, else `<checkout>/<name>` (editable install, source tree)."""
    packaged = _PACKAGE / f"_{name}"
    if packaged.is_dir():
        return packaged
    return PROJECT_ROOT / name


SQL_DIR = _data_dir("sql")
CONFIG_DIR = _data_dir("config")  # the shipped defaults: never written to


def site_config_dir() -> Path | None:
    """The site's config folder (`OSTEOSCREEN_CONFIG`), or None. Local value sets are imported into it."""
    value = os.environ.get("OSTEOSCREEN_CONFIG") or os.environ.get("OSTEOSCREEN_CONFIG_DIR")
    return Path(value).expanduser() if value else None


def config_dirs(user_dir: Path | None = None) -> list[Path]:
    """Config folders in override order: packaged defaults, site folder, then `--config DIR`."""
    dirs = [CONFIG_DIR]
    for extra in (site_config_dir(), user_dir):
        if extra is not None and Path(extra).resolve() not in {d.resolve() for d in dirs}:
            dirs.append(Path(extra))
    return dirs
