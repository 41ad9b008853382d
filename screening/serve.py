"""`osteoscreen serve`: the deployments of prefect.yaml served from one process (no work pool needed).

The schedule and parameters come from prefect.yaml (the same file `prefect deploy` reads), so the two ways of
running cannot drift apart. With PREFECT_API_URL set, serve registers against that server; otherwise it starts
a local Prefect server on 127.0.0.1 as its own child process, says where, and stops it on exit. The child is
tied to this process by PR_SET_PDEATHSIG, so a killed `serve` (or `run --prefect`) never leaves a server behind.
The flow-run processes the Prefect runner starts (`python -m prefect.engine`, or multiprocessing "spawn"; neither has
a preexec hook) get the same tie through `lifeline`: a tiny launcher that sets PR_SET_PDEATHSIG and then execs Python
(the setting survives exec) takes the place of the interpreter: a killed serve leaves no flow run retrying a dead API.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib
import multiprocessing
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import yaml

from screening.errors import ConfigError, OsteoscreenError

_PR_SET_PDEATHSIG = 1
_ENV_REF = re.compile(r"\{\{\s*\$([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


class ServeError(OsteoscreenError):
    exit_code = 6


def definition_path(path: Path | None = None) -> Path:
    """prefect.yaml: the given one, else the one beside the checkout, else the copy shipped in the wheel."""
    if path is not None:
        return Path(path)
    here = Path(__file__).resolve().parent
    for candidate in (here.parent / "prefect.yaml", here / "_deploy" / "prefect.yaml"):
        if candidate.is_file():
            return candidate
    raise ConfigError("prefect.yaml not found (give --file)")


def _expand(value, env: dict[str, str]):
    if isinstance(value, str):
        def sub(m: re.Match) -> str:
            if m.group(1) not in env:
                raise ConfigError(f"prefect.yaml needs the environment variable {m.group(1)}")
            return env[m.group(1)]
        return _ENV_REF.sub(sub, value)
    if isinstance(value, dict):
        return {k: _expand(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, env) for v in value]
    return value


def load_definitions(path: Path | None = None, names: list[str] | None = None,
                     env: dict[str, str] | None = None) -> list[dict]:
    """The deployments of prefect.yaml (optionally only `names`), `{{ $VAR }}` filled from the environment."""
    doc = yaml.safe_load(definition_path(path).read_text(encoding="utf-8")) or {}
    deployments = doc.get("deployments") or []
    if names:
        unknown = set(names) - {d["name"] for d in deployments}
        if unknown:
            raise ConfigError(f"prefect.yaml has no deployment {sorted(unknown)}")
        deployments = [d for d in deployments if d["name"] in names]
    env = dict(os.environ if env is None else env)
    return [_expand(d, env) for d in deployments]


def _flow_of(entrypoint: str):
    """`flows.nightly.nightly` (or `flows/nightly.py:nightly`) -> the flow object, imported as a module, so it
    works from a wheel too."""
    if ":" in entrypoint:
        file, _, attr = entrypoint.partition(":")
        module = file.removesuffix(".py").replace("/", ".")
    else:
        module, _, attr = entrypoint.rpartition(".")
    return getattr(importlib.import_module(module), attr)


def to_deployments(definitions: list[dict]) -> list:
    from prefect.client.schemas.schedules import construct_schedule

    out = []
    for d in definitions:
        schedules = [construct_schedule(cron=s["cron"], timezone=s.get("timezone")) if "cron" in s
                     else construct_schedule(interval=s["interval"], timezone=s.get("timezone"))
                     for s in d.get("schedules") or []]
        out.append(_flow_of(d["entrypoint"]).to_deployment(
            name=d["name"], description=d.get("description"), parameters=d.get("parameters") or {},
            schedules=schedules or None))
    return out


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _die_with_parent() -> None:  # runs in the child between fork and exec
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


_LIFELINE_ENV = "OSTEOSCREEN_LIFELINE_PARENT"
_LIFELINE = """#!{python}
# osteoscreen lifeline: written by `osteoscreen serve`; die with the process that started us, then become Python.
import ctypes, os, signal, sys
ctypes.CDLL("libc.so.6", use_errno=True).prctl({option}, signal.SIGKILL)
parent = os.environ.get("{env}")
if parent and os.getppid() != int(parent):  # the parent died before prctl took effect: go now
    os._exit(137)
