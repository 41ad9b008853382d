"""CLI error paths through the installed console script (`.venv/bin/osteoscreen`) in a subprocess: one clear
line on stderr, no traceback, and the documented exit code per failure kind (README, "Exit codes").

None of these tests starts a Prefect server: `run` fails its checks (source, config, lock, database) before
the flow starts, and the other commands never start one.
"""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import duckdb
import orjson
import pytest

from tests.conftest import write_ndjson

ROOT = Path(__file__).resolve().parents[1]
OSTEOSCREEN = Path(sys.executable).parent / "osteoscreen"  # the console script of the venv running the tests


def cli(*args: str, cwd: Path | None = None, env: dict | None = None, preexec=None,
        timeout: float = 300) -> subprocess.CompletedProcess:
    assert OSTEOSCREEN.exists(), f"{OSTEOSCREEN}: install the package first (make setup)"
    return subprocess.run([str(OSTEOSCREEN), *args], capture_output=True, text=True, cwd=cwd or ROOT,
                          timeout=timeout, env={**os.environ, **(env or {})}, preexec_fn=preexec)


def one_clear_line(p: subprocess.CompletedProcess) -> str:
    assert "Traceback" not in p.stderr, p.stderr
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, p.stderr
    return lines[0]


@pytest.fixture
def small_source(tmp_path) -> Path:
    return write_ndjson(tmp_path / "src" / "Patient.ndjson",
                        [{"resourceType": "Patient", "id": "p1", "birthDate": "1950-01-01"}]).parent


def run_args(source: Path, db: Path, tmp_path: Path, *extra: str) -> list[str]:
    return ["run", "--source", str(source), "--db", str(db), "--out", str(tmp_path / "out"),
            "--as-of", "2026-01-01", *extra]


# -- input, database, usage ---------------------------------------------------------------------------------

def test_missing_source_path(tmp_path):
    p = cli("load", "--source", str(tmp_path / "nope"), "--db", str(tmp_path / "x.duckdb"))
    assert p.returncode == 3 and "no such file or directory" in one_clear_line(p)


def test_empty_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    p = cli(*run_args(tmp_path / "empty", tmp_path / "x.duckdb", tmp_path))
    assert p.returncode == 3 and "no FHIR files" in one_clear_line(p)


def test_unreadable_duckdb_file(tmp_path, small_source):
    bad = tmp_path / "garbage.duckdb"
    bad.write_bytes(b"this is not a database" * 1000)
    p = cli("load", "--source", str(small_source), "--db", str(bad))
    assert p.returncode == 4 and str(bad) in one_clear_line(p)
    p = cli("query", "--db", str(bad), "SELECT 1")
    assert p.returncode == 4 and str(bad) in one_clear_line(p)
    p = cli(*run_args(small_source, bad, tmp_path))  # run --db on a non-database: no traceback
    assert p.returncode == 4 and "not a DuckDB database" in one_clear_line(p)
    assert bad.read_bytes() == b"this is not a database" * 1000, "the foreign file is left as it was"
    fifo = tmp_path / "pipe.duckdb"
    os.mkfifo(fifo)
    for args in (["load", "--source", str(small_source), "--db", str(fifo)],
                 ["query", "--db", str(fifo), "SELECT 1"],
                 run_args(small_source, fifo, tmp_path),
                 ["load", "--source", str(small_source), "--db", str(tmp_path)]):
        p = cli(*args, timeout=120)  # a pipe or a folder as --db: a clear line, never a hang
        assert p.returncode == 4 and "not a regular file" in one_clear_line(p), p.stderr


def test_duckdb_file_from_another_tool(tmp_path):
    other = tmp_path / "other.duckdb"
    con = duckdb.connect(str(other))
    con.execute("CREATE TABLE sales (x INT)")
    con.close()
    p = cli("query", "--db", str(other), "SELECT * FROM sales")
    assert p.returncode == 4 and "not an osteoscreen database" in one_clear_line(p)


def test_missing_database_for_query(tmp_path):
    p = cli("query", "--db", str(tmp_path / "none.duckdb"), "SELECT 1")
    assert p.returncode == 4 and "no such database file" in one_clear_line(p)
    p = cli("query", "--write", "--db", str(tmp_path / "no" / "such" / "none.duckdb"), "SELECT 1")
    assert p.returncode == 4 and "no such database file" in one_clear_line(p)
    assert not (tmp_path / "no").exists() and not (tmp_path / "none.duckdb").exists()


