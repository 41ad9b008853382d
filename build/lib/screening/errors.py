"""User-facing failures: one clear line and a distinct exit code each (see README, 'Exit codes')."""

from __future__ import annotations


class OsteoscreenError(Exception):
    """A failure the user can fix; its message is shown as one line."""

    exit_code = 1


class InputPathError(OsteoscreenError):
    exit_code = 3


class DatabaseError(OsteoscreenError):
    exit_code = 4


class ConfigError(OsteoscreenError):
    exit_code = 5


class ExtractError(OsteoscreenError):
    exit_code = 6


class OutputError(OsteoscreenError):
    exit_code = 7