os.execv({python!r}, [{python!r}, *sys.argv[1:]])
"""


def lifeline(folder: Path) -> Path | None:
    """Make the flow-run processes Prefect's runner starts from here die with this process (Linux).

    The runner starts a run as `sys.executable -m prefect.engine` through `prefect.runner._starter_engine.run_process`
    (the module documents patching it as the way to override) or, for in-memory flows, with multiprocessing's spawn
    method (`multiprocessing.get_executable()`); both fork+exec without a preexec hook, so the launcher takes the
    interpreter's place and does the prctl itself. It lives in `folder` (owner-only) under a fixed name, so killed
    serves leave no stray files either. Returns the launcher, or None where PR_SET_PDEATHSIG does not exist.
    """
    if not sys.platform.startswith("linux"):
        return None
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    target = folder / "osteoscreen-lifeline"
    tmp = folder / f".osteoscreen-lifeline.{os.getpid()}"
    tmp.write_text(_LIFELINE.format(python=sys.executable, option=_PR_SET_PDEATHSIG, env=_LIFELINE_ENV),
                   encoding="utf-8")
    tmp.chmod(0o700)
    os.replace(tmp, target)
    os.environ[_LIFELINE_ENV] = str(os.getpid())
    multiprocessing.set_executable(str(target))

    from prefect.runner import _starter_engine

    original = _starter_engine.run_process
    if not getattr(original, "osteoscreen_lifeline", False):
        async def run_process(command: list[str], **kwargs):
            if command and command[0] == sys.executable:
                command = [str(target), *command[1:]]
            return await original(command=command, **kwargs)

        run_process.osteoscreen_lifeline = True
        _starter_engine.run_process = run_process
    return target


@contextlib.contextmanager
def local_server(host: str = "127.0.0.1", port: int | None = None, timeout: float = 120.0,
                 log: Path | None = None) -> Iterator[str]:
    """A `prefect server start` child on loopback; yields its API URL and stops it on exit (or when we die)."""
    port = port or _free_port(host)
    env = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1",
           "PREFECT_UI_ENABLED": os.environ.get("PREFECT_UI_ENABLED", "true")}
    env.pop("PREFECT_API_URL", None)
    out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "prefect", "server", "start", "--host", host, "--port", str(port)],
        env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None)
    url = f"http://{host}:{port}/api"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise ServeError(f"the local Prefect server exited at start-up (code {proc.returncode})")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise ServeError(f"the local Prefect server did not answer on {url} within {timeout:.0f} s")
            time.sleep(0.5)
        yield url
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if log:
            out.close()


def serve(file: Path | None = None, names: list[str] | None = None, home: Path | None = None,
          port: int | None = None, echo=print) -> None:
    """Serve the deployments until interrupted. Runs happen in subprocesses of this process."""
    definitions = load_definitions(file, names)
    if home is not None:
        os.chdir(home)
    os.environ.setdefault("OSTEOSCREEN_HOME", str(Path.cwd()))
    with contextlib.ExitStack() as stack:
        if os.environ.get("PREFECT_API_URL"):
            echo(f"Prefect API: {os.environ['PREFECT_API_URL']} (from PREFECT_API_URL)")
        else:
            url = stack.enter_context(local_server(port=port))
            os.environ["PREFECT_API_URL"] = url
            echo(f"Prefect API: {url} (a local Prefect server started by osteoscreen serve; UI at "
                 f"{url.removesuffix('/api')}; it stops with this process)")
        # after PREFECT_API_URL is set: lifeline imports prefect, whose settings are read at import
        lifeline(Path(os.environ.get("PREFECT_HOME", Path.cwd() / ".prefect")))
        from prefect import serve as prefect_serve

        deployments = to_deployments(definitions)
        for d in definitions:
            when = ", ".join(f"{s.get('cron') or s.get('interval')} {s.get('timezone', '')}".strip()
                             for s in d.get("schedules") or []) or "unscheduled"
            echo(f"serving {_flow_of(d['entrypoint']).name}/{d['name']} ({when}) in {Path.cwd()}")
        prefect_serve(*deployments, print_starting_message=False)
