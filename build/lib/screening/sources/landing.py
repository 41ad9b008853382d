"""The landing folder: one owner-only folder per export, atomic file writes, the export log and state files.

<landing>/
  .osteoscreen-extract.json        last successful transactionTime per scope (for --since auto)
  20260101T120000Z-bulk/           one export (0700)
    manifest.json                  the Bulk manifest (file URLs redacted) or the crawl's equivalent
    log.ndjson                     events and counts, never PHI or secrets
    .extract-state.json            resume state (status URL, finished files); hidden from the loader
    Patient.000.ndjson ...         data (0600)
    deleted/Bundle.000.ndjson      Bulk Data deletions
    errors/OperationOutcome.000.ndjson
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import orjson

ROOT_STATE = ".osteoscreen-extract.json"
EXPORT_STATE = ".extract-state.json"
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
_TYPE = re.compile(r"^[A-Z][A-Za-z]{0,63}$")


def private_dir(path: Path) -> Path:
    """mkdir -p with 0700 on every folder we create (and on the leaf)."""
    path = Path(path)
    missing = []
    p = path
    while not p.exists():
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        with contextlib.suppress(FileExistsError):
            d.mkdir(mode=0o700)
        os.chmod(d, 0o700)
    if not path.is_dir():
        raise NotADirectoryError(str(path))
    return path


def safe_name(name: str, default: str = "file") -> str:
    """A file name from server-supplied text: no separators, no leading dots, bounded length."""
    name = _SAFE.sub("_", name.replace("/", "_").replace("\\", "_")).strip("._-")
    return (name or default)[:100]


def safe_type(resource_type: str) -> str:
    return resource_type if _TYPE.match(resource_type or "") else safe_name(resource_type or "", "Unknown")


def within(base: Path, candidate: Path) -> Path:
    """`candidate` resolved, guaranteed inside `base` (defence in depth behind safe_name)."""
    resolved = candidate.resolve()
    if resolved != base.resolve() and base.resolve() not in resolved.parents:
        raise ValueError(f"refusing to write outside the export folder: {candidate.name}")
    return candidate


@contextlib.contextmanager
def atomic_file(path: Path, mode: str = "wb") -> Iterator[IO]:
    """Write to a hidden temp file in the same folder (0600), fsync, then rename over `path`."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, mode) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_json(path: Path, doc) -> None:
    with atomic_file(path) as fh:
        fh.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))


def read_json(path: Path):
    try:
        return orjson.loads(Path(path).read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class ExportLog:
    """Appends Bulk Data client style log items (exportId, timestamp, eventId, eventDetail) to log.ndjson.

    Details are counts, file names we chose, redacted URLs and server progress text: never resource content,
    patient ids, tokens or keys.
    """

    def __init__(self, export_dir: Path, export_id: str):
        self.path = Path(export_dir) / "log.ndjson"
        self.export_id = export_id
        self._lock = threading.Lock()
        if not self.path.exists():
            fd = os.open(self.path, os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o600)
            os.close(fd)
        os.chmod(self.path, 0o600)

    def event(self, event_id: str, **detail) -> None:
        item = {
            "exportId": self.export_id,
            "timestamp": now_iso(),
            "eventId": event_id,
            "eventDetail": detail,
        }
        line = orjson.dumps(item) + b"\n"
        with self._lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
            try:
                os.write(fd, line)
            finally:
                os.close(fd)


class StateFile:
    """The export's resume state, written atomically after every change (thread-safe)."""

    def __init__(self, export_dir: Path, doc: dict | None = None):
        self.path = Path(export_dir) / EXPORT_STATE
        self._lock = threading.RLock()
        self.doc = doc if doc is not None else (read_json(self.path) or {})

    def save(self) -> None:
        with self._lock:
            write_json(self.path, self.doc)

    def update(self, **kw) -> None:
        with self._lock:
            self.doc.update(kw)
            self.save()

    def record(self, section: str, key: str, value) -> None:
        with self._lock:
            self.doc.setdefault(section, {})[key] = value
            self.save()

    def get(self, section: str) -> dict:
        with self._lock:
            return dict(self.doc.get(section) or {})


def new_export_dir(landing: Path, mode: str) -> tuple[str, Path]:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    for n in range(1, 1000):
        export_id = f"{stamp}-{mode}" + ("" if n == 1 else f"-{n}")
        path = landing / export_id
        try:
            path.mkdir(mode=0o700)
        except FileExistsError:
            continue
        os.chmod(path, 0o700)
        return export_id, path
    raise RuntimeError("cannot allocate an export folder name")


def count_lines(path: Path) -> int:
    """Non-empty lines in an NDJSON (optionally gzip) file."""
    import gzip

    opener = gzip.open if path.name.endswith(".gz") else open
    n = 0
    with opener(path, "rb") as fh:
        for line in fh:
            if line.strip():
                n += 1
    return n


def iter_resources(path: Path) -> Iterator[dict]:
    import gzip

    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rb") as fh:
        for line in fh:
            if line.strip():
                try:
                    doc = orjson.loads(line)
                except orjson.JSONDecodeError:
                    continue
                if isinstance(doc, dict):
                    yield doc
