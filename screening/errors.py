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


class SchemaDriftError(DatabaseError):
    """The database's own tables no longer have the columns osteoscreen created (altered by hand)."""


class StorageFullError(OsteoscreenError):
    """A write failed for lack of space (disk full, quota, file-size limit); the database keeps its last
    committed state (a load is one transaction)."""

    exit_code = 11


_NO_SPACE_ERRNOS = {28, 27, 122}  # ENOSPC, EFBIG, EDQUOT
_NO_SPACE_TEXT = ("no space left on device", "file too large", "disk quota exceeded", "disk full")


def classify(exc: BaseException) -> OsteoscreenError | None:
    """Map a failure from deep inside a step to the user-facing error it is, or None when it is unexpected.

    The message never repeats the original exception text beyond a file path: DuckDB and JSON errors can
    quote the value that failed, and that value can be a patient's.
    """
    import re

    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OsteoscreenError):
            return exc
        if isinstance(exc, OSError) and exc.errno in _NO_SPACE_ERRNOS:
            where = exc.filename or "a file"
            return StorageFullError(f"{where}: no space left (disk full, quota or file-size limit: "
                                    f"{exc.strerror}); free space and run again, nothing was half-written")
        text = str(exc)
        low = text.lower()
        module = type(exc).__module__ or ""
        if module.startswith(("duckdb", "_duckdb")):
            if any(t in low for t in _NO_SPACE_TEXT):
                m = re.search(r'file "([^"]+)"', text)
                where = m.group(1) if m else "the database"
                return StorageFullError(f"{where}: no space left (disk full, quota or file-size limit); free "
                                        "space and run again: the database keeps its last committed state")
            if type(exc).__name__ in ("CatalogException", "BinderException"):
                return SchemaDriftError(
                    "the database's tables do not match what osteoscreen expects (a table or column altered "
                    "or dropped by hand?); restore it or start a new database file (--debug shows the query)")
        exc = exc.__cause__ or exc.__context__
    return None


class UnexpectedError(OsteoscreenError):
    """A step failed for a reason nobody foresaw. Its message names the step and the exception type only;
    the original exception (whose text can quote a patient's value) is kept in `.original`, never shown."""

    exit_code = 1

    def __init__(self, message: str, original: BaseException | None = None):
        super().__init__(message)
        self.original = original
