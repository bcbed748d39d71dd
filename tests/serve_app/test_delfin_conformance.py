"""Delfin v1 conformance: each route of Delfin 1.5.0's v1 router, sent to our running API, checked
for status, error code and body keys against what Delfin's schemas and views say (read from
``delfin/api/schemas``, ``views``, ``v1/*.py`` and ``api_utils.py``; written here by hand).

The route-by-route table is docs/delfin-api.md.
"""
from __future__ import annotations

import time
import uuid

import pytest

from drivers.simulator.control import rest_access, ssh_access

from ..helpers import wait_for

STORAGE_KEYS = {"id", "name", "vendor", "model", "status", "serial_number", "firmware_version", "total_capacity",
                "used_capacity", "free_capacity", "sync_status", "created_at", "updated_at"}
ACCESS_INFO_KEYS = {"storage_id", "vendor", "model", "rest", "ssh", "cli", "smis", "extra_attributes",
                    "created_at", "updated_at"}
ROW_KEYS = {"id", "storage_id", "created_at", "updated_at"}
NOT_FOUND = {"storage-pools": "StoragePoolNotFound", "volumes": "VolumeNotFound",
             "controllers": "ControllerNotFound", "ports": "PortNotFound", "disks": "DiskNotFound",
             "filesystems": "FilesystemNotFound", "qtrees": "QtreeNotFound", "quotas": "QuotaNotFound",
             "shares": "ShareNotFound"}
HOST_MAPPING = {"storage-host-initiators": "storage_host_initiators", "storage-hosts": "storage_hosts",
                "storage-host-groups": "storage_host_groups", "port-groups": "port_groups",
                "volume-groups": "volume_groups", "masking-views": "masking_views"}


def fake(**extra) -> dict:
    return {"vendor": "fake_storage", "model": "fake_driver",
            "rest": {"host": "127.0.0.1", "port": 8443, "username": "admin", "password": "fake-pw"},
            "extra_attributes": {"volumes": "6", "disks": "3", "seed": str(uuid.uuid4().int % 10**6), **extra}}


def error(resp, status: int, code: str, *fragments: str) -> None:
    body = resp.json()
    assert (resp.status_code, body.get("error_code")) == (status, code), (resp.status_code, body)
    assert set(body) == {"error_code", "error_msg", "error_args"}
    for f in fragments:
        assert f in body["error_msg"], body["error_msg"]


@pytest.fixture(scope="module")
def storage(api):
    r = api("POST", "/v1/storages", json=fake(duplicate_disk="true"))
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    wait_for(lambda: api("GET", f"/v1/storages/{sid}").json()["sync_status"] == "SYNCED", 30, what="first sync")
    return r.json()


# -- POST /v1/storages ------------------------------------------------------------------------------
def test_create_answers_201_with_the_storage_view(api, storage):
    assert STORAGE_KEYS <= set(storage)
    assert storage["sync_status"] in ("SYNCED", "SYNCING")
    assert storage["created_at"] and storage["created_at"][10] == "T"


def test_create_validates_with_delfins_schema(api):
    base = fake()
    error(api("POST", "/v1/storages", json={**base, "colour": "red"}), 400, "InvalidInput",
          "Additional properties are not allowed ('colour' was unexpected)")
    error(api("POST", "/v1/storages", json={"vendor": "fake_storage", "model": "fake_driver"}), 400, "InvalidInput")
    error(api("POST", "/v1/storages", json={**base, "rest": {"host": "h", "port": 1, "username": "u"}}), 400,
          "InvalidInput", "'password' is a required property")
    error(api("POST", "/v1/storages", json={**base, "rest": {**base["rest"], "port": True}}), 400, "InvalidInput",
          "field/attribute port")
    error(api("POST", "/v1/storages", json={**base, "rest": {**base["rest"], "verify": False}}), 400,
          "InvalidInput", "'verify' was unexpected")
    error(api("POST", "/v1/storages", json={**base, "extra_attributes": {"volumes": 5}}), 400, "InvalidInput",
          "5 is not of type 'string'")
    error(api("POST", "/v1/storages", json={**base, "vendor": ""}), 400, "InvalidInput", "field/attribute vendor")


