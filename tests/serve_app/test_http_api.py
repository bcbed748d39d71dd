"""Delfin v1 routes over real Serve HTTP: shapes, status codes, errors, secrets, auth."""
import socket
import time
from pathlib import Path

import pyarrow as pa
import pytest

from drivers.simulator.control import rest_access, ssh_access
from serve_app import deploy

from ..helpers import wait_for

PASSWORD = "Http-Secret-77"
COLLECTIONS = {"storage-pools": "storage_pools", "volumes": "volumes", "controllers": "controllers",
               "ports": "ports", "disks": "disks", "filesystems": "filesystems", "qtrees": "qtrees",
               "quotas": "quotas", "shares": "shares"}
SUPPORTED = {"storage-pools": 4, "volumes": 12, "controllers": 2, "ports": 8, "disks": 24}
NOT_FOUND = {"storage-pools": "StoragePoolNotFound", "volumes": "VolumeNotFound", "controllers": "ControllerNotFound",
             "ports": "PortNotFound", "disks": "DiskNotFound", "filesystems": "FilesystemNotFound",
             "qtrees": "QtreeNotFound", "quotas": "QuotaNotFound", "shares": "ShareNotFound"}
SERIES = {"volume": ["iops"], "controller": ["cpuUsage"]}


def error_of(resp):
    body = resp.json()
    assert set(body) == {"error_code", "error_msg", "error_args"}, body
    return body["error_code"]


@pytest.fixture(scope="module")
def storage(api, simulator):
    arr = simulator.add_array(password=PASSWORD, perf_interval=2, sizes={"volumes": 12})
    resp = api("POST", "/v1/storages", json=rest_access(arr, resource_metrics=SERIES))
    assert resp.status_code == 201, resp.text
    body = resp.json()
    wait_for(lambda: api("GET", f"/v1/volumes?storage_id={body['id']}").json()["volumes"], 30, what="first sync")
    return arr, body


def test_create_returns_the_storage(storage):
    arr, body = storage
    for field in ("id", "name", "vendor", "model", "serial_number", "firmware_version", "status",
                  "total_capacity", "used_capacity", "free_capacity"):
        assert field in body, field
    assert body["serial_number"] == arr["serial_number"]


def test_create_errors(api, simulator, storage):
    arr, _ = storage
    assert error_of(r := api("POST", "/v1/storages", json=rest_access(arr))) == "StorageAlreadyExists"
    assert r.status_code == 400
    other = simulator.add_array()
    r = api("POST", "/v1/storages", json=rest_access(other, password="wrong"))
    assert (r.status_code, error_of(r)) == (400, "InvalidUsernameOrPassword")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    bad = rest_access(other)
    bad["rest"]["port"] = closed
    r = api("POST", "/v1/storages", json=bad)
    assert (r.status_code, error_of(r)) == (400, "InvalidIpOrPort")
    r = api("POST", "/v1/storages", json={"vendor": "acme", "model": "x1", "rest": {
        "host": "127.0.0.1", "port": 1, "username": "u", "password": "p"}})
    assert (r.status_code, error_of(r)) == (404, "StorageDriverNotFound")
    for body in ({"vendor": "simulator"}, {"vendor": "simulator", "model": "rest", "rest": {"port": 99999}}, [1, 2]):
        r = api("POST", "/v1/storages", json=body)
        assert (r.status_code, error_of(r)) == (400, "InvalidInput"), body
    r = api("POST", "/v1/storages", data=b"{not json", headers={"Content-Type": "application/json"})
    assert (r.status_code, error_of(r)) == (400, "InvalidInput")


def test_list_get_delete(api, simulator):
    arr = simulator.add_array()
    sid = api("POST", "/v1/storages", json=ssh_access(arr)).json()["id"]
    assert sid in [s["id"] for s in api("GET", "/v1/storages").json()["storages"]]
    assert api("GET", f"/v1/storages/{sid}").json()["serial_number"] == arr["serial_number"]
    assert api("DELETE", f"/v1/storages/{sid}").status_code == 202
    r = api("GET", f"/v1/storages/{sid}")
    assert (r.status_code, error_of(r)) == (404, "StorageNotFound")
    r = api("DELETE", f"/v1/storages/{sid}")
    assert (r.status_code, error_of(r)) == (404, "StorageNotFound")


