"""Crash restarts of storage actors and of the supervisor; reconcile."""
import os
import signal
import sqlite3
import threading

import ray

from drivers.simulator.control import rest_access
from rayactors.runtime import ensure_supervisor, stop_supervisor, supervisor_running
from rayactors.session_actor import actor_class

from ..helpers import kill_9_and_wait, make_config, sealed_sessions, wait_first_sync, wait_for


def test_kill_9_storage_actor_restarts_and_logs_in_once_more(manager, simulator):
    arr = simulator.add_array()
    c = manager.client
    sid = c.discover_storage(None, rest_access(arr))["id"]
    assert len(c.list_volumes(None, sid)) == 50
    wait_for(lambda: sealed_sessions(manager, sid), 30, what="handle recorded")
    pid = c.storage_state(sid)["pid"]
    os.kill(pid, signal.SIGKILL)
    assert len(c.list_volumes(None, sid)) == 50          # rides over the restart
    state = c.storage_state(sid)
    assert state["pid"] != pid and state["restarted"] and state["state"] == "ready"
    stats = simulator.stats(arr["name"])
    # the dead process's session was ended by its token before the new login: one left
    assert (stats["logins"], stats["logouts"], stats["active_sessions"]) == (2, 1, 1)
    assert state["released"] == 1


def test_kill_9_mid_call_leaves_one_session_at_the_array(manager, simulator):
    """Killed while its call waits on a slow array: the session that call used is ended by the
    restart, and the token was never stored in clear."""
    arr = simulator.add_array()
    c = manager.client
    sid = c.discover_storage(None, rest_access(arr))["id"]
    simulator.faults(arr["name"], latency_ms=3000)
    pending = manager.actor(sid).call_bulk.remote("list_volumes")
    wait_for(lambda: simulator.stats(arr["name"])["inflight"] >= 1 or None, 30, what="call at the array")
    sealed = wait_for(lambda: sealed_sessions(manager, sid), 30, what="handle recorded")
    assert sealed.startswith("gAAAA")                       # Fernet, not the token
    kill_9_and_wait(manager, sid)
    simulator.faults(arr["name"], latency_ms=0)
    del pending
    stats = simulator.stats(arr["name"])
    assert (stats["logins"], stats["active_sessions"], stats["peak_sessions"]) == (2, 1, 1)


def test_a_session_reported_while_registering_is_kept(manager, simulator):
    """The login's report reaches the supervisor while the array still answers get_storage
    (slow array), before the registry has a row for the storage: it is dropped there, so the
    registration asks the actor to report again. A kill right after still leaves one session."""
    arr = simulator.add_array()
    simulator.faults(arr["name"], latency_ms=800)
    sid = manager.client.discover_storage(None, rest_access(arr))["id"]
    simulator.faults(arr["name"], latency_ms=0)
    assert wait_for(lambda: sealed_sessions(manager, sid), 30, what="handle recorded").startswith("gAAAA")
    kill_9_and_wait(manager, sid)
    stats = simulator.stats(arr["name"])
    assert (stats["logins"], stats["active_sessions"]) == (2, 1)


def test_kill_9_after_the_driver_logged_in_again(manager, simulator):
    """The driver re-logs in by itself when its token expires; the handle kept for a restart
    follows it, so a kill afterwards still leaves one session (not the new token orphaned)."""
    arr = simulator.add_array()
    c = manager.client
    sid = c.discover_storage(None, rest_access(arr))["id"]
    wait_for(lambda: c.storage_state(sid)["reports_pending"] == 0 or None, 30, what="reports")
    before = sealed_sessions(manager, sid)
    simulator.expire_sessions(arr["name"])
    assert len(c.list_volumes(None, sid)) == 50               # a re-login inside the call
    wait_for(lambda: sealed_sessions(manager, sid) != before or None, 30, what="new handle recorded")
    kill_9_and_wait(manager, sid)
    stats = simulator.stats(arr["name"])
    assert (stats["logins"], stats["active_sessions"]) == (3, 1)



def test_supervisor_restart_reconciles(manager, simulator):
    c = manager.client
    a1, a2, a3 = simulator.add_array(), simulator.add_array(), simulator.add_array()
    keep = c.discover_storage(None, rest_access(a1))["id"]
    missing = c.discover_storage(None, rest_access(a2))["id"]
    removing = c.discover_storage(None, rest_access(a3))["id"]
    with sqlite3.connect(manager.cfg.resolved().registry_path) as db:   # a removal the crash cut short
        db.execute("UPDATE storages SET status='deleting' WHERE id=?", (removing,))
    wait_for(lambda: sealed_sessions(manager, missing), 30, what="handle recorded")
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
    assert report["finished_deletes"] == [removing]
    assert manager.live_ids() == {keep, missing}
    assert {s["id"] for s in c.list_storages()} == {keep, missing}
    assert simulator.stats(a3["name"])["active_sessions"] == 0   # the removal's logout done
    assert len(c.list_volumes(None, missing)) == 50
    assert simulator.stats(a1["name"])["logins"] == 1      # adopted: no new login
    assert simulator.stats(a2["name"])["logins"] == 2      # recreated: one new login
    assert simulator.stats(a2["name"])["active_sessions"] == 1   # and the killed one's ended
    del orphan


