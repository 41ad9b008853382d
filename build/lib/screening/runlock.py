"""One pipeline run per database at a time, for the whole run (load, screen and export are separate DuckDB
connections, so DuckDB's own file lock alone would let a second run slip in between two steps)."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from screening.errors import DatabaseError
from screening.export.safe_files import ensure_private_dir

_held: dict[Path, int] = {}  # locks this process holds: the CLI takes it before the flow, the flow again


@contextmanager
def pipeline_lock(db: Path) -> Iterator[None]:
    db = Path(db).resolve()
    if db in _held:
        _held[db] += 1
        try:
            yield
        finally:
            _held[db] -= 1
        return
    ensure_private_dir(db.parent)
    lock_path = db.with_name(db.name + ".lock")
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise DatabaseError(f"{lock_path}: cannot create the run lock: {exc.strerror}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DatabaseError(f"{db}: another osteoscreen run is using this database; wait for it to finish "
                                "and try again") from None
        _held[db] = 1
        try:
            yield
        finally:
            del _held[db]
    finally:
        os.close(fd)  # closing releases the lock, also when the process dies
