"""Test helpers: a manager (supervisor + client) in its own namespace, and wait_for."""
from __future__ import annotations

import ipaddress
import os
import signal
import socket
import sqlite3
import time
import uuid


import rayactors  # noqa: F401  (sets RAY_AUTH_MODE before ray is imported)
import ray

from rayactors import Config, DriverManagerClient
from rayactors.naming import live_storage_actor_ids, storage_actor_name
from rayactors.runtime import ensure_supervisor, stop_supervisor, supervisor_running


#: the repository's root (where ``python -m tests...`` and the Makefile run)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def make_config(tmp_path, **overrides) -> Config:
    base = dict(namespace=f"t-{uuid.uuid4().hex[:8]}", data_dir=str(tmp_path / "data"),
                backoff_base_s=0.2, backoff_cap_s=1.0, control_timeout_s=30, close_timeout_s=5,
                scheduler_enabled=False)
    base.update(overrides)
    return Config.load(**base)


class Manager:
    """A running supervisor in its own namespace, and a client for it."""

    def __init__(self, cfg: Config, address: str) -> None:
        self.cfg, self.address = cfg, address
        self.supervisor = ensure_supervisor(cfg)
        self.client = DriverManagerClient(config=cfg)

    def actor(self, storage_id: str):
        return ray.get_actor(storage_actor_name(storage_id), namespace=self.cfg.namespace)

    def live_ids(self) -> set[str]:
        return live_storage_actor_ids(self.cfg.namespace)

    def remove_storages(self) -> None:
        """Remove every storage, and kill any storage actor the removals left."""
        try:
            for s in self.client.list_storages() if supervisor_running(self.cfg) else []:
                try:
                    self.client.remove_storage(None, s["id"])
                except Exception:
                    pass
        finally:
            for sid in self.live_ids():
                try:
                    ray.kill(self.actor(sid), no_restart=True)
                except ValueError:
                    pass

    def teardown(self) -> None:
        try:
            self.remove_storages()
        finally:
            stop_supervisor(self.cfg, timeout_s=0)


def on_module_manager(module_manager: Manager):
    """A ``manager`` fixture on the module's one supervisor (conftest's ``module_manager``):
    each test's storages are removed at its end."""
    yield module_manager
    module_manager.remove_storages()


def is_loopback(ip: str) -> bool:
    """An address in 127.0.0.0/8 or ::1, IPv4-mapped ones included."""
    addr = ipaddress.ip_address(ip.split("%")[0])
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped:
        addr = addr.ipv4_mapped
    return addr.is_loopback


def listening(processes) -> list:
    """``(process name, address)`` of every socket ``processes`` (``psutil.Process``es) listen
    on; a process that exited meanwhile (a worker Ray let go) is left out."""
    import psutil
    found = []
    for p in processes:
        try:
            found += [(p.name(), c.laddr) for c in p.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN]
        except psutil.Error:
            continue
    return found


def free_port() -> int:
    """A loopback port no one listens on now (for a server a test starts)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(cond, timeout: float = 30.0, interval: float = 0.1, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval)


def wait_first_sync(client, simulator, arr, sid) -> None:
    """Until a new storage's first sync (started by its registration) is over at the array: a
    test that counts the array's sessions after an update must not meet that sync's bulk calls
    still running on the old session (they finish on it, which is logged out after them)."""
    wait_for(lambda: client.storage_record(sid)["sync_status"] == "SYNCED"
             and simulator.stats(arr["name"])["inflight"] == 0, 30, what="the first sync")


def kill_9_and_wait(manager, sid, handles: bool = True):
    """kill -9 a storage actor once its reports reached the supervisor (so the session handles
    are kept, for a driver that has ``handles``); return its state once Ray restarted it and it
    is ready again."""
    c = manager.client
    if handles:
        wait_for(lambda: sealed_sessions(manager, sid), 30, what="session handle recorded")
    wait_for(lambda: c.storage_state(sid)["reports_pending"] == 0 or None, 30, what="reports")
    pid = c.storage_state(sid)["pid"]
    os.kill(pid, signal.SIGKILL)

    def ready_again():
        try:
            state = c.storage_state(sid)
        except Exception:  # restarting
            return None
        return state if state["pid"] != pid and state["state"] == "ready" else None
    return wait_for(ready_again, 60, what="restart")


def sealed_sessions(manager, sid) -> str:
    """The registry's sealed session handles of a storage ('' when none are recorded)."""
    with sqlite3.connect(manager.cfg.registry_path) as db:
        row = db.execute("SELECT sessions FROM storages WHERE id=?", (sid,)).fetchone()
    return (row[0] if row else "") or ""
