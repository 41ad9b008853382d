"""The clinical screening engine: runs sql/model + sql/screens in manifest order (see `run_screens`)."""

from screening.screens.runner import MANIFEST, run_screens

__all__ = ["MANIFEST", "run_screens"]
