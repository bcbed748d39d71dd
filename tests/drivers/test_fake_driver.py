import time

import pyarrow as pa
import pytest

from drivers import LIST_METHODS, METRIC_SCHEMA, resource_result, validate_rows
from drivers.arrow_schema import Metric, metrics_to_table, validate_table
from drivers.errors import InvalidResults
from drivers.fake_driver import FakeStorageDriver
from drivers.models import validate_storage


def fake(**extra):
    return FakeStorageDriver(vendor="fake_storage", model="fake_driver",
                             rest={"host": "127.0.0.1", "port": 1, "username": "u", "password": "p"},
                             extra_attributes={k: str(v) for k, v in extra.items()}, storage_id="s-1")


def test_same_seed_same_array_other_seed_other_array():
    a, b, c = fake(seed=5, volumes=50), fake(seed=5, volumes=50), fake(seed=6, volumes=50)
    assert a.get_storage(None) == b.get_storage(None)
    assert a.list_volumes(None) == b.list_volumes(None)
    assert a.get_storage(None)["serial_number"] != c.get_storage(None)["serial_number"]


def test_no_seed_draws_a_fresh_serial_and_delfin_vendor_model():
    a, b = fake(volumes=1), fake(volumes=1)
    sa = a.get_storage(None)
    assert sa["serial_number"] != b.get_storage(None)["serial_number"]
    assert (sa["vendor"], sa["model"]) == ("fake_vendor", "fake_model")


def test_sizes_default_and_configurable():
    assert len(fake(seed=1).list_volumes(None)) == 5000
    d = fake(seed=1, pools=3, volumes=17, ports=5, disks=9, controllers=4)
    assert [len(d.list_storage_pools(None)), len(d.list_volumes(None)), len(d.list_ports(None)),
            len(d.list_disks(None)), len(d.list_controllers(None))] == [3, 17, 5, 9, 4]


def test_rows_follow_delfin_models():
    d = fake(seed=2, volumes=200)
    validate_storage(d.get_storage(None))
    for method in ("list_storage_pools", "list_volumes", "list_ports", "list_disks", "list_controllers"):
        rows = getattr(d, method)(None)
        validate_rows(method, rows)
        assert all(r["storage_id"] == "s-1" for r in rows)


def test_validate_rows_rejects_bad_enum():
    rows = fake(seed=2, volumes=2).list_volumes(None)
    rows[1]["status"] = "melting"
    with pytest.raises(InvalidResults) as info:
        validate_rows("list_volumes", rows)
    assert "1.status" in info.value.msg


def test_file_resources_are_not_supported_never_empty():
    d = fake(seed=3, volumes=5)
    results = {m: resource_result(d, m) for m in LIST_METHODS}
    for m in ("list_filesystems", "list_qtrees", "list_quotas", "list_shares"):
        assert results[m].status == "not_supported"
        assert results[m].rows is None
    assert results["list_volumes"].status == "supported"
    assert results["list_volumes"].count == 5


def test_failed_list_reports_the_error():
    d = fake(seed=3, volumes=5)

    def broken(context):
        raise InvalidResults("boom")
    d.list_volumes = broken
    res = resource_result(d, "list_volumes")
    assert res.status == "failed" and res.error["error_code"] == "InvalidResults" and res.rows is None


def test_perf_is_deterministic_and_in_schema():
    d1, d2 = fake(seed=9, volumes=100), fake(seed=9, volumes=100)
    end = int(time.time() * 1000) // 60000 * 60000
    t1 = d1.collect_perf_metrics(None, "s-1", None, end - 180_000, end)
    t2 = d2.collect_perf_metrics(None, "s-1", None, end - 180_000, end)
    assert t1.schema.equals(METRIC_SCHEMA)
    assert t1.to_pylist() == t2.to_pylist()
    # 3 samples x (1 storage + 4 pools + 100 vols + 8 ports) x 15 + disks 24 x 12 + ctl 2 x 16
    assert t1.num_rows == 3 * ((1 + 4 + 100 + 8) * 15 + 24 * 12 + 2 * 16)
    units = dict(zip(t1.column("metric").to_pylist(), t1.column("unit").to_pylist()))
    assert units["iops"] == "IOPS" and units["cpuUsage"] == "%" and units["throughput"] == "MB/s"


def test_metric_list_path_converts_to_the_same_table():
    end = int(time.time() * 1000) // 60000 * 60000
    want = fake(seed=4, volumes=10).collect_perf_metrics(None, "s-1", {"volume": ["iops"]}, end - 120_000, end)
    got = fake(seed=4, volumes=10, metric_format="list").collect_perf_metrics(
        None, "s-1", {"volume": ["iops"]}, end - 120_000, end)
    assert isinstance(got, list) and isinstance(got[0], Metric)
    table = metrics_to_table(got)
    assert table.schema.equals(METRIC_SCHEMA)
    assert sorted(map(tuple, (r.values() for r in table.to_pylist()))) == \
        sorted(map(tuple, (r.values() for r in want.to_pylist())))


def test_schema_validator():
    good = metrics_to_table([Metric("iops", {"storage_id": "s", "resource_type": "volume",
                                            "resource_id": "v1", "unit": "IOPS"}, {60000: 1.5})])
    assert validate_table(good).num_rows == 1
    with pytest.raises(InvalidResults):
        validate_table(good.drop_columns(["unit"]))
    with pytest.raises(InvalidResults):
        validate_table(pa.table({"timestamp": [1], "storage_id": ["s"], "resource_type": ["v"],
                                 "resource_id": [None], "metric": ["m"], "unit": ["u"], "value": [1.0]}))
    with pytest.raises(InvalidResults):
        validate_table({"not": "a table"})
    with pytest.raises(InvalidResults):
        metrics_to_table([Metric("iops", {"resource_type": "volume"}, {1: 1.0})])
