"""Find FHIR input files and cut them into records (lines) for DuckDB, without parsing JSON in Python.

Reading is bounded: a file is streamed in blocks of CHUNK_BYTES; a line longer than the record-size limit is
never held whole (it is skipped to its end and reported); a file that decompresses past its limit stops there.
Memory therefore stays near CHUNK_BYTES + the record limit whatever the file holds (a gzip of newlines or NULs).
"""

from __future__ import annotations

import gzip
import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

NDJSON_SUFFIXES = (".ndjson", ".ndjson.gz", ".jsonl", ".jsonl.gz")
JSON_SUFFIXES = (".json", ".json.gz")
SKIP_DIRS = {"errors", "error"}  # Bulk Data OperationOutcome files: reported by the extractor, not data
NOT_DATA = {"log.ndjson", "manifest.json", "package.json"}  # Bulk export bookkeeping, not FHIR resources
CHUNK_BYTES = 4 * 1024 * 1024  # small enough that per-block index arrays stay ~200 MB on a block of newlines
MIB = 1024 * 1024


class SourceError(Exception):
    """The input path cannot be loaded at all (missing, empty, unreadable)."""


class LimitExceeded(Exception):
    """A file decompresses past its configured limit: the file is quarantined, the run goes on."""


@dataclass(frozen=True)
class Limits:
    """Reading limits (config/settings.toml [limits]); one record-size limit shared with DXA report attachments."""

    record_max_bytes: int = 64 * MIB
    json_file_max_bytes: int = 256 * MIB
    decompressed_max_bytes: int = 64 * 1024 * MIB

    @classmethod
    def from_settings(cls, params: dict) -> Limits:
        """From the flattened settings ([limits] section, MiB)."""
        d = cls()
        return cls(record_max_bytes=int(params.get("load_record_size_limit_mib", d.record_max_bytes / MIB) * MIB),
                   json_file_max_bytes=int(params.get("limits_json_file_max_mib", d.json_file_max_bytes / MIB) * MIB),
                   decompressed_max_bytes=int(params.get("limits_decompressed_max_mib",
                                                         d.decompressed_max_bytes / MIB) * MIB))


@dataclass(frozen=True)
class InputFile:
    path: Path
    kind: str  # "ndjson" (one resource per line), "json" (one resource or Bundle per file), "deleted"
    problem: str | None = None  # set for a file named like data that cannot be read at all (dangling symlink)


@dataclass
class ReadStats:
    """What the reader set aside per file: blank lines (counted, not records) and oversized lines (quarantined)."""

    blank_lines: int = 0
    oversized: list[tuple[int, int]] = field(default_factory=list)  # (line, bytes seen)


