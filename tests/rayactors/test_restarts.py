"""Crash restarts of storage actors and of the supervisor; reconcile."""
import os
import signal
import sqlite3

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
    stats = simulator.stats(arr["name"])
    # the dead process's session was ended by its token before the new login: one left
    assert (stats["logins"], stats["logouts"], stats["active_sessions"]) == (2, 1, 1)
    assert state["released"] == 1


def _killed_and_back(manager, sid):
    """kill -9 the storage actor once its reports reached the supervisor; wait for its restart."""
    c = manager.client
    wait_for(lambda: c.storage_state(sid)["reports_pending"] == 0 or None, 30, what="reports")
    pid = c.storage_state(sid)["pid"]
    os.kill(pid, signal.SIGKILL)
    return wait_for(lambda: _ready_again(c, sid, pid), 60, what="restart")


def _ready_again(c, sid, pid):
    try:
        state = c.storage_state(sid)
    except Exception:
        return None
    return state if state["pid"] != pid and state["state"] == "ready" else None


def test_kill_9_mid_call_leaves_one_session_at_the_array(manager, simulator):
    """Killed while its call waits on a slow array: the session that call used is ended by the
    restart, and the token was never stored in clear."""
    arr = simulator.add_array()
    c = manager.client
    sid = c.discover_storage(None, rest_access(arr))["id"]
    simulator.faults(arr["name"], latency_ms=3000)
    pending = manager.actor(sid).call_bulk.remote("list_volumes")
    wait_for(lambda: simulator.stats(arr["name"])["inflight"] >= 1 or None, 30, what="call at the array")
    sealed = wait_for(lambda: _sealed_sessions(manager, sid), 30, what="handle recorded")
    assert sealed.startswith("gAAAA")                       # Fernet, not the token
    _killed_and_back(manager, sid)
    simulator.faults(arr["name"], latency_ms=0)
    del pending
    stats = simulator.stats(arr["name"])
    assert (stats["logins"], stats["active_sessions"], stats["peak_sessions"]) == (2, 1, 1)


def test_kill_9_after_the_driver_logged_in_again(manager, simulator):
    """The driver re-logs in by itself when its token expires; the handle kept for a restart
    follows it, so a kill afterwards still leaves one session (not the new token orphaned)."""
    arr = simulator.add_array()
    c = manager.client
    sid = c.discover_storage(None, rest_access(arr))["id"]
    wait_for(lambda: c.storage_state(sid)["reports_pending"] == 0 or None, 30, what="reports")
    before = _sealed_sessions(manager, sid)
    simulator.expire_sessions(arr["name"])
    assert len(c.list_volumes(None, sid)) == 50               # a re-login inside the call
    wait_for(lambda: _sealed_sessions(manager, sid) != before or None, 30, what="new handle recorded")
    _killed_and_back(manager, sid)
    stats = simulator.stats(arr["name"])
    assert (stats["logins"], stats["active_sessions"]) == (3, 1)


def _sealed_sessions(manager, sid):
    with sqlite3.connect(manager.cfg.registry_path) as db:
        return db.execute("SELECT sessions FROM storages WHERE id=?", (sid,)).fetchone()[0] or ""


def test_supervisor_restart_reconciles(manager, simulator):
    c = manager.client
    a1, a2 = simulator.add_array(), simulator.add_array()
    keep = c.discover_storage(None, rest_access(a1))["id"]
    missing = c.discover_storage(None, rest_access(a2))["id"]
    wait_for(lambda: c.storage_state(missing)["reports_pending"] == 0 or None, 30, what="reports")
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
    assert simulator.stats(a2["name"])["active_sessions"] == 1   # and the killed one's ended
    del orphan


def _report(manager):
    try:
        if not ray.get(manager.supervisor.ping.remote(), timeout=5)["restarted"]:
            return None
        r = ray.get(manager.supervisor.reconcile_report.remote(), timeout=5)
    except Exception:
        return None
    return r if r.get("at") else None
