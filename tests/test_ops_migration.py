"""Issue 12.1: a database written by the previous release (v0.1.0 schema, tests/data/v0_1_0_core.sql = `git show
5b422b2:sql/schema/01_core.sql`) is migrated forward on open; nothing in it and nothing beside it is lost."""

from __future__ import annotations

import hashlib
import stat
from datetime import date
from pathlib import Path

import duckdb
import pytest

from screening.database import open_database
from screening.errors import DatabaseError
from screening.migrations import SCHEMA_VERSION, stored_version

V010 = Path(__file__).parent / "data" / "v0_1_0_core.sql"
TABLES = ["load_run", "resource_raw", "quarantine", "bundle_ref_map", "deleted_resource"]


def previous_release_db(path: Path) -> None:
    con = duckdb.connect(str(path))
    con.execute(V010.read_text())
    con.execute("INSERT INTO load_run VALUES ('r1', now(), now(), '/old', 1, 0, 2, 1, 1, 1, 0, 0, 0, 'committed')")
    con.execute("INSERT INTO resource_raw VALUES ('Patient', 'p-old', '1', NULL, 'f.ndjson', 1, NULL, 'r1', 1, "
                "'{\"resourceType\":\"Patient\",\"id\":\"p-old\"}')")
    con.execute("INSERT INTO quarantine VALUES ('r1', 'f.ndjson', 2, NULL, 'Observation', 'o1', 'valueQuantity', "
                "'not a number', 'raw'::BLOB)")
    con.close()


def snapshot_rows(con) -> dict:
    return {t: sorted(map(repr, con.execute(f"SELECT * FROM {t}").fetchall())) for t in TABLES}  # noqa: S608


def test_previous_release_database_is_migrated_without_loss(tmp_path):
    db = tmp_path / "old.duckdb"
    previous_release_db(db)
    # Human-entered data lives beside the database (dispositions file): migration must not touch it.
    side = tmp_path / "old.dispositions.duckdb"
    dcon = duckdb.connect(str(side))
    dcon.execute("CREATE TABLE disposition AS SELECT 'p-old' AS patient_id, 'called, booked DXA' AS note")
    dcon.close()
    side_digest = hashlib.sha256(side.read_bytes()).hexdigest()
    before_con = duckdb.connect(str(db), read_only=True)
    before = snapshot_rows(before_con)
    assert stored_version(before_con) == (1, None)
    before_con.close()

    con = open_database(db)
    version, digest = stored_version(con)
    assert version == SCHEMA_VERSION and digest
    after = snapshot_rows(con)
    for t in TABLES:  # every old row is still there (columns may have been added at the end)
        old_rows = {r.rstrip(")") for r in before[t]}
        assert all(any(a.startswith(o) for a in after[t]) for o in old_rows), t
    (backup,) = con.execute("SELECT backup FROM schema_version WHERE backup IS NOT NULL").fetchone()
    con.close()
    assert stat.S_IMODE(Path(backup).stat().st_mode) == 0o600
    bcon = duckdb.connect(backup, read_only=True)
    assert snapshot_rows(bcon) == before  # the pre-migration copy is the old database, unchanged
    bcon.close()
    assert hashlib.sha256(side.read_bytes()).hexdigest() == side_digest

    # Opening again is a no-op, and the migrated database runs the pipeline.
    con = open_database(db)
    assert con.execute("SELECT count(*) FROM schema_version").fetchone()[0] == 1
    con.close()
    from screening.pipeline import run_pipeline
    from tests.test_ops_snapshot import tiny_population

    summary = run_pipeline(tiny_population(tmp_path / "src"), db, tmp_path / "out", date(2026, 6, 30))
    assert summary["load"]["loaded"] > 0
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT count(*) FROM resource_raw WHERE id = 'p-old'").fetchone()[0] == 1
    con.close()


def test_database_from_a_newer_release_is_refused(tmp_path):
    db = tmp_path / "new.duckdb"
    open_database(db).close()
    con = duckdb.connect(str(db))
    con.execute("INSERT INTO schema_version VALUES (?, '9.9.9', 'x', now(), NULL)", [SCHEMA_VERSION + 1])
    con.close()
    with pytest.raises(DatabaseError, match="newer osteoscreen"):
        open_database(db)