def test_bad_as_of_is_a_usage_error(tmp_path, small_source):
    p = cli("run", "--source", str(small_source), "--db", str(tmp_path / "x.duckdb"), "--as-of", "31/12/2026")
    assert p.returncode == 2 and "YYYY-MM-DD" in p.stderr and "Traceback" not in p.stderr
    p = cli("load", "--no-such-option")
    assert p.returncode == 2 and "No such option" in p.stderr


def test_bad_sql_in_query(tmp_path, small_source):
    db = tmp_path / "x.duckdb"
    assert cli("load", "--source", str(small_source), "--db", str(db)).returncode == 0
    p = cli("query", "--db", str(db), "SELEC nonsense")
    assert p.returncode == 4 and one_clear_line(p).startswith("error: query failed")


def test_query_is_read_only_by_default(tmp_path, small_source):
    db = tmp_path / "x.duckdb"
    assert cli("load", "--source", str(small_source), "--db", str(db)).returncode == 0
    p = cli("query", "--db", str(db), "DELETE FROM patient")
    assert p.returncode == 4 and "read-only" in one_clear_line(p).lower()
    p = cli("query", "--db", str(db), "--csv", "SELECT id, birth_date FROM patient")
    assert p.returncode == 0 and p.stdout.splitlines() == ["id,birth_date", "p1,1950-01-01"]


def test_database_folder_is_created_or_fails_clearly(tmp_path, small_source):
    p = cli("load", "--source", str(small_source), "--db", str(tmp_path / "new" / "dir" / "x.duckdb"))
    assert p.returncode == 0 and (tmp_path / "new" / "dir" / "x.duckdb").exists()
    assert oct((tmp_path / "new" / "dir").stat().st_mode & 0o777) == "0o700"
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    p = cli("load", "--source", str(small_source), "--db", str(blocker / "x.duckdb"))
    assert p.returncode == 7 and "cannot create the database folder" in one_clear_line(p)