def test_access_info_routes_never_show_a_password(api, storage):
    arr, body = storage
    sid = body["id"]
    r = api("GET", f"/v1/storages/{sid}/access-info")
    assert r.status_code == 200 and r.json()["rest"]["port"] == arr["rest_port"]
    block = rest_access(arr, PASSWORD)["rest"]
    r = api("PUT", f"/v1/storages/{sid}/access-info", json={"rest": block, "extra_attributes": {
        "scheme": "http", "verify": "false", "resource_metrics": "volume:iops;controller:cpuUsage"}})
    assert r.status_code == 200 and "password" not in r.json()["rest"]
    assert api("GET", "/v1/access-infos").json()["access_infos"]
    r = api("PUT", "/v1/storages/nope/access-info", json={"rest": block})
    assert (r.status_code, error_of(r)) == (404, "AccessInfoNotFound")
    r = api("PUT", f"/v1/storages/{sid}/access-info", json={"vendor": "acme", "rest": block})
    assert (r.status_code, error_of(r)) == (400, "InvalidInput")
    r = api("GET", "/v1/storages/nope/access-info")
    assert (r.status_code, error_of(r)) == (404, "AccessInfoNotFound")


def test_sync_and_capabilities(api, storage):
    sid = storage[1]["id"]
    assert api("POST", f"/v1/storages/{sid}/sync").status_code == 202
    assert api("POST", "/v1/storages/sync").status_code == 202
    r = api("POST", "/v1/storages/nope/sync")
    assert (r.status_code, error_of(r)) == (404, "StorageNotFound")
    caps = api("GET", f"/v1/storages/{sid}/capabilities").json()
    assert caps["metadata"] == {"vendor": "simulator", "model": "sim-9000"}
    assert caps["spec"]["is_historic"] is True and "volume" in caps["spec"]["resource_metrics"]


@pytest.mark.parametrize("collection,key", sorted(COLLECTIONS.items()))
def test_collections(api, storage, collection, key):
    sid = storage[1]["id"]
    r = api("GET", f"/v1/{collection}?storage_id={sid}")
    assert r.status_code == 200
    rows = r.json()[key]
    if collection in SUPPORTED:
        assert len(rows) == SUPPORTED[collection]
        assert r.headers["X-Resource-Support"] == "supported"
        row = rows[0]
        assert row["storage_id"] == sid and row["id"]
        one = api("GET", f"/v1/{collection}/{row['id']}")
        assert one.status_code == 200 and one.json() == row
    else:
        assert rows == [] and r.headers["X-Resource-Support"] == "not_supported"
        assert r.json()["resource_support"][sid]["status"] == "not_supported"
    assert api("GET", f"/v1/{collection}?storage_id=unknown").json() == {key: []}
    r = api("GET", f"/v1/{collection}/no-such-row")
    assert (r.status_code, error_of(r)) == (404, NOT_FOUND[collection])


def test_row_ids_are_stable_and_served_while_the_array_is_down(api, simulator, storage):
    arr, body = storage
    sid = body["id"]
    before = {v["native_volume_id"]: v["id"] for v in api("GET", f"/v1/volumes?storage_id={sid}").json()["volumes"]}
    api("POST", f"/v1/storages/{sid}/sync")
    time.sleep(2)
    simulator.faults(arr["name"], down=True)
    try:
        after = api("GET", f"/v1/volumes?storage_id={sid}").json()["volumes"]
        assert {v["native_volume_id"]: v["id"] for v in after} == before
    finally:
        simulator.faults(arr["name"], down=False)
    wait_for(lambda: api("GET", f"/v1/storages/{sid}/state").json()["state"] == "ready", 30, what="recovery")


def test_host_mapping_and_array_alerts(api, storage):
    sid = storage[1]["id"]
    r = api("GET", f"/v1/storages/{sid}/storage-hosts")
    assert r.status_code == 200 and r.json()["storage_hosts"] == [] and \
        r.headers["X-Resource-Support"] == "not_supported"
    r = api("GET", f"/v1/storages/{sid}/alerts?begin_time=0&end_time=1")
    assert (r.status_code, error_of(r)) == (501, "StorageCapabilityNotSupported")


def test_fake_driver_alerts(api):
    access = {"vendor": "fake_storage", "model": "fake_driver", "extra_attributes": {"volumes": "3"},
              "rest": {"host": "127.0.0.1", "port": 1, "username": "u", "password": "p"}}
    sid = api("POST", "/v1/storages", json=access).json()["id"]
    assert api("GET", f"/v1/storages/{sid}/alerts").json() == {"alerts": []}
    assert api("DELETE", f"/v1/storages/{sid}/alerts/12").status_code == 200
    assert api("DELETE", f"/v1/storages/{sid}").status_code == 202


def test_support_state_and_manager_alerts(api, storage):
    sid = storage[1]["id"]
    support = api("GET", f"/v1/storages/{sid}/resource-support").json()["resource_support"]
    assert support["volume"]["status"] == "supported" and support["filesystem"]["status"] == "not_supported"
    state = api("GET", f"/v1/storages/{sid}/state").json()
    assert state["state"] == "ready" and "collection" in state
    assert "alerts" in api("GET", "/v1/alerts").json()
    r = api("GET", "/v1/storages/nope/state")
    assert (r.status_code, error_of(r)) == (404, "StorageNotFound")


