"""Defects 4 and 5: unsupported is not empty; control calls never queue behind bulk ones."""
import threading
import time

import pytest
import ray

from drivers.errors import BadResponse, NotSupported
from drivers.simulator.control import rest_access

FILE_METHODS = ("list_filesystems", "list_qtrees", "list_quotas", "list_shares")


def test_not_supported_and_failed_are_never_empty(manager, simulator):
    arr = simulator.add_array()
    c = manager.client
    sid = c.discover_storage(None, rest_access(arr))["id"]
    support = c.resource_support(sid)
    for m in FILE_METHODS:
        assert support[m] == {"status": "not_supported"}
        with pytest.raises(NotSupported):
            getattr(c, m)(None, sid)
    assert support["list_volumes"] == {"status": "supported", "count": 50}
    with pytest.raises(NotSupported, match="get_alert_sources"):      # our drivers have no alert sources
        c.get_alert_sources(None, sid)

    simulator.faults(arr["name"], malformed=True)
    try:
        after = c.sync(sid)
        with pytest.raises(BadResponse):
            c.list_volumes(None, sid)
    finally:
        simulator.faults(arr["name"], malformed=False)
    assert after["list_volumes"]["status"] == "failed"
    assert after["list_volumes"]["error"]["error_code"] == "BadResponse"
    assert "count" not in after["list_volumes"]
    assert after["list_filesystems"] == {"status": "not_supported"}
    assert c.storage_state(sid)["state"] == "ready"     # a bad reply is not a lost session


def test_token_expiry_under_8_concurrent_bulk_calls(manager, simulator):
    arr = simulator.add_array()
    c = manager.client
    sid = c.discover_storage(None, rest_access(arr))["id"]
    simulator.expire_sessions(arr["name"])
    errors, barrier = [], threading.Barrier(8)

    def call():
        barrier.wait()
        try:
            c.list_volumes(None, sid)
        except Exception as exc:
            errors.append(exc)
    threads = [threading.Thread(target=call) for _ in range(8)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert errors == []
    stats = simulator.stats(arr["name"])
    assert stats["logins"] == 2 and stats["failed_logins"] == 0 and stats["active_sessions"] == 1


def test_control_calls_overtake_bulk_calls(manager, simulator):
    arr = simulator.add_array()
    sid = manager.client.discover_storage(None, rest_access(arr))["id"]
    actor = manager.actor(sid)
    simulator.faults(arr["name"], latency_ms=2000)
    try:
        bulk = [actor.call_bulk.remote("list_ports", (), {}) for _ in range(16)]
        time.sleep(0.3)                       # the bulk lane is full and queued
        state_ref = actor.state.remote()
        t0 = time.monotonic()
        control_ref = actor.call_control.remote("get_storage", (), {})
        done, _ = ray.wait([state_ref] + bulk, num_returns=1, timeout=30)
        assert done == [state_ref]            # state needs no array: first, before any bulk call
        ray.get(control_ref, timeout=30)
        took = time.monotonic() - t0
        finished_bulk = sum(1 for r in bulk if ray.wait([r], timeout=0)[0])
        # the driver allows 4 calls: bulk takes 3, the 4th place is the control lane's, so
        # get_storage ran at once (one 2 s round trip), not after a bulk call or the queue
        assert took < 3.5, took
        assert finished_bulk <= 3
        stats = simulator.stats(arr["name"])
        assert stats["peak_session_inflight"] == 4 and stats["active_sessions"] == 1
        ray.get(bulk, timeout=60)
    finally:
        simulator.faults(arr["name"], latency_ms=0)
