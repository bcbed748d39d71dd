"""The Ray head ``delfin-dm up`` starts on this machine when no cluster address is given, and how
``down`` (or Ctrl-C) stops exactly that one.

- **Loopback only**: started with ``--node-ip-address 127.0.0.1`` and
  ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``, Ray's switch for a machine-local cluster: the GCS, the
  raylet, the agents and every worker listen on 127.0.0.1 (checked by tests/test_make_run.py).
  A process that joins it does the same (``rayactors.runtime.loopback_only``), or Ray would
  rewrite 127.0.0.1 to the machine's own address before connecting.
- **Its own process**: ``ray start --head`` daemonises the cluster, so ``up --detach`` can exit
  and leave it running.
- **Stopped exactly**: by the processes whose command line names its session, never with
  ``ray stop`` (which stops every Ray cluster on the machine).
- **No secrets inherited**: the API token is not in the environment it starts with.
- **A token of its own**: Ray's cluster token is written first where none is given
  (``rayactors.ray_token``): ``ray start`` makes none.
- **A failed start is said, not thrown**: ``StartFailed`` with Ray's last line, which the CLI
  prints.

Its address and session are kept in ``<data_dir>/cluster.json`` while it runs.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any, Optional

from rayactors.ray_env import node_env
from rayactors.ray_token import ensure_token

LOOPBACK_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
SECRET_ENV = ("DELFIN_DM_API_TOKEN",)
STATE_FILE = "cluster.json"


class StartFailed(Exception):
    """``delfin-dm up`` could not start what it starts (its Ray head, its HTTP listener); the
    message says why in one line (the CLI prints it and exits with 2)."""


def _forget_current_cluster(address: Optional[str]) -> None:
    """``ray start`` records its head in /tmp/ray/ray_current_cluster, and a later ``ray.init()``
    with no address joins whatever that names, dead or alive: remove it when it names ours."""
    marker = Path("/tmp/ray/ray_current_cluster")
    try:
        if address and marker.read_text().strip() == address:
            marker.unlink()
    except OSError:
        pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(data_dir: str, num_cpus: Optional[int] = None) -> str:
    """Start a head on 127.0.0.1; returns its address (``127.0.0.1:<port>``)."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in SECRET_ENV}
    env.update(LOOPBACK_ENV)
    env = node_env(env)
    ensure_token(env)
    ray = str(Path(sys.executable).with_name("ray"))
    cmd = [ray, "start", "--head", "--node-ip-address=127.0.0.1", f"--port={port}", "--include-dashboard=false",
           "--disable-usage-stats"] + ([f"--num-cpus={num_cpus}"] if num_cpus else [])
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180)
    if done.returncode != 0:
        said = (done.stderr.strip() or done.stdout.strip()).splitlines()[-1:]
        raise StartFailed(f"ray start failed: {said[0] if said else f'exit status {done.returncode}'}")
    address = f"127.0.0.1:{port}"
    _write(data_dir, {"address": address, "session": None, "pid": os.getpid()})
    return address


def remember_session(data_dir: str, session: str) -> None:
    state = load(data_dir) or {}
    _write(data_dir, {**state, "session": session})


def load(data_dir: str) -> Optional[dict[str, Any]]:
    try:
        return json.loads((Path(data_dir) / STATE_FILE).read_text())
    except (OSError, ValueError):
        return None


def _write(data_dir: str, state: dict[str, Any]) -> None:
    path = Path(data_dir)
    path.mkdir(parents=True, exist_ok=True)
    tmp = path / (STATE_FILE + ".tmp")
    tmp.write_text(json.dumps(state))
    tmp.replace(path / STATE_FILE)


#: the GCS goes last: what reports to it ends promptly while it runs. The autoscaler's monitor
#: is the telling case: SIGTERM ends it at once while the GCS answers, and not at all once the
#: GCS is gone (measured: still running 30 s after)
_LAST = "gcs_server"
#: how long the GCS gets after SIGTERM, once the rest is gone; then SIGKILL
LAST_GRACE_S = 3.0


def stop(data_dir: str, timeout: float = 20.0) -> int:
    """Stop the head ``start`` made (its session's processes); returns how many were stopped.

    In two steps, as ``ray stop`` orders them: the workers, the raylet, the agents and the
    monitor (SIGTERM, up to ``timeout``, then SIGKILL), then the GCS. Terminated all at once,
    the GCS and the monitor were both still running after 20 s (``down`` took 29 s); in this
    order each step takes 2-3 s (``down`` 14 s, most of it Serve's shutdown)."""
    import psutil
    state = load(data_dir)
    (Path(data_dir) / STATE_FILE).unlink(missing_ok=True)
    _forget_current_cluster((state or {}).get("address"))
    session = (state or {}).get("session")
    if not session:
        return 0
    found: dict[int, Any] = {}
    for p in psutil.process_iter(["cmdline"]):
        try:
            if p.pid != os.getpid() and session in " ".join(p.info["cmdline"] or []):
                # and their children: workers rename themselves (ray::Supervisor, ...)
                for q in [p, *p.children(recursive=True)]:
                    found[q.pid] = q
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    last = {pid: p for pid, p in found.items() if _is_last(p)}
    _end([p for pid, p in found.items() if pid not in last], timeout)
    _end(list(last.values()), LAST_GRACE_S)
    return len(found)


def _is_last(proc: Any) -> bool:
    import psutil
    try:
        return proc.name() == _LAST
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def _end(procs: list[Any], grace_s: float) -> None:
    """SIGTERM, then SIGKILL what is left after ``grace_s``."""
    import psutil
    for p in procs:
        try:
            p.terminate()
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(procs, timeout=grace_s)
    for p in alive:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass
