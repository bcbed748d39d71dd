"""Duplicate-owner fencing: an actor holding a stale session epoch stops and logs out."""
import ray

from drivers.simulator.control import rest_access
from rayactors.session_actor import actor_class

from ..helpers import wait_for


def test_stale_twin_fences_itself_off(manager_factory, simulator):
    m = manager_factory(fence_interval_s=0.5)
    arr = simulator.add_array()
    sid = m.client.discover_storage(None, rest_access(arr))["id"]
    legit = m.client.storage_state(sid)
    assert legit["epoch"] == 1
    # what a healed partition can leave behind: a second owner of the same storage, older epoch
    twin = actor_class(m.cfg).options(name=f"storage:{sid}-twin", namespace=m.cfg.namespace,
                                      lifetime="detached").remote(sid, m.cfg.model_dump())
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
