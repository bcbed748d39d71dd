"""Start a simulator process and drive its admin API (used by tests, bench, ``make run``)."""
from __future__ import annotations

import contextlib
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any, Iterator, Optional

import requests

from ..perf_catalog import format_resource_metrics

#: the stand-in ``naviseccli`` (Delfin's VNX block driver runs it by name): put this directory
#: first on the PATH of a host that runs that driver against a simulated array (``kind: vnx``)
NAVISECCLI_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bin")


def with_naviseccli(path: Optional[str]) -> str:
    """``path`` (a PATH value) with the stand-in ``naviseccli``'s directory first."""
    rest = [p for p in (path or "").split(os.pathsep) if p and p != NAVISECCLI_DIR]
    return os.pathsep.join([NAVISECCLI_DIR, *rest])


class SimulatorProcess:
    """A simulator subprocess on loopback; stop it with ``stop()`` (by its PID, never by name)."""

    _names = itertools.count()

    def __init__(self, arrays: int = 0, extra_args: Optional[list[str]] = None,
                 startup_timeout: float = 30.0, detached: bool = False, log_dir: Optional[str] = None) -> None:
        """``detached``: it outlives this process (its own session, no parent watch); stop it
        later with ``stop_pid(pid)``. Otherwise it exits with this process."""
        self._dir = tempfile.mkdtemp(prefix="delfin-sim-")
        ready = os.path.join(self._dir, "ready.json")
        self.log_path = os.path.join(log_dir or self._dir, "simulator.log")
        self._log = open(self.log_path, "w")
        parent = [] if detached else ["--parent-pid", str(os.getpid())]
        env = {k: v for k, v in os.environ.items() if k != "DELFIN_DM_API_TOKEN"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "drivers.simulator", "--arrays", str(arrays), "--ready-file", ready, *parent,
             *(extra_args or [])], stdout=subprocess.DEVNULL, stderr=self._log, env=env,
            start_new_session=detached)
        deadline = time.monotonic() + startup_timeout
        while not os.path.exists(ready):
            if self.proc.poll() is not None:
                raise RuntimeError(f"simulator exited: {open(self.log_path).read()[-2000:]}")
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError("simulator did not become ready")
            time.sleep(0.05)
        with open(ready) as fh:
            self.info = json.load(fh)
        if log_dir:                      # nothing of ours left in the scratch dir: the log lives elsewhere
            shutil.rmtree(self._dir, ignore_errors=True)
        self.admin = f"http://127.0.0.1:{self.info['admin_port']}"
        self.host_key: str = self.info["host_key"]
        self._http = requests.Session()

    # -- admin API ---------------------------------------------------------------------------
    def _call(self, method: str, path: str, body: Optional[dict] = None) -> Any:
        resp = self._http.request(method, f"{self.admin}{path}", json=body, timeout=30)
        resp.raise_for_status()
        return resp.json()

    def add_array(self, name: Optional[str] = None, password: str = "pw-initial", **cfg: Any) -> dict:
        """A fresh array (own ports, own counters). Sizes go in ``sizes``; seed defaults per name."""
        name = name or f"arr-{os.getpid()}-{next(self._names)}"
        spec = {"name": name, "seed": cfg.pop("seed", abs(hash(name)) % 10**6),
                "users": {"admin": password}, "sizes": cfg.pop("sizes", {"volumes": 50}), **cfg}
        return self._call("POST", "/arrays", spec)

    def arrays(self) -> list[dict]:
        return self._call("GET", "/arrays")["arrays"]

    def stats(self, name: str) -> dict:
        return self._call("GET", f"/arrays/{name}/stats")

    def slow_requests(self, name: str) -> list[dict]:
        return self._call("GET", f"/arrays/{name}/slow-requests")["slow_requests"]

    def rotate_password(self, name: str, password: str, username: str = "admin") -> None:
        self._call("POST", f"/arrays/{name}/password", {"username": username, "password": password})

    def expire_sessions(self, name: str) -> int:
        return self._call("POST", f"/arrays/{name}/expire-sessions")["expired"]

    def faults(self, name: str, **faults: Any) -> dict:
        return self._call("POST", f"/arrays/{name}/faults", faults)

    @contextlib.contextmanager
    def faulted(self, name: str, **faults: Any) -> Iterator[None]:
        """These faults on an array for the length of a block, then each of them off (0) again."""
        self.faults(name, **faults)
        try:
            yield
        finally:
            self.faults(name, **{key: 0 for key in faults})

    def reset_stats(self, name: str) -> dict:
        return self._call("POST", f"/arrays/{name}/reset-stats")

    # -- lifecycle ---------------------------------------------------------------------------
    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        shutil.rmtree(self._dir, ignore_errors=True)     # its ready file and (by default) its log