def test_create_takes_storage_name_and_ssh_pub_key_type(api, simulator):
    r = api("POST", "/v1/storages", json={**fake(), "storage_name": "lab-array-7"})
    assert r.status_code == 201 and r.json()["name"] == "lab-array-7"
    assert api("GET", f"/v1/storages/{r.json()['id']}").json()["name"] == "lab-array-7"
    error(api("POST", "/v1/storages", json={**fake(), "storage_name": ""}), 400, "InvalidInput")
    arr = simulator.add_array()
    access = ssh_access(arr)
    key_type, key = access["ssh"]["pub_key"].split()
    access["ssh"].update(pub_key=key, pub_key_type=key_type)           # Delfin's form of the host key
    r = api("POST", "/v1/storages", json=access)
    assert r.status_code == 201, r.text
    error(api("POST", "/v1/storages", json={**access, "ssh": {**access["ssh"], "pub_key_type": "ssh-foo"}}),
          400, "InvalidInput", "field/attribute pub_key_type")
    assert api("DELETE", f"/v1/storages/{r.json()['id']}").status_code == 202


# -- GET /v1/storages, /v1/storages/{id}, DELETE -----------------------------------------------------
def test_list_filters_sorts_and_pages(api, storage):
    extra = [api("POST", "/v1/storages", json={**fake(), "storage_name": f"pg-{i}"}).json()["id"] for i in range(3)]
    try:
        mine = api("GET", "/v1/storages?vendor=fake_vendor").json()["storages"]
        assert {s["vendor"] for s in mine} == {"fake_vendor"} and len(mine) >= 4
        assert api("GET", "/v1/storages?vendor=nobody").json() == {"storages": []}
        one = api("GET", "/v1/storages?name=pg-1").json()["storages"]
        assert [s["name"] for s in one] == ["pg-1"]
        assert api("GET", f"/v1/storages?serial_number={storage['serial_number']}").json()["storages"][0]["id"] == \
            storage["id"]
        asc = [s["name"] for s in api("GET", "/v1/storages?name=pg-0&name=pg-2").json()["storages"]]
        assert len(asc) <= 1                                   # exact match on the last value, as Delfin
        names = [s["name"] for s in api("GET", "/v1/storages?sort_key=name&sort_dir=asc&vendor=fake_vendor")
                 .json()["storages"]]
        assert names == sorted(names)
        names = [s["name"] for s in api("GET", "/v1/storages?sort=name:desc&vendor=fake_vendor").json()["storages"]]
        assert names == sorted(names, reverse=True)
        newest = api("GET", "/v1/storages").json()["storages"]
        assert [s["created_at"] for s in newest] == sorted((s["created_at"] for s in newest), reverse=True)
        page = api("GET", "/v1/storages?limit=2&offset=1").json()["storages"]
        assert [s["id"] for s in page] == [s["id"] for s in newest[1:3]]
        after = api("GET", f"/v1/storages?marker={newest[0]['id']}&limit=1").json()["storages"]
        assert [s["id"] for s in after] == [newest[1]["id"]]
        assert api("GET", "/v1/storages?colour=red").json()["storages"] == newest    # unknown filters ignored
        error(api("GET", "/v1/storages?sort_key=colour"), 400, "InvalidInput", "Sort key")
        error(api("GET", "/v1/storages?sort_dir=sideways"), 400, "InvalidInput")
        error(api("GET", "/v1/storages?limit=-1"), 400, "InvalidInput")
        error(api("GET", "/v1/storages?limit=many"), 400, "InvalidInput")
        error(api("GET", "/v1/storages?marker=no-such-id"), 400, "InvalidInput", "marker")
    finally:
        for sid in extra:
            api("DELETE", f"/v1/storages/{sid}")


def test_show_and_delete(api):
    sid = api("POST", "/v1/storages", json=fake()).json()["id"]
    assert STORAGE_KEYS <= set(api("GET", f"/v1/storages/{sid}").json())
    r = api("DELETE", f"/v1/storages/{sid}")
    assert r.status_code == 202 and r.content == b""
    error(api("GET", f"/v1/storages/{sid}"), 404, "StorageNotFound")
    error(api("DELETE", f"/v1/storages/{sid}"), 404, "StorageNotFound")


