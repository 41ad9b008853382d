"""One writer per database at a time, for the whole job (load, screen and export are separate DuckDB
connections, so DuckDB's own file lock alone would let a second writer slip in between two steps).

The lock is taken on the database file's identity, not its name: an exclusive `flock` on the file itself, so a
hard link, a symlink or another spelling of the path meets the same lock. A database that does not exist yet is
locked on its resolved path (`<file>.lock` next to it); it is then created under that lock, owner-only (0600)
whatever the umask, and locked on its identity as well. Every writer takes it: `run`, `load`, `query --write`
and the library steps (`load_step`, `screen_step`, `run_pipeline`). Readers (`query`, export) do not.
Locks are advisory and local: a lock on a network file system is only as good as that file system's `flock`.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from screening.errors import DatabaseError, OutputError

_guard = threading.RLock()
_held: dict[object, int] = {}  # keys this process holds (path and identity): the CLI, then the flow, then a step


def _flock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _busy(db: Path) -> DatabaseError:
    return DatabaseError(f"{db}: another osteoscreen process (run, load or query --write) is writing to this "
                         "database; wait for it to finish and try again")


def _create_database(db: Path) -> None:
    """An empty DuckDB file, 0600 whatever the umask (DuckDB itself creates files 0666 & ~umask)."""
    import duckdb

    old = os.umask(0o077)
    try:
        duckdb.connect(str(db)).close()
    except duckdb.Error as exc:
        raise DatabaseError(f"{db}: cannot create the database: {str(exc).splitlines()[0]}") from None
    finally:
        os.umask(old)
    os.chmod(db, 0o600)


@contextmanager
def database_lock(db: Path, *, create: bool = True) -> Iterator[None]:
    """Hold the writer lock on `db` (re-entrant within one process); exit code 4 when another process has it.

    create: make the database (0600) when it does not exist yet, under the path lock. Without it a missing
    file is locked on its path only (the caller's open then reports it missing).
    """
    db = Path(db).resolve()
    with _guard:
        if db in _held:
            _held[db] += 1
            reentered = True
        else:
            reentered = False
    if reentered:
        try:
            yield
        finally:
            with _guard:
                _held[db] -= 1
                if not _held[db]:
                    del _held[db]
        return
    if not db.parent.is_dir():
        if not create:  # nothing to lock: the caller's open reports the missing database
            yield
            return
        from screening.export.safe_files import ensure_private_dir

        try:
            ensure_private_dir(db.parent)
        except OSError as exc:
            raise OutputError(f"{db.parent}: cannot create the database folder: {exc.strerror}") from None
    lock_path = db.with_name(db.name + ".lock")
    fds: list[int] = []
    try:
        try:
            fds.append(os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600))
        except OSError as exc:
            raise DatabaseError(f"{lock_path}: cannot create the lock file: {exc.strerror}") from None
        if not _flock(fds[0]):
            raise _busy(db)
        identity = None
        if create and not db.exists():
            _create_database(db)
        if db.exists():
            st = os.stat(db)
            identity = ("inode", st.st_dev, st.st_ino)
            with _guard:
                mine = identity in _held  # this process already writes it under another name
            if not mine:
                # Lock the file itself, and make sure the name still points at it (it may have been replaced
                # between open and flock): then every other path to this file meets the same lock.
                try:
                    fd = os.open(db, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO given as --db must not hang
                except OSError as exc:
                    raise DatabaseError(f"{db}: cannot open the database: {exc.strerror}") from None
                fds.append(fd)
                if not _flock(fd):
                    raise _busy(db)
                fst = os.fstat(fd)
                if (fst.st_dev, fst.st_ino) != (st.st_dev, st.st_ino):
                    raise _busy(db)
        with _guard:
            if identity is not None:
                _held[identity] = _held.get(identity, 0) + 1
            _held[db] = 1
        try:
            yield
        finally:
            with _guard:
                _held.pop(db, None)
                if identity is not None:
                    _held[identity] -= 1
                    if not _held[identity]:
                        del _held[identity]
    finally:
        for fd in reversed(fds):
            os.close(fd)  # closing releases the lock, also when the process dies


# The name the pipeline and flows have always used.
pipeline_lock = database_lock
