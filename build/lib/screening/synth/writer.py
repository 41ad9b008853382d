"""Bulk-Data-style NDJSON output: one file per resource type, owner-only (0600), streamed."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import IO

import orjson

FILE_MODE = 0o600
DIR_MODE = 0o700
BUFFER = 1 << 20


def open_private(path: Path, mode: str = "wb", **kw) -> IO:
    """Open `path` for writing (truncating) with permissions 0600, whatever existed before."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    os.fchmod(fd, FILE_MODE)
    return os.fdopen(fd, mode, **kw)


def ensure_dir(out_dir: Path) -> Path:
    out_dir = Path(out_dir)
    if not out_dir.exists():
        out_dir.mkdir(parents=True, mode=DIR_MODE)
    return out_dir


class BulkWriter:
    """Appends resources to `<resourceType>.ndjson` files, opened on first use and kept open.

    Use as a context manager. `counts` holds resources written per type.
    """

    def __init__(self, out_dir: Path):
        self.out_dir = ensure_dir(Path(out_dir))
        self._files: dict[str, IO[bytes]] = {}
        self.counts: dict[str, int] = {}

    def write(self, resource: dict) -> None:
        rtype = resource["resourceType"]
        fh = self._files.get(rtype)
        if fh is None:
            fh = open_private(self.out_dir / f"{rtype}.ndjson", "wb", buffering=BUFFER)
            self._files[rtype] = fh
            self.counts[rtype] = 0
        fh.write(orjson.dumps(resource))
        fh.write(b"\n")
        self.counts[rtype] += 1

    def write_all(self, resources: Iterable[dict]) -> None:
        for res in resources:
            self.write(res)

    @property
    def paths(self) -> dict[str, Path]:
        return {t: self.out_dir / f"{t}.ndjson" for t in self._files}

    def close(self) -> None:
        for fh in self._files.values():
            fh.close()

    def __enter__(self) -> BulkWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def write_case_resources(resources: Iterable[dict], out_dir: Path | str) -> dict[str, Path]:
    """Write arbitrary FHIR resources to a Bulk-style folder (`<Type>.ndjson` per resourceType, 0600).

    Files of the types written are replaced; resources keep their order within a type. Returns {type: path}.
    Meant for tests: `write_case_resources([patient, obs, ...], tmp_path / "case")`.
    """
    with BulkWriter(Path(out_dir)) as w:
        w.write_all(resources)
        return w.paths