# -- sync -----------------------------------------------------------------------------------------
def test_sync_is_202_and_a_running_sync_refuses_another(api, simulator):
    arr = simulator.add_array(sizes={"volumes": 5})
    sid = api("POST", "/v1/storages", json=rest_access(arr)).json()["id"]
    wait_for(lambda: api("GET", f"/v1/storages/{sid}").json()["sync_status"] == "SYNCED", 30, what="first sync")
    simulator.faults(arr["name"], latency_ms=800)            # a sync now takes seconds
    try:
        r = api("POST", f"/v1/storages/{sid}/sync")
        assert r.status_code == 202 and r.content == b""
        assert api("GET", f"/v1/storages/{sid}").json()["sync_status"] == "SYNCING"
        error(api("POST", f"/v1/storages/{sid}/sync"), 400, "StorageIsSyncing", sid)
        assert api("POST", "/v1/storages/sync").status_code == 202      # all: the syncing one is skipped
    finally:
        simulator.faults(arr["name"], latency_ms=0)
    wait_for(lambda: api("GET", f"/v1/storages/{sid}").json()["sync_status"] == "SYNCED", 60, what="sync done")
    error(api("POST", "/v1/storages/nope/sync"), 404, "StorageNotFound")
    api("DELETE", f"/v1/storages/{sid}")


# -- capabilities ----------------------------------------------------------------------------------
def test_capabilities_are_wrapped_as_delfin_does(api, storage):
    body = api("GET", f"/v1/storages/{storage['id']}/capabilities").json()
    assert set(body) == {"metadata", "spec"}
    assert body["metadata"] == {"vendor": "fake_vendor", "model": "fake_model"}
    assert {"is_historic", "resource_metrics"} <= set(body["spec"])
    error(api("GET", "/v1/storages/nope/capabilities"), 404, "StorageNotFound")


# -- access info -----------------------------------------------------------------------------------
def test_access_info_shape_and_update_schema(api, storage):
    sid = storage["id"]
    info = api("GET", f"/v1/storages/{sid}/access-info").json()
    assert set(info) == ACCESS_INFO_KEYS
    assert set(info["rest"]) == {"host", "port", "username"}          # no password, no verify/scheme
    assert info["ssh"] is None and info["storage_id"] == sid
    rest = fake()["rest"]
    r = api("PUT", f"/v1/storages/{sid}/access-info", json={"rest": rest})
    assert r.status_code == 200 and set(r.json()) == ACCESS_INFO_KEYS and "password" not in r.json()["rest"]
    error(api("PUT", f"/v1/storages/{sid}/access-info", json={"vendor": "fake_storage", "rest": rest}), 400,
          "InvalidInput", "'vendor' was unexpected")
    error(api("PUT", f"/v1/storages/{sid}/access-info", json={"model": "fake_driver", "rest": rest}), 400,
          "InvalidInput", "'model' was unexpected")
    error(api("PUT", f"/v1/storages/{sid}/access-info",
              json={"rest": {k: v for k, v in rest.items() if k != "password"}}), 400, "InvalidInput",
          "'password' is a required property")
    error(api("PUT", f"/v1/storages/{sid}/access-info", json={}), 400, "InvalidInput")
    error(api("PUT", "/v1/storages/nope/access-info", json={"rest": rest}), 404, "AccessInfoNotFound")
    error(api("GET", "/v1/storages/nope/access-info"), 404, "AccessInfoNotFound")
    infos = api("GET", "/v1/access-infos").json()["access_infos"]
    assert infos and all(set(i) == ACCESS_INFO_KEYS for i in infos)


def test_ssh_update_may_leave_the_password_out(api, simulator):
    arr = simulator.add_array()
    access = ssh_access(arr)
    sid = api("POST", "/v1/storages", json=access).json()["id"]
    block = {k: v for k, v in access["ssh"].items() if k != "password"}     # Delfin: ssh password optional
    r = api("PUT", f"/v1/storages/{sid}/access-info", json={"ssh": block})
    assert r.status_code == 200, r.text
    assert api("GET", f"/v1/storages/{sid}/state").json()["state"] == "ready"
    api("DELETE", f"/v1/storages/{sid}")


# -- collections -------------------------------------------------------------------------------------
@pytest.mark.parametrize("collection", sorted(NOT_FOUND))
def test_collections_rows_and_per_type_not_found(api, storage, collection):
    key = collection.replace("-", "_")
    r = api("GET", f"/v1/{collection}?storage_id={storage['id']}")
    assert r.status_code == 200 and set(r.json()) >= {key}
    for row in r.json()[key]:
        assert ROW_KEYS <= set(row)
    error(api("GET", f"/v1/{collection}/{uuid.uuid4()}"), 404, NOT_FOUND[collection])
    assert api("GET", f"/v1/{collection}?storage_id={uuid.uuid4()}").json() == {key: []}


