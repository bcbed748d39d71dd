"""Metrics retention: days older than the setting leave the dataset (enforced by the supervisor),
and removing a storage can take its metrics with it."""
import time

import pyarrow as pa

from drivers.arrow_schema import METRIC_SCHEMA
from rayactors.metrics.sink import ParquetSink, day_of

from ..helpers import wait_for

DAY_MS = 86_400_000


def plant(root: str, storage_id: str, ms: int) -> str:
    """One window file on the day of ``ms``; returns its day folder."""
    sink = ParquetSink(root)
    table = pa.table({"timestamp": pa.array([ms], pa.timestamp("ms", tz="UTC")),
                      **{c: pa.array([v], pa.string()) for c, v in (("storage_id", storage_id),
                         ("resource_type", "volume"), ("resource_id", "v1"), ("metric", "iops"), ("unit", "IOPS"))},
                      "value": pa.array([1.0])}).cast(METRIC_SCHEMA)
    sink.write_window(storage_id, ms, ms + 1000, table)
    return f"{root}/storage_id={storage_id}/date={day_of(ms)}"


def test_expire_keeps_the_last_days_and_drop_takes_one_storage(tmp_path):
    root = str(tmp_path / "m")
    now = int(time.time() * 1000)
    today, old, older = plant(root, "a", now), plant(root, "a", now - 3 * DAY_MS), plant(root, "b", now - 9 * DAY_MS)
    sink = ParquetSink(root)
    assert sink.expire(3, now) == 2
    assert (tmp_path / today.split(str(tmp_path) + "/")[1]).exists()
    assert not (tmp_path / old.split(str(tmp_path) + "/")[1]).exists()
    assert not (tmp_path / older.split(str(tmp_path) + "/")[1]).exists()
    assert sink.drop_storage("a") and not (tmp_path / "m" / "storage_id=a").exists()
    assert sink.drop_storage("a") is False


def test_supervisor_enforces_retention_and_drops_on_request(manager_factory):
    m = manager_factory(metrics_retention_days=2, retention_check_s=0.5)
    now = int(time.time() * 1000)
    fake = {"vendor": "fake_storage", "model": "fake_driver", "extra_attributes": {"volumes": "1"},
            "rest": {"host": "127.0.0.1", "port": 1, "username": "u", "password": "p"}}
    keep_id = m.client.discover_storage(None, fake)["id"]
    drop_id = m.client.discover_storage(None, fake)["id"]
    recent = plant(m.cfg.metrics_root, keep_id, now)
    stale = plant(m.cfg.metrics_root, keep_id, now - 5 * DAY_MS)
    dropped = plant(m.cfg.metrics_root, drop_id, now)
    import os
    wait_for(lambda: not os.path.exists(stale), 20, what="the stale day to go")
    assert os.path.exists(recent)
    m.client.remove_storage(None, keep_id)                       # default: metrics stay
    assert os.path.exists(recent)
    m.client.remove_storage(None, drop_id, drop_metrics=True)
    assert not os.path.exists(os.path.dirname(dropped))