def test_metrics_arrow_and_json(api, storage):
    sid = storage[1]["id"]
    wait_for(lambda: api("GET", f"/v1/storages/{sid}/state").json()["collection"].get("windows_collected", 0) >= 2,
             30, what="windows")
    r = api("GET", f"/v1/storages/{sid}/metrics")
    assert r.headers["content-type"] == "application/vnd.apache.arrow.stream"
    table = pa.ipc.open_stream(r.content).read_all()
    assert table.num_rows >= 2 * 14 and set(table.column("metric").to_pylist()) == {"iops", "cpuUsage"}
    r = api("GET", f"/v1/storages/{sid}/metrics?metric=iops", headers={"Accept": "application/json"})
    rows = r.json()["metrics"]
    assert rows and all(x["metric"] == "iops" and isinstance(x["timestamp"], int) for x in rows)
    r = api("GET", f"/v1/storages/{sid}/metrics?limit=1", headers={"Accept": "application/json"})
    assert (r.status_code, error_of(r)) == (400, "InvalidInput")
    r = api("GET", f"/v1/storages/{sid}/metrics?start=10&end=5")
    assert (r.status_code, error_of(r)) == (400, "InvalidInput")
    r = api("GET", "/v1/storages/nope/metrics")
    assert (r.status_code, error_of(r)) == (404, "StorageNotFound")
    # a file damaged from outside: this storage's reads fail, saying so (its path goes to the
    # service's log, not to the client); the file gone, they answer again
    day = time.strftime("%Y-%m-%d", time.gmtime())
    damaged = Path(api.manager.cfg.resolved().metrics_root) / f"storage_id={sid}" / f"date={day}" / "damaged.parquet"
    damaged.parent.mkdir(parents=True, exist_ok=True)
    damaged.write_text("not parquet")          # (not a w- file: the storage actor's hourly merge leaves it be)
    try:
        r = api("GET", f"/v1/storages/{sid}/metrics")
        assert (r.status_code, error_of(r)) == (500, "StorageBackendException")
        assert f"a metrics file of storage {sid} cannot be read" in r.json()["error_msg"]
        assert str(damaged.parent) not in r.text
    finally:
        damaged.unlink()
    assert api("GET", f"/v1/storages/{sid}/metrics").status_code == 200


def test_operations_routes(api, storage):
    assert api("GET", "/health").json() == {"status": "ok"}
    assert api("GET", "/ready").json()["status"] == "ready"
    from prometheus_client.parser import text_string_to_metric_families
    sid = storage[1]["id"]
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for f in text_string_to_metric_families(api("GET", "/metrics").text) for s in f.samples}
    assert samples[("delfin_dm_storage_state", (("state", "ready"), ("storage_id", sid)))] == 1.0
    assert samples[("delfin_dm_storage_state", (("state", "unreachable"), ("storage_id", sid)))] == 0.0
    assert samples[("delfin_dm_sessions", (("storage_id", sid),))] == 1.0
    assert samples[("delfin_dm_logins_total", (("storage_id", sid),))] >= 1
    assert ("delfin_dm_points_collected_total", (("storage_id", sid),)) in samples
    assert ("delfin_dm_windows_pending", (("storage_id", sid),)) in samples
    assert api("GET", "/openapi.json").json()["info"]["title"] == "Delfin Driver Manager"
    assert api("GET", "/docs").status_code == 200
    r = api("GET", "/v1/nothing-here")
    assert (r.status_code, error_of(r)) == (404, "ResourceNotFound")


def test_password_absent_from_every_response(api, storage):
    sid = storage[1]["id"]
    for path in ["/v1/storages", f"/v1/storages/{sid}", f"/v1/storages/{sid}/access-info", "/v1/access-infos",
                 f"/v1/storages/{sid}/state", "/v1/alerts", "/metrics", f"/v1/storages/{sid}/resource-support"]:
        assert PASSWORD not in api("GET", path).text, path


def test_bearer_token_on_and_off(api):
    manager = api.manager
    deploy(manager.cfg, port=int(api.url.rsplit(":", 1)[1]), api_token="t0ken-abc")
    try:
        wait_for(lambda: api("GET", "/v1/storages").status_code == 401, 60, what="auth on")
        r = api("GET", "/v1/storages")
        assert error_of(r) == "Unauthorized"
        assert api("GET", "/health").status_code == 200
        assert api("GET", "/v1/storages", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert api("GET", "/v1/storages", headers={"Authorization": "Bearer t0ken-abc"}).status_code == 200
    finally:
        deploy(manager.cfg, port=int(api.url.rsplit(":", 1)[1]), api_token="")
    wait_for(lambda: api("GET", "/v1/storages").status_code == 200, 60, what="auth off")