def test_second_writer_fails_clearly_and_readers_share(tmp_path, small_source):
    db = tmp_path / "x.duckdb"
    assert cli("load", "--source", str(small_source), "--db", str(db)).returncode == 0
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys; c = duckdb.connect(sys.argv[1]); "
         "print('locked', flush=True); sys.stdin.read()", str(db)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        p = cli("load", "--source", str(small_source), "--db", str(db))
        assert p.returncode == 4 and "in use by another" in one_clear_line(p)
        p = cli("query", "--db", str(db), "SELECT 1")
        assert p.returncode == 4 and "in use by another" in one_clear_line(p)
    finally:
        holder.kill()
        holder.wait()
    # No writer: two readers at once are fine.
    readers = [subprocess.Popen([str(OSTEOSCREEN), "query", "--db", str(db), "--csv",
                                 "SELECT count(*) AS n FROM patient"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
               for _ in range(2)]
    outs = [r.communicate(timeout=120) for r in readers]
    assert all(r.returncode == 0 for r in readers), outs
    assert all(o[0].splitlines() == ["n", "1"] for o in outs)


# -- configuration ------------------------------------------------------------------------------------------

def test_malformed_config_fails_before_the_flow(tmp_path, small_source):
    cfg = tmp_path / "cfg"
    cfg.mkdir()
    (cfg / "settings.toml").write_text("[lookback\ndxa_months = 36\n")
    args = run_args(small_source, tmp_path / "x.duckdb", tmp_path, "--config", str(cfg))
    p = cli(*args)
    assert p.returncode == 5 and "not valid TOML" in one_clear_line(p)
    (cfg / "settings.toml").write_text("[lookback]\ndxa_months = 'three years'\n")
    p = cli(*args)
    assert p.returncode == 5 and "dxa_months" in one_clear_line(p)
    (cfg / "settings.toml").unlink()
    (cfg / "local").mkdir()
    (cfg / "local" / "dxa_z_score.csv").write_text("system,code\nhttp://nobody.example/x,Z1\n")
    p = cli(*args)
    assert p.returncode == 5 and "unknown code system" in one_clear_line(p)
    assert not (tmp_path / "x.duckdb").exists(), "nothing ran"


def _scalar_and_table_settings() -> list[tuple[str, str, str]]:
    """(section, key, where) for every number in the shipped settings: scalars and table cells alike."""
    import tomllib

    raw = tomllib.loads((ROOT / "config" / "settings.toml").read_text())
    out = []

    def walk(node: dict, path: tuple) -> None:
        for k, v in node.items():
            if isinstance(v, dict):
                walk(v, (*path, k))
            elif isinstance(v, int | float) and not isinstance(v, bool):
                out.append((".".join(path), k, ".".join((*path, k))))
    walk(raw, ())
    return out


@pytest.mark.parametrize("bad", ["inf", "-inf", "nan", "+nan", "1e999", "99999999999999999999999"])
def test_non_finite_number_in_settings_is_a_config_error(tmp_path, small_source, bad):
    """Every non-finite (or beyond-64-bit) spelling, planted in a scalar and a table cell picked from the
    shipped settings by the test, ends in exit 5 with the setting named, before the flow starts."""
    settings = _scalar_and_table_settings()
    scalar = next(s for s in settings if s[0] == "dxa")
    table = next(s for s in settings if s[0] == "labs.default_range")
    for section, key, where in (scalar, table):
        cfg = tmp_path / f"cfg-{key}"
        cfg.mkdir(exist_ok=True)
        (cfg / "settings.toml").write_text(f"[{section}]\n{key} = {bad}\n")
        p = cli(*run_args(small_source, tmp_path / "x.duckdb", tmp_path, "--config", str(cfg)))
        line = one_clear_line(p)
        assert p.returncode == 5, p.stderr
        assert where in line and ("finite" in line or "out of range" in line), line
    assert not (tmp_path / "x.duckdb").exists(), "nothing ran"


# -- schema drift -------------------------------------------------------------------------------------------

DRIFTS = {
    "drop column": ("ALTER TABLE quarantine DROP COLUMN reason", "quarantine", "reason"),
    "rename column": ("ALTER TABLE resource_raw RENAME COLUMN body TO payload", "resource_raw", "body"),
    "change type": ("ALTER TABLE load_run ALTER COLUMN files TYPE VARCHAR", "load_run", "files"),
    "add column": ("ALTER TABLE deleted_resource ADD COLUMN note VARCHAR", "deleted_resource", "note"),
}


@pytest.mark.parametrize("drift", sorted(DRIFTS))
def test_schema_drift_is_a_clear_database_error(tmp_path, small_source, drift):
    statement, table, column = DRIFTS[drift]
    db = tmp_path / "x.duckdb"
    assert cli("load", "--source", str(small_source), "--db", str(db)).returncode == 0
    con = duckdb.connect(str(db))
    con.execute(statement)
    (before,) = con.execute("SELECT count(*) FROM resource_raw").fetchone()
    con.close()
    for args in (["load", "--source", str(small_source), "--db", str(db)],
                 run_args(small_source, db, tmp_path)):
        p = cli(*args)
        line = one_clear_line(p)
        assert p.returncode == 4, p.stderr
        assert f"table {table} was altered" in line and column in line, line
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT count(*) FROM resource_raw").fetchone() == (before,), "nothing was written"
    con.close()


# -- disk full ----------------------------------------------------------------------------------------------

def _big_source(folder: Path, n: int = 40_000) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "Patient.ndjson", "wb") as fh:
        for i in range(n):
            fh.write(orjson.dumps({"resourceType": "Patient", "id": f"big{i}", "birthDate": "1950-01-01",
                                   "name": [{"family": f"Family{i:06d}" * 8}]}) + b"\n")
    return folder


@contextlib.contextmanager
def _tiny_tmpfs(where: Path, size: str = "4m"):
    where.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(where)],
                             capture_output=True)
    if mounted.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root with CAP_SYS_ADMIN); the RLIMIT_FSIZE case runs")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def _fsize_limit(limit: int):
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # over the limit, write() fails with EFBIG instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


@pytest.mark.parametrize("how", ["tmpfs", "rlimit"])
def test_disk_full_is_a_clear_error_and_loses_nothing(tmp_path, small_source, how):
    """A real full file system (a 4 MiB tmpfs) and a file-size limit on the process: exit 11, one line, and the
    database keeps what an earlier load committed."""
    big = _big_source(tmp_path / "big")
    with contextlib.ExitStack() as stack:
        if how == "tmpfs":
            folder = stack.enter_context(_tiny_tmpfs(tmp_path / "mnt"))
            preexec = None
        else:
            folder = tmp_path / "limited"
            folder.mkdir()
            preexec = _fsize_limit(3 * 1024 * 1024)
        db = folder / "x.duckdb"
        assert cli("load", "--source", str(small_source), "--db", str(db)).returncode == 0
        p = cli("load", "--source", str(big), "--db", str(db), preexec=preexec)
        line = one_clear_line(p)
        assert p.returncode == 11, p.stderr
        assert "no space left" in line and str(folder) in line, line
        q = cli("query", "--db", str(db), "--csv", "SELECT count(*) AS n FROM patient")
        assert q.returncode == 0 and q.stdout.splitlines() == ["n", "1"], q.stderr
        assert "Family000001" not in p.stderr


