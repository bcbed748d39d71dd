"""Delfin's own drivers behind the HTTP API: registration, support status, drivers catalog."""
import pytest

from drivers.simulator.control import pure_access, storwize_access, unity_access, vnx_access

from ..helpers import wait_for

pytest.importorskip("delfin")
ACCESS = {"pure": pure_access, "storwize": storwize_access, "unity": unity_access}


@pytest.mark.parametrize("kind", ["pure", "storwize", "unity"])
def test_vendor_array_over_http_file_resources_or_not_supported(api, simulator, kind):
    """File resources: Unity has them (one file system per pool, an NFS and an SMB share each);
    the FlashArray and Storwize drivers lack them, which is said, never shown as empty."""
    arr = simulator.add_array(kind=kind, sizes={"volumes": 7, "pools": 3})
    r = api("POST", "/v1/storages", json=ACCESS[kind](arr))
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    assert r.json()["serial_number"] == arr["serial_number"]
    wait_for(lambda: len(api("GET", f"/v1/volumes?storage_id={sid}").json()["volumes"]) == 7, 30, what="sync")
    vols = api("GET", f"/v1/volumes?storage_id={sid}")
    assert vols.headers["X-Resource-Support"] == "supported"
    for path, per_pool in (("filesystems", 1), ("shares", 2)):
        resp = api("GET", f"/v1/{path}?storage_id={sid}")
        assert resp.status_code == 200
        if kind == "unity":
            assert resp.headers["X-Resource-Support"] == "supported"
            assert len(resp.json()[path]) == 3 * per_pool
            assert {r["storage_id"] for r in resp.json()[path]} == {sid}
            continue
        assert resp.headers["X-Resource-Support"] == "not_supported"
        assert resp.json()["resource_support"][sid]["status"] == "not_supported" and resp.json()[path] == []
    stats = simulator.stats(arr["name"])
    assert (stats["logins"], stats["active_sessions"]) == (1, 1)
    assert api("DELETE", f"/v1/storages/{sid}").status_code == 202
    wait_for(lambda: simulator.stats(arr["name"])["active_sessions"] == 0, 10, what="logout")


def test_vnx_block_over_http_its_cli_block_and_a_rotated_password(api, simulator):
    """VNX block registered over HTTP with Delfin's ``cli`` block (naviseccli's account): its
    inventory synced, the access info shown without its password, a rotated password answered
    by a PUT of the new one, all counted at the array (no session held; one failed login for
    the old password, none before the rotation)."""
    arr = simulator.add_array(kind="vnx", sizes={"volumes": 7, "pools": 3})
    password = arr["users"]["admin"]
    r = api("POST", "/v1/storages", json=vnx_access(arr))
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    assert (r.json()["serial_number"], r.json()["vendor"], r.json()["model"]) == (arr["serial_number"], "DELL EMC",
                                                                               "VNX5400")
    wait_for(lambda: len(api("GET", f"/v1/volumes?storage_id={sid}").json()["volumes"]) == 7, 30, what="sync")
    pools = api("GET", f"/v1/storage-pools?storage_id={sid}").json()["storage_pools"]
    assert sorted(p["native_storage_pool_id"] for p in pools) == ["0", "1", "raid_group_0"]
    shown = api("GET", f"/v1/storages/{sid}/access-info")
    assert shown.status_code == 200 and password not in shown.text
    assert {k: shown.json()["cli"][k] for k in ("host", "port", "username")} == {
        "host": "127.0.0.1", "port": arr["rest_port"], "username": "admin"}
    simulator.rotate_password(arr["name"], "rotated-vnx")
    assert api("POST", f"/v1/storages/{sid}/sync").status_code == 202
    wait_for(lambda: api("GET", f"/v1/storages/{sid}/state").json()["state"] == "auth_failed", 30,
             what="the refusal seen")
    r = api("PUT", f"/v1/storages/{sid}/access-info", json={"cli": vnx_access(arr, "rotated-vnx")["cli"]})
    assert r.status_code == 200, r.text
    assert "rotated-vnx" not in r.text
    stats = simulator.stats(arr["name"])
    assert (stats["logins"], stats["active_sessions"], stats["failed_logins"]) == (0, 0, 1)
    assert api("DELETE", f"/v1/storages/{sid}").status_code == 202


def test_drivers_route_lists_ours_and_delfins(api):
    drivers = api("GET", "/v1/drivers").json()["drivers"]
    origins = {}
    for d in drivers:
        origins.setdefault(d["origin"], set()).add(d["name"])
    assert len(origins["delfin"]) == 15 and {"simulator rest", "simulator ssh"} <= origins["delfin_dm"]
