"""Secrets stay sealed; bad input gets Delfin errors, never a Ray traceback."""
import glob
import os
import time

import pytest
import ray
from ray.util import state as ray_state

from drivers.errors import (DelfinError, InvalidInput, InvalidIpOrPort, InvalidUsernameOrPassword, NotSupported,
                            StorageDriverNotFound, StorageNotFound)
from drivers.simulator.control import rest_access, ssh_access
from rayactors.client import driver_call

from ..helpers import free_port

PASSWORD = "Sup3r-Secret-Pa55"


def test_password_absent_everywhere(manager, simulator):
    arr = simulator.add_array(password=PASSWORD)
    c = manager.client
    storage = c.discover_storage(None, rest_access(arr))
    sid = storage["id"]
    ssh_arr = simulator.add_array(password=PASSWORD + "-ssh")
    c.discover_storage(None, ssh_access(ssh_arr))
    c.update_access_info(None, {"storage_id": sid, "rest": {"password": PASSWORD}})
    returned = [storage, c.list_storages(), c.get_access_info(sid), c.list_access_infos(),
                c.storage_state(sid), c.alerts(), c.resource_support(sid)]
    assert PASSWORD not in repr(returned)

    reg = manager.cfg.registry_path
    for path in [reg] + glob.glob(reg + "-*"):
        assert PASSWORD.encode() not in open(path, "rb").read(), path

    # this cluster's address: another test's cluster may be up on the machine meanwhile
    listing = repr(ray_state.list_actors(address=manager.address, detail=True, limit=10000)) + \
        repr(ray_state.list_tasks(address=manager.address, detail=True, limit=10000))
    assert PASSWORD not in listing

    session_dir = ray._private.worker._global_node.get_session_dir_path()
    time.sleep(1)
    for path in glob.glob(os.path.join(session_dir, "logs", "*")):
        if os.path.isfile(path):
            with open(path, "rb") as fh:
                assert PASSWORD.encode() not in fh.read(), path


def test_key_file_is_0600(manager):
    assert os.stat(manager.cfg.key_file).st_mode & 0o777 == 0o600


@pytest.mark.parametrize("call,error", [
    (lambda c: c.get_storage(None, "no-such-id"), StorageNotFound),
    (lambda c: c.list_volumes(None, 123), InvalidInput),
    (lambda c: c.list_volumes(None, ""), InvalidInput),
    (lambda c: c.storage_state("no-such-id"), StorageNotFound),
    (lambda c: c.discover_storage(None, {"vendor": "simulator"}), InvalidInput),
    (lambda c: c.discover_storage(None, "not a dict"), InvalidInput),
    (lambda c: c.discover_storage(None, {"vendor": "acme", "model": "x"}), InvalidInput),   # no block: schema first
    (lambda c: c.discover_storage(None, {"vendor": "acme", "model": "x", "rest": {
        "host": "h", "port": 1, "username": "u", "password": "p"}}), StorageDriverNotFound),
    (lambda c: c.update_access_info(None, "nope"), InvalidInput),
    (lambda c: c.update_access_info(None, {"rest": {}}), InvalidInput),
    (lambda c: c.remove_storage(None, None), InvalidInput),
    (lambda c: c.parse_alert(None, "no-such-id", {}), StorageNotFound),
])
def test_bad_input_gives_delfin_errors(module_manager, call, error):
    """Refused before anything is registered or changed: one supervisor serves all the cases."""
    with pytest.raises(error) as info:
        call(module_manager.client)
    assert type(info.value).__module__ == "drivers.errors"
    assert module_manager.client.list_storages() == []


def test_driver_call_sends_no_empty_arguments():
    assert driver_call("get_storage", (), {}) == ("get_storage",)
    assert driver_call("collect_perf_metrics", ["s", None, 1, 2], {}) == ("collect_perf_metrics", ("s", None, 1, 2))
    assert driver_call("list_alerts", (), {"query_para": {}}) == ("list_alerts", (), {"query_para": {}})


def test_bad_arguments_to_a_live_storage(manager, simulator):
    arr = simulator.add_array()
    c = manager.client
    sid = c.discover_storage(None, rest_access(arr))["id"]
    with pytest.raises(InvalidInput):
        c.list_volumes(None, sid, "unexpected")
    with pytest.raises(InvalidInput):
        c.list_volumes(None, sid, unexpected=1)
    with pytest.raises(NotSupported):                  # keywords reach the driver: it has no alerts
        c.list_alerts(None, sid, query_para={"begin_time": 1})
    with pytest.raises(InvalidInput):
        c.collect_perf_metrics(None, sid, None, "yesterday", 5)
    with pytest.raises(InvalidInput):
        c.collect_perf_metrics(None, sid, None, 10, 5)
    with pytest.raises(DelfinError):
        c.parse_alert(None, sid, {"x": 1})   # the simulator driver parses no traps: NotSupported


def test_register_unreachable_or_wrong_password(manager, simulator):
    arr = simulator.add_array()
    closed = rest_access(arr)
    closed["rest"]["port"] = free_port()
    with pytest.raises(InvalidIpOrPort):
        manager.client.discover_storage(None, closed)
    with pytest.raises(InvalidUsernameOrPassword):
        manager.client.discover_storage(None, rest_access(arr, password="wrong"))
    assert manager.live_ids() == set()
    assert manager.client.list_storages() == []
    assert simulator.stats(arr["name"])["failed_logins"] == 1