def test_rows_sharing_a_native_id_are_all_listed(api, storage):
    disks = api("GET", f"/v1/disks?storage_id={storage['id']}").json()["disks"]
    assert len(disks) == 4                                     # 3 + the twin
    twins = [d for d in disks if d["native_disk_id"] == "disk-0"]
    assert len(twins) == 2 and twins[0]["id"] != twins[1]["id"]
    for d in twins:
        assert api("GET", f"/v1/disks/{d['id']}").json()["name"] == d["name"]


def test_collection_filters_sorting_and_paging(api, storage):
    sid = storage["id"]
    vols = api("GET", f"/v1/volumes?storage_id={sid}&sort_key=native_volume_id&sort_dir=asc").json()["volumes"]
    assert [v["native_volume_id"] for v in vols] == sorted(v["native_volume_id"] for v in vols) and len(vols) == 6
    assert api("GET", f"/v1/volumes?storage_id={sid}&name={vols[2]['name']}").json()["volumes"] == [vols[2]]
    thin = api("GET", f"/v1/volumes?storage_id={sid}&native_volume_id=vol-1").json()["volumes"]
    assert [v["native_volume_id"] for v in thin] == ["vol-1"]
    page = api("GET", f"/v1/volumes?storage_id={sid}&sort_key=native_volume_id&sort_dir=asc&limit=2&offset=2")
    assert page.json()["volumes"] == vols[2:4]
    error(api("GET", f"/v1/volumes?sort_key=nonsense"), 400, "InvalidInput")
    error(api("GET", f"/v1/volumes?offset=-3"), 400, "InvalidInput")
    for v in vols:
        assert v["created_at"] <= v["updated_at"]


@pytest.mark.parametrize("collection", sorted(HOST_MAPPING))
def test_host_mapping_lists(api, storage, collection):
    r = api("GET", f"/v1/storages/{storage['id']}/{collection}")
    assert r.status_code == 200 and r.json()[HOST_MAPPING[collection]] == []
    assert api("GET", f"/v1/storages/{uuid.uuid4()}/{collection}").json() == {HOST_MAPPING[collection]: []}


# -- alerts and SNMP configuration -----------------------------------------------------------------
def test_array_alert_routes(api, storage):
    sid = storage["id"]
    assert api("GET", f"/v1/storages/{sid}/alerts").json() == {"alerts": []}
    error(api("GET", f"/v1/storages/{sid}/alerts?begin_time=20&end_time=10"), 400, "InvalidInput",
          "end_time should be greater than begin_time")
    error(api("GET", f"/v1/storages/{sid}/alerts?begin_time=abc"), 400, "InvalidInput")
    assert api("POST", f"/v1/storages/{sid}/alerts/sync", json={"begin_time": 1, "end_time": 2}).status_code == 200
    error(api("POST", f"/v1/storages/{sid}/alerts/sync", json={"begin_time": "x"}), 400, "InvalidInput")
    error(api("POST", f"/v1/storages/{sid}/alerts/sync", json={"colour": 1}), 400, "InvalidInput")
    assert api("DELETE", f"/v1/storages/{sid}/alerts/17").status_code == 200
    error(api("GET", "/v1/storages/nope/alerts"), 404, "StorageNotFound")


def test_snmp_config_routes_answer_as_delfin_without_a_trap_receiver(api, storage):
    sid = storage["id"]
    error(api("GET", f"/v1/storages/{sid}/snmp-config"), 404, "AlertSourceNotFound")
    error(api("DELETE", f"/v1/storages/{sid}/snmp-config"), 404, "AlertSourceNotFound")
    error(api("PUT", f"/v1/storages/{sid}/snmp-config", json={"version": "snmpv2c", "community_string": "x"}),
          501, "StorageCapabilityNotSupported")
    assert api("GET", "/v1/snmp-configs").json() == {"snmp_configs": []}
    error(api("GET", "/v1/storages/nope/snmp-config"), 404, "StorageNotFound")


def test_unknown_route_and_method(api):
    error(api("GET", "/v1/no-such-thing"), 404, "ResourceNotFound")
    r = api("TRACE", "/v1/storages")
    assert r.status_code == 405 and "GET" in r.headers.get("Allow", "")


def test_timestamps_move_on_update_not_on_read(api, storage):
    sid = storage["id"]
    first = api("GET", f"/v1/storages/{sid}").json()
    time.sleep(0.05)
    assert api("GET", f"/v1/storages/{sid}").json()["updated_at"] == first["updated_at"]