def display_path(path: Path) -> str:
    """The path as text that DuckDB can store: undecodable bytes in a file name become \\xNN escapes."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


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
    """Every FHIR file under `source`, in a stable order; files under deleted/ are Bulk Data deletions.

    A dangling symlink named like a data file is returned with a problem (it is quarantined, never skipped
    in silence)."""
    if not source.exists():
        raise SourceError(f"{display_path(source)}: no such file or directory")
    if source.is_file():
        kind = _kind(source)
        if kind is None:
            raise SourceError(f"{display_path(source)}: not a FHIR file "
                              "(expected .ndjson, .ndjson.gz, .json or .json.gz)")
        return [InputFile(source, kind)]
    found: list[InputFile] = []
    for path in sorted(source.rglob("*"), key=os.fsencode):
        rel_parts = {p.lower() for p in path.relative_to(source).parts[:-1]}
        if rel_parts & SKIP_DIRS or any(p.startswith(".") for p in rel_parts):
            continue
        kind = _kind(path)
        if kind is None:
            continue
        if path.is_symlink() and not path.exists():
            found.append(InputFile(path, kind, "dangling symbolic link: its target does not exist"))
            continue
        if not path.is_file():
            continue
        found.append(InputFile(path, "deleted" if "deleted" in rel_parts else kind))
    if not found:
        raise SourceError(f"{display_path(source)}: no FHIR files (*.ndjson, *.ndjson.gz, *.json) in this folder")
    return found


def _open(path: Path):
    return gzip.open(path, "rb") if path.name.lower().endswith(".gz") else open(path, "rb")


def record_batches(f: InputFile, limits: Limits, stats: ReadStats) -> Iterator[pa.Table]:
    """Arrow tables of (source_line, raw): one row per non-blank line (without its LF), or one row for a .json file.

    Lines are cut without copying: NumPy finds the newlines and their offsets become the offsets of an Arrow
    binary array over the block itself. Bare LF / CRLF lines are counted in `stats`, never become rows; lines
    over the record limit are reported in `stats.oversized`. Raises OSError / EOFError / zlib.error for
    unreadable or corrupt files and LimitExceeded past the decompressed-size limit.
    """
    if f.kind == "json":
        cap = limits.json_file_max_bytes
        with _open(f.path) as fh:
            data = fh.read(cap + 1)
        if len(data) > cap:
            raise LimitExceeded(f"file larger than the {cap // MIB} MiB limit for one JSON file "
                                "(limits.json_file_max_mib); split it or raise the limit")
        yield _table(data, np.array([0, len(data)], dtype=np.int64), 1, stats)
        return
    line_no = 1
    carry = b""
    skipping = 0  # > 0: inside an oversized line, this many bytes seen so far
    total = 0
    with _open(f.path) as fh:
        while block := fh.read(CHUNK_BYTES):
            total += len(block)
            if total > limits.decompressed_max_bytes:
                raise LimitExceeded(f"file decompresses past the {limits.decompressed_max_bytes // MIB} MiB "
                                    "limit (limits.decompressed_max_mib)")
            if skipping:
                nl = block.find(b"\n")
                if nl < 0:
                    skipping += len(block)
                    continue
                stats.oversized.append((line_no, skipping + nl + 1))
                line_no += 1
                skipping = 0
                block = block[nl + 1:]
            data = carry + block if carry else block
            ends = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10)
            if len(ends) == 0:
                if len(data) > limits.record_max_bytes:
                    skipping, carry = len(data), b""
                else:
                    carry = data
                continue
            offsets = np.concatenate(([0], ends + 1)).astype(np.int64)
            yield from _lines_table(data, offsets, line_no, limits, stats)
            line_no += len(ends)
            carry = data[int(ends[-1]) + 1:]
            if len(carry) > limits.record_max_bytes:
                skipping, carry = len(carry), b""
    if skipping:
        stats.oversized.append((line_no, skipping))
    elif carry:
        yield from _lines_table(carry, np.array([0, len(carry)], dtype=np.int64), line_no, limits, stats)


def _lines_table(data: bytes, offsets: np.ndarray, first_line: int, limits: Limits,
                 stats: ReadStats) -> Iterator[pa.Table]:
    """Rows for the lines between `offsets`, without bare line ends (blank) and oversized lines."""
    lengths = np.diff(offsets)
    keep = lengths > 2
    short = np.flatnonzero(~keep)
    if len(short):  # a 1-2 byte line is blank when it is only LF / CRLF / CR / spaces (vectorised: no Python loop)
        arr = np.frombuffer(data, dtype=np.uint8)
        space = np.array([9, 10, 13, 32], dtype=np.uint8)
        starts = offsets[short]
        blank = np.isin(arr[starts], space)
        two = lengths[short] == 2
        blank[two] &= np.isin(arr[starts[two] + 1], space)
        keep[short[~blank]] = True
        stats.blank_lines += int(np.count_nonzero(blank))
    big = np.flatnonzero(lengths > limits.record_max_bytes)
    for i in big:
        stats.oversized.append((first_line + int(i), int(lengths[i])))
    keep[big] = False
    line_numbers = np.arange(first_line, first_line + len(lengths), dtype=np.int64)
    idx = np.flatnonzero(keep)
    if len(idx) == 0:
        return
    data, offsets = _without_lf(data, offsets)
    if len(idx) == len(lengths):
        yield _table(data, offsets, first_line, stats)
        return
    raw = _binary(data, offsets)
    yield pa.table({"source_line": int64_array(line_numbers[idx]), "raw": raw.take(int64_array(idx))})


def _without_lf(data: bytes, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The lines without the LF that ends them (one vectorised copy of the block): cutting lines is the reader's
    job, and a character trim in SQL costs more than parsing the JSON. A CR before it stays (sql/ingest trims it)."""
    arr = np.frombuffer(data, dtype=np.uint8)
    ends = offsets[1:] - 1
    lf = arr[ends] == 10
    if not lf.any():
        return arr, offsets
    keep = np.ones(len(arr), dtype=bool)
    keep[ends[lf]] = False
    return arr[keep], offsets - np.concatenate(([0], np.cumsum(lf))).astype(np.int64)


# Arrow objects are built from buffers, never from Python values (pa.array, pa.scalar, empty_table): those
# import pandas on first use, 0.16-0.25 s of every load and most of a small delta load's fixed cost
# (docs/performance.md); loading needs no pandas. tests/test_load.py checks that a load imports none.
def int64_array(values) -> pa.Int64Array:
    """An Arrow view of NumPy int64 values (copied only when not already contiguous int64)."""
    values = np.ascontiguousarray(values, dtype=np.int64)
    return pa.Array.from_buffers(pa.int64(), len(values), [None, pa.py_buffer(values)])


def repeated_text(text: str, n: int) -> pa.Array:
    """A string column of `n` copies of `text` (a file name, a kind)."""
    b = text.encode()
    one = pa.Array.from_buffers(pa.string(), 1, [None, pa.py_buffer(np.array([0, len(b)], dtype=np.int32)),
                                                 pa.py_buffer(b)])
    return pa.repeat(one[0], n)


def _binary(data, offsets: np.ndarray) -> pa.LargeBinaryArray:
    return pa.LargeBinaryArray.from_buffers(pa.large_binary(), len(offsets) - 1,
                                            [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def _table(data, offsets: np.ndarray, first_line: int, stats: ReadStats) -> pa.Table:
    n = len(offsets) - 1
    return pa.table({"source_line": int64_array(np.arange(first_line, first_line + n, dtype=np.int64)),
                     "raw": _binary(data, offsets)})


CORRUPT_ERRORS = (OSError, EOFError, zlib.error)
