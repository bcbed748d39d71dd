"""Duplicate-owner fencing: an actor holding a stale session epoch stops and logs out, and
what it reported meanwhile changes nothing of its successor's."""
import sqlite3

import ray

from drivers.simulator.control import rest_access
from rayactors.session_actor import actor_class

from ..helpers import kill_9_and_wait, sealed_sessions, wait_first_sync, wait_for


def _twin(m, sid):
    """What a healed partition can leave behind: a second actor of the same storage."""
    return actor_class(m.cfg).options(name=f"storage:{sid}-twin", namespace=m.cfg.namespace,
                                      lifetime="detached").remote(sid, m.cfg.model_dump())


def _stale_reports(m) -> int:
    return ray.get(m.supervisor.ping.remote())["stale_reports"]


def _session_state(m, sid) -> str:
    with sqlite3.connect(m.cfg.registry_path) as db:
        return db.execute("SELECT session_state FROM storages WHERE id=?", (sid,)).fetchone()[0]


def test_stale_twin_fences_itself_off(manager_factory, simulator):
    m = manager_factory(fence_interval_s=0.5)
    arr = simulator.add_array()
    sid = m.client.discover_storage(None, rest_access(arr))["id"]
    legit = m.client.storage_state(sid)
    assert legit["epoch"] == 1
    twin = _twin(m, sid)                                               # older epoch: 0
    try:
        ray.get(twin.connect.remote(rest_access(arr), None, 0), timeout=30)
        assert simulator.stats(arr["name"])["peak_sessions"] == 2         # the twin did log in
        wait_for(lambda: ray.get(twin.state.remote())["state"] == "closed", 20, what="stale twin to stop")
        wait_for(lambda: simulator.stats(arr["name"])["active_sessions"] == 1, 10, what="twin logout")
        assert m.client.storage_state(sid)["state"] == "ready"         # the owner is untouched
        assert len(m.client.list_volumes(None, sid)) == 50
    finally:
        ray.kill(twin, no_restart=True)


def test_update_bumps_the_epoch_and_keeps_the_owner(manager_factory, simulator):
    m = manager_factory(fence_interval_s=0.5)
    arr = simulator.add_array()
    sid = m.client.discover_storage(None, rest_access(arr))["id"]
    m.client.update_access_info(None, {"storage_id": sid, "rest": {"password": arr["users"]["admin"]}})
    state = m.client.storage_state(sid)
    assert state["epoch"] == 2 and state["state"] == "ready"
    import time
    time.sleep(1.5)                                   # a few fence checks later: still the owner
    assert m.client.storage_state(sid)["state"] == "ready"


def test_a_stale_twins_session_report_does_not_replace_the_owners(manager_factory, simulator):
    """The twin's login reports its session handle while its connect is still held at the array
    (so before its fence can run). Taken as the storage's, it would replace the owner's handle:
    a kill -9 of the owner then leaves the owner's session open at the array. Dropped by epoch,
    the owner's restart ends it: one session at the array."""
    m = manager_factory()
    arr = simulator.add_array()
    c = m.client
    sid = c.discover_storage(None, rest_access(arr))["id"]
    wait_first_sync(c, simulator, arr, sid)
    wait_for(lambda: c.storage_state(sid)["reports_pending"] == 0 or None, 30, what="the owner's reports")
    owners, stale_before = sealed_sessions(m, sid), _stale_reports(m)
    assert owners
    twin = _twin(m, sid)
    try:
        simulator.faults(arr["name"], latency_ms=4000)                 # login, then get_storage: 4 s each
        connect = twin.connect.remote(rest_access(arr), None, 0, "register")
        wait_for(lambda: ray.get(twin.state.remote())["reports_delivered"] >= 1 or None, 30,
                 what="the twin's session report")
        assert not ray.wait([connect], timeout=0)[0]                   # delivered before its connect ended
        assert sealed_sessions(m, sid) == owners                       # not a byte changed
        assert _stale_reports(m) == stale_before + 1
        simulator.faults(arr["name"], latency_ms=0)
        ray.get(connect, timeout=30)
        wait_for(lambda: ray.get(twin.state.remote())["state"] == "closed", 20, what="stale twin to stop")
        wait_for(lambda: simulator.stats(arr["name"])["active_sessions"] == 1, 10, what="twin logout")
    finally:
        simulator.faults(arr["name"], latency_ms=0)
        ray.kill(twin, no_restart=True)
    assert sealed_sessions(m, sid) == owners and _session_state(m, sid) == "ready"
    state = kill_9_and_wait(m, sid)
    stats = simulator.stats(arr["name"])
    # owner, twin, owner after the restart; the first owner's session ended by its handle
    assert (stats["logins"], stats["logouts"], stats["active_sessions"]) == (3, 2, 1), stats
    assert state["released"] == 1


def test_reports_from_a_stale_epoch_change_nothing(manager_factory, simulator):
    """What a fenced twin's reporter can still deliver, sent at epoch 0 once epoch 1 is
    committed: a rejection, a lost window, an empty sync, an empty session list. Each is dropped
    and counted; the storage stays ready, with its volumes, its collection state, its session
    handles and no alert."""
    m = manager_factory()
    arr = simulator.add_array()
    c = m.client
    sid = c.discover_storage(None, rest_access(arr))["id"]
    wait_first_sync(c, simulator, arr, sid)
    assert c.storage_state(sid)["epoch"] == 1
    sup, before = m.supervisor, _stale_reports(m)
    collection = ray.get(sup.collection_state.remote(sid))
    ray.get(sup.on_state_change.remote(sid, 0, "auth_failed", "ready", None))
    ray.get(sup.record_collection.remote(sid, 0, 2**40, [], [(0, 60_000, "retention")]))
    ray.get(sup.save_snapshot.remote(sid, 0, {"list_volumes": []}, {}))
    ray.get(sup.record_sessions.remote(sid, 0, []))
    assert _session_state(m, sid) == "ready"
    assert ray.get(sup.collection_state.remote(sid)) == collection
    assert len(c.resources("volume", sid)) == 50
    assert sealed_sessions(m, sid)
    assert not [a["alert_name"] for a in c.alerts(sid)]
    assert _stale_reports(m) == before + 4
