"""Helpers shared by tests/test_extract_*.py (imported as `servers.testing`)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import orjson

from screening.sources.http import RetryPolicy
from tests.servers.fhir_server import FhirTestServer
from tests.servers.fixtures import HIDDEN_OBSERVATIONS, fixture_resources

# Short waits so the suite stays fast; Retry-After from the server still wins when it is sent.
FAST = RetryPolicy(attempts=4, wait_initial=0.02, wait_max=0.1, wait_jitter=0.01, poll_initial=0.05,
                   poll_max=0.2)


def server(**kw) -> FhirTestServer:
    kw.setdefault("hide_observations", HIDDEN_OBSERVATIONS)
    return FhirTestServer(fixture_resources(), **kw)


def landed(export_dir: Path) -> dict[tuple[str, str], dict]:
    """Every resource landed in data files (not errors/ or deleted/), keyed by (type, id)."""
    from screening.sources.hydrate import data_files
    from screening.sources.landing import iter_resources

    out = {}
    for f in data_files(export_dir):
        for r in iter_resources(f):
            out[(r["resourceType"], r["id"])] = r
    return out


def ids(export_dir: Path, rtype: str) -> set[str]:
    return {i for t, i in landed(export_dir) if t == rtype}


def check_private(root: Path) -> None:
    """Folders 0700, files 0600, under `root`."""
    for p in [root, *root.rglob("*")]:
        mode = stat.S_IMODE(os.stat(p).st_mode)
        if p.is_dir():
            assert mode == 0o700, f"{p} is {oct(mode)}"
        else:
            assert mode == 0o600, f"{p} is {oct(mode)}"


def assert_no_secret(root: Path, *secrets: str | bytes) -> None:
    for p in root.rglob("*"):
        if p.is_file():
            data = p.read_bytes()
            for s in secrets:
                b = s.encode() if isinstance(s, str) else s
                assert b not in data, f"a secret leaked into {p}"


def log_events(export_dir: Path) -> list[dict]:
    return [orjson.loads(x) for x in (export_dir / "log.ndjson").read_bytes().splitlines() if x.strip()]


def write_ndjson(folder: Path, resources: list[dict]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    by_type: dict[str, list[dict]] = {}
    for r in resources:
        by_type.setdefault(r["resourceType"], []).append(r)
    for t, rows in by_type.items():
        (folder / f"{t}.ndjson").write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return folder
