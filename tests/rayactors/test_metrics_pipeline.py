"""Scheduled collection: every window exactly once, gaps backfilled, lost windows alerted."""
import os
import signal
import sqlite3
import time

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pytest
import ray

from drivers.arrow_schema import METRIC_SCHEMA
from drivers.simulator.control import rest_access, ssh_access
from rayactors import metrics
from rayactors.metrics.sink import ParquetSink

from ..helpers import wait_for

STEP_MS = 2000
SERIES = {"volume": ["iops", "readIops"], "controller": ["cpuUsage"]}


@pytest.fixture
def collecting(manager_factory):
    return manager_factory(scheduler_enabled=True, perf_overlap_s=2)


def register(m, simulator, kind=rest_access, **array_cfg):
    arr = simulator.add_array(perf_interval=2, sizes={"volumes": 4, "controllers": 2}, **array_cfg)
    sid = m.client.discover_storage(None, kind(arr, resource_metrics=SERIES))["id"]
    return arr, sid


def points(m, sid):
    return metrics.read(storage_ids=[sid], root=m.cfg.metrics_root)


def assert_exactly_once(table: pa.Table, series_per_ts: int = 4 * 2 + 2):
    """Every (resource, metric, timestamp) once; every step between first and last present."""
    ts = table.column("timestamp").cast(pa.int64())
    keys = pa.table({"r": table.column("resource_id").cast(pa.string()),
                     "m": table.column("metric").cast(pa.string()), "t": ts})
    counts = keys.group_by(["r", "m", "t"]).aggregate([("t", "count")])
    assert pc.max(counts.column("t_count")).as_py() == 1, "a point was written twice"
    stamps = sorted(set(ts.to_pylist()))
    assert stamps == list(range(stamps[0], stamps[-1] + STEP_MS, STEP_MS)), "a window is missing"
    per_ts = keys.group_by(["t"]).aggregate([("r", "count")])
    assert set(per_ts.column("r_count").to_pylist()) == {series_per_ts}
    return stamps


def test_steady_collection_writes_every_window_once(collecting, simulator):
    m = collecting
    arr, sid = register(m, simulator)
    wait_for(lambda: m.client.collection_stats(sid).get("windows_collected", 0) >= 4, 30, what="4 windows")
    stamps = assert_exactly_once(points(m, sid))
    assert len(stamps) >= 4
    stats = m.client.collection_stats(sid)
    assert stats["windows_lost"] == 0 and stats["last_success"] and stats["points_collected"] >= 40
    recent = m.client.recent_metrics(sid, 1)
    assert recent.schema.equals(METRIC_SCHEMA) and recent.num_rows == 10
    assert simulator.stats(arr["name"])["logins"] == 1


def test_rotation_gap_is_backfilled_after_update(collecting, simulator):
    m = collecting
    arr, sid = register(m, simulator)
    wait_for(lambda: m.client.collection_stats(sid).get("windows_collected", 0) >= 2, 30, what="windows")
    simulator.rotate_password(arr["name"], "rotated")
    simulator.expire_sessions(arr["name"])
    wait_for(lambda: m.client.storage_state(sid)["state"] == "auth_failed", 20, what="auth_failed")
    before = m.client.collection_stats(sid)["windows_collected"]
    time.sleep(5)
    assert m.client.collection_stats(sid)["windows_pending"] >= 2
    assert m.client.collection_stats(sid)["windows_collected"] == before
    m.client.update_access_info(None, {"storage_id": sid, "rest": {"password": "rotated"}})
    wait_for(lambda: m.client.collection_stats(sid)["windows_pending"] == 0, 30, what="backfill")
    time.sleep(2.5)
    stamps = assert_exactly_once(points(m, sid))
    assert len(stamps) >= 6


def test_a_supervisor_that_cannot_record_holds_no_window(collecting, simulator):
    """Another process holds the registry's write lock for 12 s, so the supervisor answers each
    collection report only after SQLite's 5 s busy timeout, with an error: windows are still
    collected on time meanwhile, and recorded once the registry is free."""
    m = collecting
    arr, sid = register(m, simulator)
    wait_for(lambda: m.client.collection_stats(sid).get("windows_collected", 0) >= 2, 30, what="windows")
    # waits for a write the supervisor may have under way (a report every 2 s), then holds the lock
    db = sqlite3.connect(m.cfg.registry_path, timeout=10, isolation_level=None)
    db.execute("BEGIN EXCLUSIVE")
    staleness, held_until = [], time.monotonic() + 12
    try:
        while time.monotonic() < held_until:
            staleness.append(time.time() - m.client.collection_stats(sid)["last_success"])
            time.sleep(0.25)
        stats = m.client.collection_stats(sid)
    finally:
        db.execute("ROLLBACK")
        db.close()
    assert stats["report_failures"] >= 1                 # the supervisor really could not record
    assert max(staleness) < 4.5, max(staleness)          # 2 s windows, none waited for a report
    end = stats["last_end"]
    wait_for(lambda: (ray.get(m.supervisor.collection_state.remote(sid))["last_end"] or 0) >= end, 30,
             what="the state recorded once the registry is free")
    assert_exactly_once(points(m, sid))
    at_array = simulator.stats(arr["name"])
    assert (at_array["logins"], at_array["expired_sessions"], at_array["active_sessions"]) == (1, 0, 1)


