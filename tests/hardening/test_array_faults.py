"""Array faults: the right state, alerts on enter and on recovery, bounded retries, no growth,
and the other storages' collections unaffected."""
import time

import pytest

from drivers.errors import BadResponse, StorageBackendException
from drivers.simulator.control import rest_access, ssh_access

from ..helpers import wait_for

SERIES = {"volume": ["iops"]}


@pytest.fixture
def collecting(manager_factory):
    return manager_factory(scheduler_enabled=True, perf_overlap_s=0, backoff_base_s=0.2, backoff_cap_s=1.0)


def register(m, simulator, kind=rest_access, **cfg):
    arr = simulator.add_array(perf_interval=2, sizes={"volumes": 4}, **cfg)
    return arr, m.client.discover_storage(None, kind(arr, resource_metrics=SERIES, timeout=1))["id"]


def names(m, sid):
    return [a["alert_name"] for a in m.client.alerts(sid)]


@pytest.mark.parametrize("fault", [{"down": True}, {"latency_ms": 2500}])
def test_down_or_slow_is_unreachable_with_capped_backoff_and_alerts(collecting, simulator, fault):
    m = collecting
    arr, sid = register(m, simulator)
    other_arr, other = register(m, simulator, kind=ssh_access)
    wait_for(lambda: m.client.collection_stats(sid).get("windows_collected", 0) >= 1, 30, what="first window")
    base, base_at_array = m.client.storage_state(sid), simulator.stats(arr["name"])
    other_before = m.client.collection_stats(other)["windows_collected"]
    t0 = time.monotonic()
    simulator.faults(arr["name"], **fault)
    try:
        wait_for(lambda: m.client.storage_state(sid)["state"] == "unreachable", 20, what="unreachable")
        wait_for(lambda: "StorageUnreachable" in names(m, sid), 10, what="alert on enter")
        with pytest.raises(StorageBackendException):
            m.client.get_storage(None, sid)                 # fails fast, no hang
        time.sleep(8)
    finally:
        simulator.faults(arr["name"], down=False, latency_ms=0)
    faulty_for = time.monotonic() - t0
    attempts = m.client.storage_state(sid)["probes"] - base["probes"]
    assert 2 <= attempts <= faulty_for / 0.5 + 2            # backoff capped at 1 s (jitter >= 0.5 s)
    wait_for(lambda: m.client.storage_state(sid)["state"] == "ready", 20, what="recovery")
    at_array = simulator.stats(arr["name"])                 # the session outlived the outage: no orphan
    assert (at_array["logins"], at_array["active_sessions"]) == (base_at_array["logins"], 1)
    wait_for(lambda: "StorageRecovered" in names(m, sid), 10, what="alert on recovery")
    assert not [a for a in m.client.alerts(sid, open_only=True) if a["alert_name"] == "StorageUnreachable"]
    wait_for(lambda: m.client.collection_stats(sid)["windows_pending"] == 0, 30, what="backfill")
    expected = faulty_for / 2
    got = m.client.collection_stats(other)["windows_collected"] - other_before
    assert got >= 0.75 * expected, (got, expected)          # the neighbour kept its schedule
    assert m.client.storage_state(other)["state"] == "ready"


def test_malformed_and_throttled_fail_the_call_not_the_session(collecting, simulator):
    m = collecting
    arr, sid = register(m, simulator)
    for fault, err in (({"malformed": True}, BadResponse), ({"throttle": 503}, StorageBackendException),
                       ({"throttle": 429}, StorageBackendException)):
        simulator.faults(arr["name"], **fault)
        try:
            with pytest.raises(err):
                m.client.list_volumes(None, sid)
            assert m.client.storage_state(sid)["state"] == "ready"
        finally:
            simulator.faults(arr["name"], malformed=False, throttle=False)
    assert len(m.client.list_volumes(None, sid)) == 4
    assert simulator.stats(arr["name"])["logins"] == 1


def test_session_limit_reached_is_a_clear_error(collecting, simulator):
    m = collecting
    arr = simulator.add_array(max_sessions=1, sizes={"volumes": 4})
    from drivers.rest_driver import SimulatorRestDriver
    squatter = SimulatorRestDriver(**rest_access(arr))            # someone else holds the only slot
    try:
        with pytest.raises(StorageBackendException) as info:
            m.client.discover_storage(None, rest_access(arr))
        assert "session limit" in info.value.msg
        assert m.live_ids() == set()
    finally:
        squatter.close()
    sid = m.client.discover_storage(None, rest_access(arr))["id"]
    assert m.client.storage_state(sid)["state"] == "ready"


def test_no_thread_or_memory_growth_under_repeated_faults(collecting, simulator):
    m = collecting
    arr, sid = register(m, simulator)
    wait_for(lambda: m.client.collection_stats(sid).get("windows_collected", 0) >= 1, 30, what="first window")
    before = m.client.storage_state(sid)
    for i in range(6):                                          # 6 down/up cycles
        simulator.faults(arr["name"], down=True)
        wait_for(lambda: m.client.storage_state(sid)["state"] == "unreachable", 20, what="down")
        simulator.faults(arr["name"], down=False)
        wait_for(lambda: m.client.storage_state(sid)["state"] == "ready", 20, what="up")
    after = m.client.storage_state(sid)
    assert after["threads"] <= before["threads"] + 3
    assert after["rss_mb"] <= before["rss_mb"] + 40
