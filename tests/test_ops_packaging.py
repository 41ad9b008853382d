"""Issue 12.1: the built wheel carries sql/, config/ and prefect.yaml, installs into a fresh venv outside the
checkout and runs the demo there; --version, -h, environment variables and the site config folder work."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    build = tmp_path_factory.mktemp("build")  # keep build/ out of the checkout
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                    str(out), str(ROOT)], check=True, cwd=build, env={**os.environ, "TMPDIR": str(build)})
    (whl,) = out.glob("osteoscreen-*.whl")
    return whl


def test_wheel_carries_sql_config_and_deployments(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped_sql = {f"screening/_sql/{p.relative_to(ROOT / 'sql')}" for p in (ROOT / "sql").rglob("*") if p.is_file()}
    shipped_cfg = {f"screening/_config/{p.relative_to(ROOT / 'config')}" for p in (ROOT / "config").rglob("*")
                   if p.is_file()}
    assert shipped_sql and shipped_sql <= names
    assert shipped_cfg and shipped_cfg <= names
    assert "screening/_deploy/prefect.yaml" in names
    assert "flows/nightly.py" in names


@pytest.mark.slow
def test_wheel_in_a_fresh_venv_runs_the_demo(wheel, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    py = venv / "bin" / "python"
    # Dependencies come from this environment's site-packages (a plain path entry: its .pth files, among them
    # the editable install of the checkout, are not processed); osteoscreen itself only from the wheel.
    site = Path(subprocess.check_output([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                        text=True).strip())
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "-q", str(wheel)],
                   check=True)
    work = tmp_path / "site"  # outside the checkout
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_API", "OSTEOSCREEN"))}
    env["PREFECT_HOME"] = str(tmp_path / "prefect-home")
    where = subprocess.check_output([py, "-c", "import screening.paths as p; print(p.SQL_DIR); print(p.CONFIG_DIR)"],
                                    cwd=work, env=env, text=True).split()
    assert all(Path(w).is_relative_to(venv) for w in where), where
    exe = venv / "bin" / "osteoscreen"
    version = subprocess.run([exe, "--version"], cwd=work, env=env, capture_output=True, text=True)
    assert version.returncode == 0 and version.stdout.startswith("osteoscreen 0.1.0")
    subprocess.run([exe, "synth", "--patients", "60", "--seed", "7", "--as-of", "2026-06-30", "--out", "syn"],
                   cwd=work, env=env, check=True, capture_output=True)
    run = subprocess.run([exe, "run", "--source", "syn", "--as-of", "2026-06-30"], cwd=work,
                         env={**env, "OSTEOSCREEN_DB": str(work / "data" / "w.duckdb"),
                              "OSTEOSCREEN_OUT": str(work / "result")}, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert (work / "result" / "worklist.csv").read_text().startswith("patient_id,mrn,name")
    assert (work / "data" / "w.analytics.duckdb").is_file() and (work / "result" / "run-report.md").is_file()
    assert not (work / ".prefect").exists(), "a plain run must not start Prefect"


def _cli(*args, env=None, cwd=None):
    return subprocess.run([BIN / "osteoscreen", *args], capture_output=True, text=True, env=env, cwd=cwd)


def test_version_help_and_env_defaults(tmp_path):
    r = _cli("--version")
    assert r.returncode == 0 and "database schema" in r.stdout
    h = _cli("run", "-h", env={**os.environ, "COLUMNS": "400", "TERM": "dumb"})
    assert h.returncode == 0
    text = " ".join(h.stdout.replace("│", " ").split())
    for fragment in ("OSTEOSCREEN_DB", "OSTEOSCREEN_OUT", "OSTEOSCREEN_SOURCE", "default: osteoscreen.duckdb",
                     "default: out", "(today)"):
        assert fragment in text, fragment
    missing = _cli("run", env={**os.environ, "OSTEOSCREEN_SOURCE": str(tmp_path / "nowhere")})
    assert missing.returncode == 3 and "nowhere" in missing.stderr


def test_site_config_folder_overrides_file_by_file(tmp_path, monkeypatch):
    from screening.codes import load_code_tables
    from screening.paths import CONFIG_DIR, config_dirs
    from screening.settings import load_settings

    site = tmp_path / "site-config"
    (site / "valuesets").mkdir(parents=True)
    (site / "settings.toml").write_text("[housekeeping]\nlanding_days = 7\n")
    shipped = (CONFIG_DIR / "valuesets" / "myeloma.csv").read_text()
    (site / "valuesets" / "myeloma.csv").write_text(shipped + "http://hl7.org/fhir/sid/icd-10-cm,C88.0,site-added,"
                                                    "prefix,\n")
    monkeypatch.setenv("OSTEOSCREEN_CONFIG", str(site))
    s = load_settings(None)
    assert s.params["housekeeping_landing_days"] == 7 and s.params["housekeeping_run_history_days"] == 31
    assert config_dirs() == [CONFIG_DIR, site]
    import duckdb

    con = duckdb.connect()
    load_code_tables(con, s.config_dirs)
    displays = {r[0] for r in con.execute("SELECT display FROM vs_code WHERE concept = 'myeloma'").fetchall()}
    assert "site-added" in displays and "Multiple myeloma" in displays
    monkeypatch.setenv("OSTEOSCREEN_CONFIG", str(tmp_path / "absent"))
    from screening.errors import ConfigError

    with pytest.raises(ConfigError):
        load_settings(None)


def test_valuesets_import_writes_into_the_site_config_folder(tmp_path):
    from tests.test_codes import MYELOMA_VS

    site = tmp_path / "site"
    site.mkdir()
    r = _cli("valuesets", "import", str(MYELOMA_VS), "--name", "myeloma_site",
             env={**os.environ, "OSTEOSCREEN_CONFIG": str(site)}, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    written = site / "valuesets" / "myeloma_site.csv"
    assert written.is_file() and "myeloma_site" in r.stdout
    assert not (tmp_path / "config").exists()