def _report(manager):
    if not _restarted(manager):
        return None
    try:
        r = manager.client.recovery_report()
    except Exception:
        return None
    return r if r.get("at") else None


def test_a_restart_recovery_leaves_storages_to_the_callers_changing_them(manager_factory, simulator):
    """A restarted supervisor serves callers while it recovers. Storages a caller removes before
    the recovery reaches them (one whose removal the crash cut short, one whose actor was lost)
    are passed over: no actor recreated for a removed storage. One a caller is updating when the
    recovery reaches it is recovered after the others, once the update is over (its actor
    adopted: no login of the recovery's own). The storages after them are still recovered.
    The recovery is held at its first step (closing an orphan actor whose logout its array
    keeps for 2.5 s) while the caller removes and starts the update, whose login and storage
    check its array keeps for 4 s each, longer than the recovery waits for a storage's lock."""
    m = manager_factory(close_timeout_s=3)
    c = m.client
    a_deleting, a_lost, a_changing, a_after, a_orphan = (simulator.add_array() for _ in range(5))
    deleting = c.discover_storage(None, rest_access(a_deleting))["id"]
    lost = c.discover_storage(None, rest_access(a_lost))["id"]
    changing = c.discover_storage(None, rest_access(a_changing))["id"]
    after = c.discover_storage(None, rest_access(a_after))["id"]
    wait_first_sync(c, simulator, a_changing, changing)
    with sqlite3.connect(m.cfg.resolved().registry_path) as db:   # a removal the crash cut short
        db.execute("UPDATE storages SET status='deleting' WHERE id=?", (deleting,))
    for sid in (lost, after):
        ray.kill(m.actor(sid), no_restart=True)
    orphan = actor_class(m.cfg).options(
        name="storage:orphan-2", namespace=m.cfg.namespace, lifetime="detached"
    ).remote("orphan-2", m.cfg.model_dump())
    ray.get(orphan.connect.remote(rest_access(a_orphan), None, None, "register"), timeout=30)
    simulator.faults(a_orphan["name"], latency_ms=2500)   # its logout holds the recovery
    simulator.faults(a_changing["name"], latency_ms=4000)
    updated: dict = {}
    update = threading.Thread(target=lambda: updated.update(c.update_access_info(
        None, {"storage_id": changing, "rest": {"password": a_changing["users"]["admin"]}})))
    try:
        ray.kill(m.supervisor, no_restart=False)          # crash: Ray restarts it
        wait_for(lambda: _restarted(m), 60, what="the supervisor back")
        c.remove_storage(None, deleting)
        c.remove_storage(None, lost)
        update.start()
        wait_for(lambda: simulator.stats(a_changing["name"])["inflight"] == 1, 10, what="the update's login")
        assert simulator.stats(a_orphan["name"])["logouts"] == 0   # the recovery has not reached them
        report = wait_for(lambda: _report(m), 60, what="reconcile")
        update.join(30)
    finally:
        simulator.faults(a_orphan["name"], latency_ms=0)
        simulator.faults(a_changing["name"], latency_ms=0)
    assert updated["storage_id"] == changing
    assert report["orphans_killed"] == ["orphan-2"]
    assert report["removed_meanwhile"] == [deleting, lost]
    assert report["waited_for_callers"] == [changing] and report["adopted"] == [changing]
    assert (report["finished_deletes"], report["recreated"], report["failed"]) == ([], [after], [])
    assert m.live_ids() == {changing, after}
    assert {s["id"] for s in c.list_storages()} == {changing, after}
    assert simulator.stats(a_lost["name"])["logins"] == 1       # no actor, no login for it again
    assert simulator.stats(a_deleting["name"])["active_sessions"] == 0
    assert simulator.stats(a_orphan["name"])["active_sessions"] == 0
    changed = simulator.stats(a_changing["name"])               # the registration's and the update's
    assert (changed["logins"], changed["logouts"], changed["active_sessions"]) == (2, 1, 1), changed
    assert simulator.stats(a_after["name"])["logins"] == 2      # recreated: one new login
    assert len(c.list_volumes(None, after)) == 50
    del orphan


def _restarted(manager):
    try:
        return ray.get(manager.supervisor.ping.remote(), timeout=5)["restarted"]
    except Exception:
        return False


def test_a_supervisor_start_has_an_actor_starts_bound_not_a_calls(ray_cluster, tmp_path):
    """Its first answer waits for a new worker process (seconds on a busy node): a call bound of
    1 ms would give up on it (as a 4 s one once did under load), an actor start's bound does not."""
    cfg = make_config(tmp_path, control_timeout_s=0.001)
    try:
        ensure_supervisor(cfg)
        assert supervisor_running(cfg)
    finally:
        stop_supervisor(cfg, timeout_s=0)
    assert not supervisor_running(cfg)