def extra_attributes(**extra: Any) -> dict[str, str]:
    """``extra_attributes`` as Delfin's schema wants them: strings. ``resource_metrics`` may be
    given as a dict ``{type: [metric]}``."""
    out = {}
    for key, value in extra.items():
        if key == "resource_metrics" and isinstance(value, dict):
            value = format_resource_metrics(value)
        out[key] = value if isinstance(value, str) else str(value).lower() if isinstance(value, bool) else str(value)
    return out


def stop_pid(pid: int, timeout: float = 10.0) -> bool:
    """Stop a simulator started earlier (detached) by its PID, if that PID is still a simulator."""
    import psutil
    try:
        proc = psutil.Process(pid)
        if "drivers.simulator" not in " ".join(proc.cmdline()):
            return False                          # the PID was reused by something else
        proc.terminate()
        try:
            proc.wait(timeout)
        except psutil.TimeoutExpired:
            proc.kill()
        return True
    except psutil.NoSuchProcess:
        return False


def rest_access(array: dict, password: Optional[str] = None, **extra: Any) -> dict:
    """Access info for the ``simulator rest`` driver (plain HTTP: TLS verify off, explicitly,
    unless ``extra`` says otherwise)."""
    return {"vendor": "simulator", "model": "rest",
            "rest": {"host": array["host"], "port": array["rest_port"], "username": "admin",
                     "password": password or array["users"]["admin"]},
            "extra_attributes": extra_attributes(**{"scheme": "http", "verify": "false", **extra})}


def ssh_access(array: dict, password: Optional[str] = None, **extra: Any) -> dict:
    """Access info for the ``simulator ssh`` driver, pinned to the simulator's host key."""
    return {"vendor": "simulator", "model": "ssh",
            "ssh": {"host": array["host"], "port": array["ssh_port"], "username": "admin",
                    "password": password or array["users"]["admin"], "pub_key": array["host_key"]},
            "extra_attributes": extra_attributes(**extra)}


def _https_access(vendor: str, model: str, array: dict, password: Optional[str]) -> dict:
    """Access info for one of Delfin's REST drivers: HTTPS, verified against the simulator's
    self-signed certificate (given as the CA bundle)."""
    return {"vendor": vendor, "model": model,
            "rest": {"host": array["host"], "port": array["rest_port"], "username": "admin",
                     "password": password or array["users"]["admin"]},
            "extra_attributes": {"verify": array["tls_cert"]}}


def pure_access(array: dict, password: Optional[str] = None) -> dict:
    """Access info for Delfin's ``pure flasharray`` driver (a ``kind: pure`` array)."""
    return _https_access("pure", "flasharray", array, password)


def unity_access(array: dict, password: Optional[str] = None) -> dict:
    """Access info for Delfin's ``dellemc unity`` driver (a ``kind: unity`` array)."""
    return _https_access("dellemc", "unity", array, password)


def ds8k_access(array: dict, password: Optional[str] = None) -> dict:
    """Access info for Delfin's ``ibm ds8k`` driver (a ``kind: ds8k`` array)."""
    return _https_access("ibm", "ds8k", array, password)