# -- the writer lock ----------------------------------------------------------------------------------------

@contextlib.contextmanager
def lock_holder(db: Path, create: bool = True):
    """Another process holding the writer lock on `db` (as a run does from start to end)."""
    code = ("import sys; from pathlib import Path; from screening.runlock import database_lock\n"
            "with database_lock(Path(sys.argv[1]), create=sys.argv[2] == '1'):\n"
            "    print('locked', flush=True); sys.stdin.read()")
    holder = subprocess.Popen([sys.executable, "-c", code, str(db), "1" if create else "0"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert holder.stdout.readline().strip() == "locked"
        yield holder
    finally:
        holder.kill()
        holder.wait()


def writing_commands(db: Path, source: Path, tmp_path: Path) -> dict[str, list[str]]:
    return {
        "run": run_args(source, db, tmp_path),
        "load": ["load", "--source", str(source), "--db", str(db)],
        "query --write": ["query", "--write", "--db", str(db), "DELETE FROM patient"],
    }


@pytest.mark.parametrize("alias", ["same path", "hard link", "symlink", "other spelling"])
def test_every_writer_is_locked_out_whatever_the_path(tmp_path, small_source, alias):
    db = tmp_path / "x.duckdb"
    assert cli("load", "--source", str(small_source), "--db", str(db)).returncode == 0
    other = {
        "same path": db,
        "hard link": tmp_path / "linked.duckdb",
        "symlink": tmp_path / "sym" / "x.duckdb",
        "other spelling": tmp_path / "src" / ".." / "." / "x.duckdb",
    }[alias]
    if alias == "hard link":
        os.link(db, other)
    elif alias == "symlink":
        (tmp_path / "sym").symlink_to(tmp_path, target_is_directory=True)
    with lock_holder(db):
        for name, args in writing_commands(other, small_source, tmp_path).items():
            p = cli(*args)
            line = one_clear_line(p)
            assert p.returncode == 4, (name, p.stderr)
            assert "another osteoscreen process" in line and "writing to this database" in line, (name, line)
        p = cli("query", "--db", str(other), "--csv", "SELECT count(*) AS n FROM patient")  # readers pass
        assert p.returncode == 0 and p.stdout.splitlines() == ["n", "1"], p.stderr
    p = cli(*writing_commands(other, small_source, tmp_path)["query --write"])  # lock released: writes
    assert p.returncode == 0, p.stderr


def test_lock_held_through_a_hard_link_blocks_the_original(tmp_path, small_source):
    db = tmp_path / "x.duckdb"
    assert cli("load", "--source", str(small_source), "--db", str(db)).returncode == 0
    os.link(db, tmp_path / "linked.duckdb")
    with lock_holder(tmp_path / "linked.duckdb"):
        for name, args in writing_commands(db, small_source, tmp_path).items():
            p = cli(*args)
            assert p.returncode == 4 and "writing to this database" in one_clear_line(p), (name, p.stderr)


def test_a_database_not_created_yet_is_locked_on_its_path(tmp_path, small_source):
    db = tmp_path / "new.duckdb"
    with lock_holder(db, create=False):
        assert not db.exists()
        for args in (["load", "--source", str(small_source), "--db", str(tmp_path / "." / "new.duckdb")],
                     run_args(small_source, db, tmp_path)):
            p = cli(*args)
            assert p.returncode == 4 and "writing to this database" in one_clear_line(p), p.stderr
        assert not db.exists()
    with lock_holder(db, create=True):  # the holder creates it, 0600, and holds it by identity too
        assert db.exists() and oct(db.stat().st_mode & 0o777) == "0o600"
        os.link(db, tmp_path / "linked.duckdb")
        p = cli("load", "--source", str(small_source), "--db", str(tmp_path / "linked.duckdb"))
        assert p.returncode == 4 and "writing to this database" in one_clear_line(p), p.stderr


def test_the_lock_is_released_when_the_holder_dies(tmp_path, small_source):
    db = tmp_path / "x.duckdb"
    with lock_holder(db) as holder:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        p = cli("load", "--source", str(small_source), "--db", str(db))
        assert p.returncode == 0, p.stderr


# -- no patient data in crash messages ---------------------------------------------------------------------

SECRET_NAME = "Wolfhartsteinerova"


def test_an_unexpected_crash_names_no_patient_value(tmp_path):
    """A real DuckDB error that quotes a patient's name (a cast of the family name, planted after the load
    through sitecustomize) must reach stderr as a generic line; with --debug the traceback shows it, which
    proves the exception really carried the value."""
    src = write_ndjson(tmp_path / "src" / "Patient.ndjson", [
        {"resourceType": "Patient", "id": "p1", "birthDate": "1950-01-01", "name": [{"family": SECRET_NAME}]}])
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(
        "import screening.pipeline as p\n"
        "_orig = p.load_source\n"
        "def load_source(con, source):\n"
        "    result = _orig(con, source)\n"
        "    con.execute(\"SELECT CAST(json_extract_string(body, '$.name[0].family') AS INTEGER) \"\n"
        "                \"FROM resource_raw\").fetchall()\n"
        "    return result\n"
        "p.load_source = load_source\n")
    env = {"PYTHONPATH": os.pathsep.join([str(hook), str(ROOT)])}
    p = cli("load", "--source", str(src), "--db", str(tmp_path / "x.duckdb"), env=env)
    line = one_clear_line(p)
    assert p.returncode == 1 and "unexpected" in line and "--debug" in line, p.stderr
    assert SECRET_NAME not in p.stderr + p.stdout
    d = cli("--debug", "load", "--source", str(src), "--db", str(tmp_path / "y.duckdb"), env=env)
    assert d.returncode == 1 and "Traceback" in d.stderr and SECRET_NAME in d.stderr  # positive control


def test_library_run_pipeline_creates_owner_only_files_whatever_the_umask(tmp_path):
    """`run_pipeline` (no CLI, umask 022) in an existing folder: database, its WAL, lock and worklist 0600."""
    folder = tmp_path / "existing"
    folder.mkdir(mode=0o755)
    os.chmod(folder, 0o755)
    src = write_ndjson(tmp_path / "src" / "Patient.ndjson",
                       [{"resourceType": "Patient", "id": "p1", "birthDate": "1950-01-01"}]).parent
    code = (
        "import os, stat, sys\n"
        "from datetime import date\n"
        "from pathlib import Path\n"
        "import screening.pipeline as p\n"
        "os.umask(0o022)\n"
        "db = Path(sys.argv[1]) / 'lib.duckdb'\n"
        "seen = []\n"
        "_orig = p.load_source\n"
        "def load_source(con, source):\n"
        "    result = _orig(con, source)\n"
        "    wal = Path(str(db) + '.wal')\n"
        "    seen.append(oct(stat.S_IMODE(wal.stat().st_mode)) if wal.exists() else 'no wal')\n"
        "    return result\n"
        "p.load_source = load_source\n"
        "p.run_pipeline(Path(sys.argv[2]), db, Path(sys.argv[1]), date(2026, 1, 1))\n"
        "print(seen[0], oct(os.umask(0o022)))\n")
    r = subprocess.run([sys.executable, "-c", code, str(folder), str(src)], capture_output=True, text=True,
                       cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=300)
    assert r.returncode == 0, r.stderr
    wal_mode, umask_after = r.stdout.split()
    assert wal_mode == "0o600", "the WAL written during the load is owner-only"
    assert umask_after == "0o22", "the caller's umask is restored"
    modes = {f.name: oct(f.stat().st_mode & 0o777) for f in folder.iterdir()}
    assert modes["lib.duckdb"] == "0o600" and modes["worklist.csv"] == "0o600", modes
    assert all(m == "0o600" for m in modes.values()), modes


# -- extract exit codes -------------------------------------------------------------------------------------

def test_extract_exit_codes_reach_the_process(tmp_path):
    """The codes users see: 6 refused, 8 unauthorised / unreadable key, 9 unreachable or TLS, 2 bad option."""
    from tests.servers.keys import self_signed_cert
    from tests.servers.testing import server

    def extract(*args: str) -> subprocess.CompletedProcess:
        return cli("extract", *args, "--no-progress", cwd=tmp_path)

    with server() as srv:
        srv.add_fault("outcome", "GET /fhir/Patient", status=403, times=100, text="not allowed")
        refused = extract("--fhir-url", srv.base_url, "--landing", str(tmp_path / "a"), "--search",
                          "--type", "Patient")
    with server(require_auth=True) as srv:
        unauth = extract("--fhir-url", srv.base_url, "--landing", str(tmp_path / "b"), "--search",
                         "--type", "Patient")
        badkey = extract("--fhir-url", srv.base_url, "--landing", str(tmp_path / "c"), "--client-id", "x",
                         "--private-key", str(tmp_path / "missing.pem"))
    with server(tls=self_signed_cert(tmp_path)) as srv:
        tls = extract("--fhir-url", srv.base_url, "--landing", str(tmp_path / "d"), "--search")
    badlevel = extract("--fhir-url", "http://127.0.0.1:9/fhir", "--level", "planet")
    for p, code, text in ((refused, 6, "HTTP 403"), (unauth, 8, "HTTP 401"), (badkey, 8, "cannot read"),
                          (tls, 9, "TLS certificate verification failed"), (badlevel, 2, "--level")):
        assert p.returncode == code, (code, p.stderr)
        assert text in one_clear_line(p)


def test_extract_ctrl_c_exits_130_and_cancels_the_export(tmp_path):
    from tests.servers.testing import server

    with server(polls_before_ready=10_000, poll_retry_after="1") as srv:
        proc = subprocess.Popen([str(OSTEOSCREEN), "extract", "--fhir-url", srv.base_url, "--landing",
                                 str(tmp_path / "l"), "--bulk", "--no-progress"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
        try:
            for _ in range(600):
                if srv.seen("GET", "bulkstatus"):
                    break
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(0.1)
                assert proc.poll() is None, proc.communicate()
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert proc.returncode == 130, err
        assert "interrupted" in err and "Traceback" not in err
        assert srv.seen("DELETE", "bulkstatus"), "the running export was cancelled at the server"


def test_console_script_is_the_one_tested():
    assert shutil.which("osteoscreen", path=str(OSTEOSCREEN.parent)) == str(OSTEOSCREEN)


def test_ctrl_c_during_a_load_exits_130_and_keeps_the_database(tmp_path, small_source):
    """SIGINT while the load is running (held inside the load by a sitecustomize hook that says when it is
    there): exit 130, one line, the earlier load still in the database, the writer lock released."""
    db = tmp_path / "x.duckdb"
    assert cli("load", "--source", str(small_source), "--db", str(db)).returncode == 0
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(
        "import sys, time\n"
        "import screening.pipeline as p\n"
        "def load_source(con, source):\n"
        "    print('loading', flush=True)\n"
        "    time.sleep(120)\n"
        "p.load_source = load_source\n")
    big = _big_source(tmp_path / "big", n=10)
    proc = subprocess.Popen([str(OSTEOSCREEN), "load", "--source", str(big), "--db", str(db)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
                            env={**os.environ, "PYTHONPATH": os.pathsep.join([str(hook), str(ROOT)])})
    try:
        assert proc.stdout.readline().strip() == "loading"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert [ln for ln in err.splitlines() if ln.strip()] == ["interrupted"]
    q = cli("query", "--write", "--db", str(db), "--csv", "SELECT count(*) AS n FROM patient")
    assert q.returncode == 0 and q.stdout.splitlines() == ["n", "1"], q.stderr


def test_library_writers_take_the_same_lock(tmp_path, small_source):
    """load_step, screen_step and run_pipeline (scripts, deployments) meet a running writer's lock too."""
    from datetime import date

    from screening import pipeline
    from screening.errors import DatabaseError

    db = tmp_path / "x.duckdb"
    pipeline.load_step(small_source, db)
    os.link(db, tmp_path / "linked.duckdb")
    with lock_holder(tmp_path / "linked.duckdb"):
        for name, call in {
            "load_step": lambda: pipeline.load_step(small_source, db),
            "screen_step": lambda: pipeline.screen_step(db, date(2026, 1, 1)),
            "run_pipeline": lambda: pipeline.run_pipeline(small_source, db, tmp_path / "out", date(2026, 1, 1)),
        }.items():
            with pytest.raises(DatabaseError, match="writing to this database"):
                call()
            assert not (tmp_path / "out").exists(), name
    assert pipeline.load_step(small_source, db)["records_read"] == 1  # released: writes again