def test_kill_9_mid_run_loses_no_window(collecting, simulator):
    m = collecting
    arr, sid = register(m, simulator, kind=ssh_access)
    wait_for(lambda: m.client.collection_stats(sid).get("windows_collected", 0) >= 2, 30, what="windows")
    pid = m.client.storage_state(sid)["pid"]
    killed_at = int(time.time() * 1000)
    os.kill(pid, signal.SIGKILL)
    time.sleep(3)

    def caught_up():   # a window killed between its write and its record is written again (same file)
        s = m.client.collection_stats(sid)
        return (s.get("last_end") or 0) >= killed_at + 2 * STEP_MS and s.get("windows_pending") == 0
    wait_for(caught_up, 60, what="collection past the kill, backfill done")
    assert m.client.storage_state(sid)["pid"] != pid
    stamps = assert_exactly_once(points(m, sid))
    assert stamps[0] < killed_at - STEP_MS and stamps[-1] >= killed_at   # every window across the kill


def test_window_outside_retention_is_lost_and_alerted(collecting, simulator):
    m = collecting
    arr, sid = register(m, simulator, retention=6)
    wait_for(lambda: m.client.collection_stats(sid).get("windows_collected", 0) >= 1, 30, what="windows")
    simulator.rotate_password(arr["name"], "rotated")
    simulator.expire_sessions(arr["name"])
    wait_for(lambda: m.client.storage_state(sid)["state"] == "auth_failed", 20, what="auth_failed")
    time.sleep(12)                                  # longer than the array keeps history
    m.client.update_access_info(None, {"storage_id": sid, "rest": {"password": "rotated"}})
    wait_for(lambda: [a for a in m.client.alerts(sid) if a["alert_name"] == "WindowLost"], 30, what="alert")
    stats = m.client.collection_stats(sid)
    assert stats["windows_lost"] >= 1
    wait_for(lambda: m.client.collection_stats(sid)["windows_pending"] == 0, 30, what="settle")
    ts = sorted(set(points(m, sid).column("timestamp").cast(pa.int64()).to_pylist()))
    span = (ts[-1] - ts[0]) // STEP_MS + 1
    lost = m.client.collection_stats(sid)["windows_lost"]
    assert len(ts) + lost >= span      # every window is written or counted lost


def test_readers_filters_duckdb_polars(collecting, simulator):
    m = collecting
    arr1, s1 = register(m, simulator)
    arr2, s2 = register(m, simulator)
    wait_for(lambda: all(m.client.collection_stats(s).get("windows_collected", 0) >= 3 for s in (s1, s2)),
             40, what="windows")
    for s in (s1, s2):              # stop collecting: the dataset stays, and holds still
        m.client.remove_storage(None, s)
    root = m.cfg.metrics_root
    both = metrics.read(root=root)
    assert set(both.column("storage_id").to_pylist()) == {s1, s2}
    one = metrics.read(storage_ids=[s1], root=root)
    assert set(one.column("storage_id").to_pylist()) == {s1}
    iops = metrics.read(storage_ids=[s1], metrics=["iops"], root=root)
    assert set(iops.column("metric").to_pylist()) == {"iops"} and iops.num_rows == one.num_rows * 4 // 10
    ctl = metrics.read(resource_type="controller", root=root)
    assert set(ctl.column("resource_type").to_pylist()) == {"controller"}
    stamps = sorted(set(one.column("timestamp").cast(pa.int64()).to_pylist()))
    window = metrics.read(storage_ids=[s1], start=stamps[1], end=stamps[2], root=root)
    assert set(window.column("timestamp").cast(pa.int64()).to_pylist()) == {stamps[1]}
    assert metrics.read(storage_ids=["nobody"], root=root).num_rows == 0

    glob = f"{root}/**/*.parquet"
    n = duckdb.sql(f"SELECT count(*) FROM read_parquet('{glob}', hive_partitioning=true) "
                   f"WHERE storage_id = '{s1}'").fetchall()[0][0]
    assert n == one.num_rows
    df = pl.scan_parquet(glob, hive_partitioning=True).filter(pl.col("storage_id") == s2).collect()
    assert df.height == metrics.read(storage_ids=[s2], root=root).num_rows
    rds = metrics.to_ray_dataset(storage_ids=[s1], root=root)
    assert rds.count() == one.num_rows


