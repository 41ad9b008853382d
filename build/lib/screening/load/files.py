"""Find FHIR input files and cut them into records (lines) for DuckDB, without parsing JSON in Python."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

NDJSON_SUFFIXES = (".ndjson", ".ndjson.gz", ".jsonl", ".jsonl.gz")
JSON_SUFFIXES = (".json", ".json.gz")
SKIP_DIRS = {"errors", "error"}  # Bulk Data OperationOutcome files: reported by the extractor, not data
NOT_DATA = {"log.ndjson", "manifest.json", "package.json"}  # Bulk export bookkeeping, not FHIR resources
CHUNK_BYTES = 64 * 1024 * 1024


class SourceError(Exception):
    """The input path cannot be loaded at all (missing, empty, unreadable)."""


@dataclass(frozen=True)
class InputFile:
    path: Path
    kind: str  # "ndjson" (one resource per line), "json" (one resource or Bundle per file), "deleted"


def _kind(path: Path) -> str | None:
    name = path.name.lower()
    if name.startswith("."):
        return None
    if name in NOT_DATA:
        return None
    if name.endswith(NDJSON_SUFFIXES):
        return "ndjson"
    if name.endswith(JSON_SUFFIXES):
        return "json"
    return None


def discover(source: Path) -> list[InputFile]:
    """Every FHIR file under `source`, in a stable order; files under deleted/ are Bulk Data deletions."""
    if not source.exists():
        raise SourceError(f"{source}: no such file or directory")
    if source.is_file():
        kind = _kind(source)
        if kind is None:
            raise SourceError(f"{source}: not a FHIR file (expected .ndjson, .ndjson.gz, .json or .json.gz)")
        return [InputFile(source, kind)]
    found: list[InputFile] = []
    for path in sorted(source.rglob("*")):
        rel_parts = {p.lower() for p in path.relative_to(source).parts[:-1]}
        if not path.is_file() or rel_parts & SKIP_DIRS or any(p.startswith(".") for p in rel_parts):
            continue
        kind = _kind(path)
        if kind is None:
            continue
        found.append(InputFile(path, "deleted" if "deleted" in rel_parts else kind))
    if not found:
        raise SourceError(f"{source}: no FHIR files (*.ndjson, *.ndjson.gz, *.json) in this folder")
    return found


def _open(path: Path):
    return gzip.open(path, "rb") if path.name.lower().endswith(".gz") else open(path, "rb")


def record_batches(f: InputFile) -> Iterator[pa.Table]:
    """Arrow tables of (source_line, raw): one row per line (newline kept), or a single row for a .json file.

    Lines are cut without copying: NumPy finds the newlines and their offsets become the offsets of an Arrow
    binary array over the block itself. Raises OSError / EOFError / zlib.error for unreadable or corrupt files.
    """
    if f.kind == "json":
        with _open(f.path) as fh:
            data = fh.read()
        yield _table(data, np.array([0, len(data)], dtype=np.int64), 1)
        return
    line_no = 1
    carry = b""
    with _open(f.path) as fh:
        while block := fh.read(CHUNK_BYTES):
            data = carry + block if carry else block
            ends = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10)
            if len(ends) == 0:
                carry = data
                continue
            offsets = np.concatenate(([0], ends + 1)).astype(np.int64)
            yield _table(data, offsets, line_no)
            line_no += len(ends)
            carry = data[int(ends[-1]) + 1:]
    if carry:
        yield _table(carry, np.array([0, len(carry)], dtype=np.int64), line_no)


def _table(data: bytes, offsets: np.ndarray, first_line: int) -> pa.Table:
    n = len(offsets) - 1
    raw = pa.LargeBinaryArray.from_buffers(pa.large_binary(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data)])
    return pa.table({"source_line": pa.array(np.arange(first_line, first_line + n, dtype=np.int64)), "raw": raw})


CORRUPT_ERRORS = (OSError, EOFError, zlib.error)
