"""Shared fixtures. Prefect runs for real, under one session-scoped test harness (about 20 s to start)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

# Before anything imports prefect: keep its state in a temp folder and telemetry off.
_PREFECT_HOME = tempfile.mkdtemp(prefix="osteoscreen-prefect-")
os.environ["PREFECT_HOME"] = _PREFECT_HOME
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def pytest_configure(config):
    config.addinivalue_line("markers", "prefect: the test runs a Prefect flow (starts the session harness)")


@pytest.fixture(scope="session")
def prefect_harness():
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=90):
        yield


@pytest.fixture(autouse=True)
def _prefect_if_needed(request):
    """Start the harness only for tests that run flows (marked `prefect` or in a *flow* module)."""
    if request.node.get_closest_marker("prefect") or "flow" in request.module.__name__:
        request.getfixturevalue("prefect_harness")
    yield


@pytest.fixture
def db_path(tmp_path) -> Path:
    return tmp_path / "test.duckdb"


@pytest.fixture
def con(db_path):
    from screening.database import open_database

    c = open_database(db_path)
    yield c
    c.close()


def write_ndjson(path: Path, lines: list) -> Path:
    """Write dicts (as JSON) or raw str/bytes lines; returns the path."""
    import orjson

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        for line in lines:
            if isinstance(line, dict):
                fh.write(orjson.dumps(line) + b"\n")
            elif isinstance(line, str):
                fh.write(line.encode() + b"\n")
            else:
                fh.write(line + b"\n")
    return path