def oceanstor_access(array: dict, password: Optional[str] = None) -> dict:
    """Access info for Delfin's ``huawei oceanstor`` driver (a ``kind: oceanstor`` array)."""
    return _https_access("huawei", "oceanstor", array, password)


def vplex_access(array: dict, password: Optional[str] = None) -> dict:
    """Access info for Delfin's ``dellemc vplex`` driver (a ``kind: vplex`` array)."""
    return _https_access("dellemc", "vplex", array, password)


def vmax_access(array: dict, password: Optional[str] = None) -> dict:
    """Access info for Delfin's ``dellemc vmax`` driver (a ``kind: vmax`` array)."""
    return _https_access("dellemc", "vmax", array, password)


def eternus_access(array: dict, password: Optional[str] = None) -> dict:
    """Access info for Delfin's ``fujitsu eternus`` driver (a ``kind: eternus`` array): its CLI
    over SSH."""
    return _delfin_ssh("fujitsu", "eternus", array, password)


def vsp_access(array: dict, password: Optional[str] = None) -> dict:
    """Access info for Delfin's ``hitachi vsp`` driver (a ``kind: vsp`` array)."""
    return _https_access("hitachi", "vsp", array, password)


def hpe3par_access(array: dict, password: Optional[str] = None) -> dict:
    """Access info for Delfin's ``hpe 3par`` driver (a ``kind: 3par`` array): its WSAPI over
    HTTPS and its CLI over SSH, with the same account (no ``pub_key``, as for Storwize)."""
    return _https_and_ssh("hpe", "3par", array, password)


def _https_and_ssh(vendor: str, model: str, array: dict, password: Optional[str]) -> dict:
    """Access info for one of Delfin's drivers that speaks both: HTTPS and SSH, one account."""
    return {**_https_access(vendor, model, array, password), "ssh": _delfin_ssh(vendor, model, array, password)["ssh"]}


def _delfin_ssh(vendor: str, model: str, array: dict, password: Optional[str]) -> dict:
    """Access info for one of Delfin's SSH drivers. No ``pub_key``: Delfin's SSH pool pins a key
    only on port 22 and accepts the host key on first use otherwise."""
    return {"vendor": vendor, "model": model,
            "ssh": {"host": array["host"], "port": array["ssh_port"], "username": "admin",
                    "password": password or array["users"]["admin"]}}


def netapp_access(array: dict, password: Optional[str] = None) -> dict:
    """Access info for Delfin's ``netapp cmode`` driver (a ``kind: netapp`` array): its CLI over
    SSH and its REST API over HTTPS (performance), with the same account."""
    return _https_and_ssh("netapp", "cmode", array, password)


def storwize_access(array: dict, password: Optional[str] = None) -> dict:
    """Access info for Delfin's ``ibm storwize_svc`` driver (a ``kind: storwize`` array)."""
    return _delfin_ssh("ibm", "storwize_svc", array, password)


def msa_access(array: dict, password: Optional[str] = None) -> dict:
    """Access info for Delfin's ``hpe msa`` driver (a ``kind: msa`` array)."""
    return _delfin_ssh("hpe", "msa", array, password)


def hnas_access(array: dict, password: Optional[str] = None) -> dict:
    """Access info for Delfin's ``hitachi hnas`` driver (a ``kind: hnas`` array): its console
    over SSH."""
    return _delfin_ssh("hitachi", "hnas", array, password)


def vnx_access(array: dict, password: Optional[str] = None) -> dict:
    """Access info for Delfin's ``dellemc vnx_block`` driver (a ``kind: vnx`` array): its
    ``naviseccli`` account and the management server's port (``NAVISECCLI_DIR`` first on PATH)."""
    return {"vendor": "dellemc", "model": "vnx_block",
            "cli": {"host": array["host"], "port": array["rest_port"], "username": "admin",
                    "password": password or array["users"]["admin"]}}
