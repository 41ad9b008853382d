"""Find FHIR input files and cut them into records (lines) for DuckDB, without parsing JSON in Python."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

NDJSON_SUFFIXES = (".ndjson", ".ndjson.gz", ".jsonl", ".jsonl.gz")
JSON_SUFFIXES = (".json", ".json.gz")
SKIP_DIRS = {"errors", "error"}  # Bulk Data OperationOutcome files: reported by the extractor, not data
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
    if name.endswith(NDJSON_SUFFIXES):
        return "ndjson"
    if name.endswith(JSON_SUFFIXES) and name not in {"manifest.json", "package.json"}:
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
    """Arrow tables of (source_file, source_line, raw, file_kind): one row per line, or one per .json file.

    Raises OSError / EOFError / zlib.error for unreadable or corrupt files; the caller quarantines the file.
    """
    name = str(f.path)
    if f.kind == "json":
        with _open(f.path) as fh:
            data = fh.read()
        yield _table(name, [data], 1, "json")
        return
    line_no = 1
    carry = b""
    with _open(f.path) as fh:
        while True:
            block = fh.read(CHUNK_BYTES)
            if not block:
                break
            lines = (carry + block).split(b"\n")
            carry = lines.pop()
            if lines:
                yield _table(name, lines, line_no, f.kind)
                line_no += len(lines)
    if carry:
        yield _table(name, [carry], line_no, f.kind)


def _table(name: str, lines: list[bytes], first_line: int, kind: str) -> pa.Table:
    n = len(lines)
    return pa.table({
        "source_file": pa.array([name] * n, pa.string()),
        "source_line": pa.array(range(first_line, first_line + n), pa.int64()),
        "raw": pa.array(lines, pa.large_binary()),
        "file_kind": pa.array([kind] * n, pa.string()),
    })


CORRUPT_ERRORS = (OSError, EOFError, zlib.error)
