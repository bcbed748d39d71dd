"""Crash restarts of storage actors and of the supervisor; reconcile."""
import os
import signal

import ray

from drivers.simulator.control import rest_access
from rayactors.session_actor import actor_class

from ..helpers import wait_for


def test_kill_9_storage_actor_restarts_and_logs_in_once_more(manager, simulator):
    arr = simulator.add_array()
    c = manager.client
    sid = c.discover_storage(None, rest_access(arr))["id"]
    assert len(c.list_volumes(None, sid)) == 50
    pid = c.storage_state(sid)["pid"]
    os.kill(pid, signal.SIGKILL)
    assert len(c.list_volumes(None, sid)) == 50          # rides over the restart
    state = c.storage_state(sid)
    assert state["pid"] != pid and state["restarted"] and state["state"] == "ready"
    assert simulator.stats(arr["name"])["logins"] == 2


def test_supervisor_restart_reconciles(manager, simulator):
    c = manager.client
    a1, a2 = simulator.add_array(), simulator.add_array()
    keep = c.discover_storage(None, rest_access(a1))["id"]
    missing = c.discover_storage(None, rest_access(a2))["id"]
    ray.kill(manager.actor(missing), no_restart=True)      # a registered storage lost its actor
    orphan = actor_class(manager.cfg).options(
        name="storage:orphan-1", namespace=manager.cfg.namespace, lifetime="detached"
    ).remote("orphan-1", manager.cfg.model_dump())         # an actor nobody registered
    wait_for(lambda: "orphan-1" in manager.live_ids(), 30, what="orphan")
    ray.kill(manager.supervisor, no_restart=False)          # crash: Ray restarts it
    report = wait_for(lambda: _report(manager), 60, what="reconcile")
    assert keep in report["adopted"]
    assert missing in report["recreated"]
    assert "orphan-1" in report["orphans_killed"]
    assert manager.live_ids() == {keep, missing}
    assert len(c.list_volumes(None, missing)) == 50
    assert simulator.stats(a1["name"])["logins"] == 1      # adopted: no new login
    assert simulator.stats(a2["name"])["logins"] == 2      # recreated: one new login
    del orphan


def _report(manager):
    try:
        if not ray.get(manager.supervisor.ping.remote(), timeout=5)["restarted"]:
            return None
        r = ray.get(manager.supervisor.reconcile_report.remote(), timeout=5)
    except Exception:
        return None
    return r if r.get("at") else None