def test_crash_during_write_leaves_the_dataset_readable(tmp_path):
    sink = ParquetSink(str(tmp_path / "m"))
    t = pa.table({"timestamp": pa.array([0, 2000], pa.timestamp("ms", tz="UTC")),
                  "storage_id": ["s", "s"], "resource_type": ["volume"] * 2, "resource_id": ["v"] * 2,
                  "metric": ["iops"] * 2, "unit": ["IOPS"] * 2, "value": [1.0, 2.0]})
    from drivers.arrow_schema import validate_table
    t = validate_table(t)
    sink.write_window("s", 0, 4000, t)
    folder = tmp_path / "m" / "storage_id=s" / "date=1970-01-01"
    (folder / ".tmp-deadbeef.parquet").write_bytes(b"PAR1 half a file")   # what a crash leaves
    got = metrics.read(root=str(tmp_path / "m"))
    assert got.num_rows == 2
    sink.write_window("s", 0, 4000, t)            # re-collecting a window replaces its file
    assert metrics.read(root=str(tmp_path / "m")).num_rows == 2


def test_compaction_keeps_rows_and_cuts_files(tmp_path):
    from drivers.arrow_schema import validate_table
    sink = ParquetSink(str(tmp_path / "m"))
    for i in range(30):
        start = i * 60_000
        t = validate_table(pa.table({"timestamp": pa.array([start], pa.timestamp("ms", tz="UTC")),
                                     "storage_id": ["s"], "resource_type": ["volume"], "resource_id": ["v"],
                                     "metric": ["iops"], "unit": ["IOPS"], "value": [float(i)]}))
        sink.write_window("s", start, start + 60_000, t)
    folder = tmp_path / "m" / "storage_id=s" / "date=1970-01-01"
    assert len(list(folder.iterdir())) == 30
    assert sink.compact("s", older_than_ms=2 * 3_600_000) == 30
    assert [p.name for p in folder.iterdir()] == ["h-0.parquet"]
    got = metrics.read(root=str(tmp_path / "m"))
    assert sorted(got.column("value").to_pylist()) == [float(i) for i in range(30)]


def test_a_real_time_drivers_latest_sample_is_kept_once(tmp_path):
    """A driver that is not historic (Delfin's OceanStor) answers the array's latest sample of each
    object, stamped at or after the window's end on the array's clock, one object after the other
    (an answer can cross a sampling time: its objects then carry different timestamps). Each
    sample is written, once, across an actor restart too."""
    from drivers.arrow_schema import Metric, metrics_to_table
    from rayactors.scheduler import CollectionScheduler
    answers = iter([{"v1": 60_000, "v2": 62_000},        # crossed a sampling time between the two
                    {"v1": 62_000, "v2": 62_000},        # v2 has not moved on: written already
                    {"v1": 125_000, "v2": 125_000},
                    {"v1": 125_000, "v2": 126_000}])     # after a restart: v1 written already

    def collect(start, end):
        return metrics_to_table([Metric("iops", {"storage_id": "s", "resource_type": "volume", "resource_id": v,
                                                 "unit": "IOPS"}, {t: float(t)}) for v, t in next(answers).items()])

    def scheduler():
        return CollectionScheduler("s", interval_s=60, overlap_s=0, sync_interval_s=3600, historic=False,
                                   retention_s=0, resource_metrics=None, collect=collect, is_ready=lambda: True,
                                   sync=lambda: None, supervisor=lambda: None, record=lambda *a: None,
                                   sink=ParquetSink(str(tmp_path / "m")))
    sched = scheduler()
    for start in (0, 60_000, 120_000):
        sched._collect_window(start, start + 60_000)
    scheduler()._collect_window(180_000, 240_000)            # the actor restarted
    got = metrics.read(root=str(tmp_path / "m"))
    series = {}
    for rid, ts in zip(got.column("resource_id").cast(pa.string()).to_pylist(),
                       got.column("timestamp").cast(pa.int64()).to_pylist()):
        series.setdefault(rid, []).append(ts)
    assert {k: sorted(v) for k, v in series.items()} == {"v1": [60_000, 62_000, 125_000],
                                                          "v2": [62_000, 125_000, 126_000]}
