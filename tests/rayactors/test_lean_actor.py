"""A storage actor stays small: no pandas in its process, windows not kept in memory unless
asked, one resource sync per registration. Checked on a real actor process and at the array."""
import time

from drivers.simulator.control import rest_access

from ..helpers import wait_for

SERIES = {"volume": ["iops", "readIops"], "controller": ["cpuUsage"]}


def mapped_libraries(pid: int) -> str:
    with open(f"/proc/{pid}/maps") as fh:
        return fh.read()


def test_a_collecting_actor_never_loads_pandas_and_reads_recent_windows_back(manager_factory, simulator):
    import pandas  # noqa: F401  - installed here (notebook extra): the actor must still not load it
    m = manager_factory(scheduler_enabled=True, perf_overlap_s=2)
    arr = simulator.add_array(perf_interval=2, sizes={"volumes": 4, "controllers": 2})
    sid = m.client.discover_storage(None, rest_access(arr, resource_metrics=SERIES))["id"]
    wait_for(lambda: m.client.collection_stats(sid).get("windows_collected", 0) >= 2, 30, what="2 windows")
    pid = m.client.storage_state(sid)["pid"]
    maps = mapped_libraries(pid)
    assert "pyarrow" in maps                        # the check sees the actor's own libraries ...
    assert "/pandas/" not in maps                   # ... and pandas is not among them
    two = m.client.recent_metrics(sid, 2)           # not kept in memory: read back from Parquet
    assert two.num_rows == 2 * (4 * 2 + 2)
    assert len(set(two.column("timestamp").to_pylist())) == 2


def test_registration_syncs_once(manager_factory, simulator):
    m = manager_factory(scheduler_enabled=True, sync_interval_s=20)
    arr = simulator.add_array(perf_interval=60, sizes={"volumes": 3})
    sid = m.client.discover_storage(None, rest_access(arr))["id"]
    wait_for(lambda: m.client.resources("volume", sid), 20, what="the registration's sync")
    time.sleep(6)                                   # the scheduler's first sync used to come here
    assert m.client.collection_stats(sid)["syncs"] == 0
    assert len(m.client.resources("volume", sid)) == 3
