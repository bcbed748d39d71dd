"""Delfin's ``dellemc vnx_block`` driver in our storage actors: the vendor-driver tests of
tests/rayactors/test_delfin_drivers.py, run for VNX block in lane 1. Its driver waits on no
sleep of its own (a ``naviseccli`` process per command, answered at once), unlike the drivers
that module runs in lane 2 (tests/run_split.py), which is the longer lane. The shared cluster's
node has the simulator's stand-in ``naviseccli`` on its PATH (tests/conftest.py)."""
from __future__ import annotations

import glob
import os
import time

import pytest
import ray
from ray.util import state as ray_state

from drivers.errors import InvalidUsernameOrPassword, StorageBackendException

from ..helpers import on_module_manager
from . import test_delfin_drivers as vendor

pytest.importorskip("delfin")
KIND = "vnx"
manager = pytest.fixture(on_module_manager)


def test_nine_callers_one_command_at_a_time_then_remove(manager, simulator, tmp_path):
    vendor.test_nine_callers_one_session_then_remove_logs_out(manager, simulator, KIND, tmp_path)


def test_a_busy_storage_processor_keeps_the_last_inventory(manager, simulator):
    vendor.test_a_throttled_array_keeps_the_last_inventory(manager, simulator, KIND)


def test_types_the_array_lacks_are_not_supported(manager, simulator):
    vendor.test_types_the_array_lacks_are_not_supported(manager, simulator, KIND)


def test_rotation_auth_failed_one_refused_command_then_update(manager, simulator):
    vendor.test_rotation_auth_failed_no_retry_then_update(manager, simulator, KIND)


def test_a_held_command_keeps_the_other_callers_off_the_array(manager, simulator):
    """With no session at the array, what keeps naviseccli's commands apart is on our side: the
    storage's one gate (one call at a time) and the driver's own lock, which the host's runner
    keeps. (With the gate opened to 3 calls and the lock left out, the array saw 3 commands at
    once in this test: checked.)"""
    vendor.test_a_held_request_keeps_the_other_callers_off_the_array(manager, simulator, KIND)


def test_the_password_on_naviseccli_command_lines_stays_out_of_logs_errors_and_state(manager, simulator):
    """VNX block's driver puts the password on every naviseccli command line (README: know
    before you use it). What the host makes of those commands never carries it: not the
    errors of a busy processor (at a call and at a registration's login, ``getagent``, which
    the host runs too; that registration registers nothing) or a refused account, not the actor
    logs, not Ray's state API, not what the client returns."""
    password = "Vnx-Secr3t-On-Argv"
    arr, busy_arr = (simulator.add_array(kind=KIND, sizes=vendor.SIZES, password=password) for _ in range(2))
    c = manager.client
    sid = c.discover_storage(None, vendor.access(KIND, arr))["id"]
    seen = [c.get_access_info(sid), c.list_volumes(None, sid)]
    with simulator.faulted(arr["name"], throttle=429):
        with pytest.raises(StorageBackendException) as busy:
            c.list_disks(None, sid)
    registered = sorted(s["id"] for s in c.list_storages())
    with simulator.faulted(busy_arr["name"], throttle=429):
        with pytest.raises(StorageBackendException, match="busy.* to getagent") as busy_login:
            c.discover_storage(None, vendor.access(KIND, busy_arr))
    assert sorted(s["id"] for s in c.list_storages()) == registered
    simulator.rotate_password(arr["name"], "rotated-" + password)
    with pytest.raises(InvalidUsernameOrPassword) as refused:
        c.list_disks(None, sid)
    seen += [busy.value, busy_login.value, refused.value, c.storage_state(sid)]
    assert "answered 'Error: The storage processor is busy" in str(busy.value)
    listing = repr(ray_state.list_actors(address=manager.address, detail=True, limit=10000)) + \
        repr(ray_state.list_tasks(address=manager.address, detail=True, limit=10000))
    time.sleep(1)                                                   # the logs flushed
    logs = b"".join(open(p, "rb").read() for p in glob.glob(os.path.join(
        ray._private.worker._global_node.get_session_dir_path(), "logs", "*")) if os.path.isfile(p))
    assert b"storage processor is busy" in logs                     # the driver's errors are in them
    for secret in (password, "rotated-" + password):
        assert secret not in repr(seen) and secret not in listing
        assert secret.encode() not in logs
