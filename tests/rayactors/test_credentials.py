"""Defect 3: expired credentials are no dead end, and nothing hammers the array's lockout."""
import os
import stat
import threading
import time
from contextlib import contextmanager

import pytest
import ray

from drivers.errors import (AccessInfoNotFound, InvalidInput, InvalidUsernameOrPassword, StorageBackendException,
                            StorageBusy, StorageSerialNumberMismatch)
from drivers.simulator.control import rest_access, ssh_access

from ..helpers import wait_first_sync, wait_for


def rotate_and_expire(simulator, arr, password):
    simulator.rotate_password(arr["name"], password)
    simulator.expire_sessions(arr["name"])


@contextmanager
def update_held_at_array(client, simulator, arr, sid, password, latency_ms):
    """An access-info update in a thread whose login the array holds for ``latency_ms`` (then its
    storage check as long); yields the thread and its answer (filled once it returns). Entered
    once the login is at the array; on exit the latency is lifted and the update joined."""
    simulator.faults(arr["name"], latency_ms=latency_ms)
    done: dict = {}
    t = threading.Thread(target=lambda: done.update(
        client.update_access_info(None, {"storage_id": sid, "rest": {"password": password}})))
    try:
        t.start()
        wait_for(lambda: simulator.stats(arr["name"])["inflight"] == 1, 20, what="the update's login at the array")
        yield t, done
    finally:
        simulator.faults(arr["name"], latency_ms=0)
        t.join(60)


def test_rotation_auth_failed_no_retries_then_update_heals(manager, simulator):
    arr = simulator.add_array()
    c = manager.client
    sid = c.discover_storage(None, rest_access(arr))["id"]
    rotate_and_expire(simulator, arr, "new-pw-1")
    with pytest.raises(InvalidUsernameOrPassword):
        c.list_volumes(None, sid)
    assert c.storage_state(sid)["state"] == "auth_failed"
    wait_for(lambda: [a for a in c.alerts(sid) if a["alert_name"] == "CredentialsRejected"], 10,
             what="alert")
    failed = simulator.stats(arr["name"])["failed_logins"]
    assert failed == 1
    end = time.monotonic() + 10
    while time.monotonic() < end:        # periodic callers keep trying; the array sees nothing
        with pytest.raises(InvalidUsernameOrPassword):
            c.get_storage(None, sid)
        time.sleep(0.5)
    assert simulator.stats(arr["name"])["failed_logins"] == failed
    rejected = [a for a in c.alerts(sid) if a["alert_name"] == "CredentialsRejected"]
    assert len(rejected) == 1 and rejected[0]["severity"] == "Major"
    for field in ("alert_id", "alert_name", "severity", "category", "type", "description",
                  "occur_time", "resource_type", "storage_id", "sequence_number"):
        assert rejected[0][field] not in (None, ""), field

    out = c.update_access_info(None, {"storage_id": sid, "rest": {"password": "new-pw-1"}})
    assert "password" not in out["rest"]
    assert c.storage_state(sid)["state"] == "ready"
    assert len(c.list_volumes(None, sid)) == 50
    assert not c.alerts(sid, open_only=True) or all(
        a["alert_name"] == "StorageRecovered" for a in c.alerts(sid, open_only=True))


def test_update_while_ready_swaps_and_logs_old_session_out(manager, simulator):
    arr = simulator.add_array()
    c = manager.client
    sid = c.discover_storage(None, rest_access(arr))["id"]
    wait_first_sync(c, simulator, arr, sid)
    simulator.rotate_password(arr["name"], "pw-2")      # the old session keeps working
    c.update_access_info(None, {"storage_id": sid, "rest": {"password": "pw-2"}})
    stats = simulator.stats(arr["name"])
    assert (stats["logins"], stats["logouts"], stats["active_sessions"]) == (2, 1, 1)
    assert c.get_storage(None, sid)["serial_number"] == arr["serial_number"]


def test_an_update_given_up_on_changes_nothing_afterwards(manager_factory, simulator):
    """The supervisor stops waiting for a slow update (``control_timeout_s``) and reports it
    failed: when the array answers that login later, its session is logged out and the old one
    stays, so the actor never ends up on access info the registry does not hold."""
    m = manager_factory(control_timeout_s=4)
    arr = simulator.add_array()
    c = m.client
    sid = c.discover_storage(None, rest_access(arr))["id"]
    simulator.rotate_password(arr["name"], "pw-2")      # the old session keeps working
    simulator.faults(arr["name"], latency_ms=5000)      # login, then get_storage: 10 s in all
    try:
        with pytest.raises(StorageBackendException, match="did not answer in time"):
            c.update_access_info(None, {"storage_id": sid, "rest": {"password": "pw-2"}})
        wait_for(lambda: simulator.stats(arr["name"])["logouts"] == 1, 30, what="a logout")
    finally:
        simulator.faults(arr["name"], latency_ms=0)
    stats = simulator.stats(arr["name"])
    assert (stats["logins"], stats["active_sessions"]) == (2, 1), stats
    state = c.storage_state(sid)
    assert (state["state"], state["epoch"]) == ("ready", 1), state     # not the update's epoch 2
    assert c.get_storage(None, sid)["serial_number"] == arr["serial_number"]


def test_a_change_while_an_update_is_under_way_is_told_to_retry(manager_factory, simulator):
    """A second update, or a removal, does not queue behind a slow update past
    ``close_timeout_s`` (it would outlast its caller's deadline and then happen after the caller
    was told it failed): StorageBusy while the first is at the array, which then completes alone."""
    m = manager_factory(close_timeout_s=1)
    arr = simulator.add_array()
    c = m.client
    sid = c.discover_storage(None, rest_access(arr))["id"]
    wait_first_sync(c, simulator, arr, sid)
    simulator.rotate_password(arr["name"], "pw-2")
    with update_held_at_array(c, simulator, arr, sid, "pw-2", 3000) as (t, done):   # 6 s in all
        with pytest.raises(StorageBusy, match="access-info update"):
            c.update_access_info(None, {"storage_id": sid, "rest": {"password": "pw-3"}})
        with pytest.raises(StorageBusy, match="removal"):
            c.remove_storage(None, sid)
        assert t.is_alive()                              # both refused while the first was under way
    assert done["storage_id"] == sid
    stats = simulator.stats(arr["name"])
    assert (stats["logins"], stats["logouts"], stats["active_sessions"]) == (2, 1, 1), stats
    state = c.storage_state(sid)
    assert (state["state"], state["epoch"]) == ("ready", 2), state
    assert c.get_storage(None, sid)["serial_number"] == arr["serial_number"]


def test_update_pointing_at_another_array_is_refused(manager, simulator):
    arr, other = simulator.add_array(), simulator.add_array()
    c = manager.client
    sid = c.discover_storage(None, rest_access(arr))["id"]
    with pytest.raises(StorageSerialNumberMismatch):
        c.update_access_info(None, {"storage_id": sid, "rest": rest_access(other)["rest"]})
    assert simulator.stats(arr["name"])["active_sessions"] == 1
    assert c.get_storage(None, sid)["serial_number"] == arr["serial_number"]
    assert c.get_access_info(sid)["rest"]["port"] == arr["rest_port"]   # not persisted
    assert simulator.stats(other["name"])["active_sessions"] == 0       # its trial session logged out


def test_update_errors(manager, simulator):
    arr = simulator.add_array()
    c = manager.client
    sid = c.discover_storage(None, ssh_access(arr))["id"]
    with pytest.raises(AccessInfoNotFound):
        c.update_access_info(None, {"storage_id": "nope", "ssh": {"password": "x"}})
    with pytest.raises(InvalidInput):
        c.update_access_info(None, {"storage_id": sid, "vendor": "other"})
    with pytest.raises(InvalidInput):
        c.update_access_info(None, {"storage_id": sid, "ssh": {"port": 99999}})
    with pytest.raises(InvalidUsernameOrPassword):
        c.update_access_info(None, {"storage_id": sid, "ssh": {"password": "wrong"}})
    assert c.storage_state(sid)["state"] == "ready"          # the working session is kept
    assert c.get_storage(None, sid)["serial_number"] == arr["serial_number"]


def test_credentials_script_heals_a_rotation(manager_factory, simulator, tmp_path):
    secret_file = tmp_path / "current-password"
    secret_file.write_text("pw-initial\n")
    script = tmp_path / "creds.sh"
    script.write_text(f"#!/bin/sh\n# called as: creds.sh <host> <username>\necho \"username: $2\"\n"
                      f"echo \"password: $(cat {secret_file})\"\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    m = manager_factory(credentials_script=str(script))
    arr = simulator.add_array()
    sid = m.client.discover_storage(None, rest_access(arr))["id"]
    secret_file.write_text("vault-rotated\n")
    rotate_and_expire(simulator, arr, "vault-rotated")
    try:
        m.client.list_volumes(None, sid)        # the call in flight may fail ...
    except InvalidUsernameOrPassword:
        pass
    wait_for(lambda: m.client.storage_state(sid)["state"] == "ready", 20, what="self-heal")
    assert len(m.client.list_volumes(None, sid)) == 50   # ... the next ones succeed
    stats = simulator.stats(arr["name"])
    # the registration login, then exactly one failed and one successful login
    assert stats["failed_logins"] == 1 and stats["logins"] == 2
    assert not [a for a in m.client.alerts(sid, open_only=True) if a["alert_name"] == "CredentialsRejected"]


def test_credentials_script_with_the_same_password_does_not_loop(manager_factory, simulator, tmp_path):
    script = tmp_path / "same.sh"
    script.write_text("#!/bin/sh\necho pw-initial\n")
    script.chmod(0o700)
    m = manager_factory(credentials_script=str(script))
    arr = simulator.add_array()
    sid = m.client.discover_storage(None, rest_access(arr))["id"]
    rotate_and_expire(simulator, arr, "elsewhere")
    with pytest.raises(InvalidUsernameOrPassword):
        m.client.list_volumes(None, sid)
    wait_for(lambda: m.client.alerts(sid, open_only=True), 10, what="alert")
    time.sleep(2)
    assert simulator.stats(arr["name"])["failed_logins"] == 1


def test_a_credentials_refresh_queued_behind_an_update_leaves_the_update_alone(manager_factory, simulator, tmp_path):
    """A rejection reported while an update holds the storage starts a refresh that waits for it.
    The update ends the rejection, so the refresh must not run the script or log in with what the
    script knows (here stale credentials, which would fail at the array and raise a spurious
    CredentialsRejected). The reports are sent as the storage actor sends them: a call's
    rejection landing inside the update's login is a race the array cannot hold still."""
    calls = tmp_path / "script-calls"
    script = tmp_path / "stale.sh"
    script.write_text(f"#!/bin/sh\necho \"$1\" >> {calls}\necho vault-stale\n")
    script.chmod(0o700)
    m = manager_factory(credentials_script=str(script))
    arr = simulator.add_array()
    c = m.client
    sid = c.discover_storage(None, rest_access(arr))["id"]
    wait_first_sync(c, simulator, arr, sid)
    simulator.rotate_password(arr["name"], "pw-2")
    epoch = c.storage_state(sid)["epoch"]               # the reports below are the owner's
    with update_held_at_array(c, simulator, arr, sid, "pw-2", 1500) as (t, done):
        ray.get(m.supervisor.on_state_change.remote(sid, epoch, "auth_failed", "ready", None))
        assert ray.get(m.supervisor.ping.remote())["healing"] == 1 and t.is_alive()   # queued behind it
    assert done["storage_id"] == sid
    wait_for(lambda: ray.get(m.supervisor.ping.remote())["healing"] == 0, 20, what="the refresh to end")

    # a rejection reported late, after the update that ended it: the actor says it is ready
    epoch = c.storage_state(sid)["epoch"]
    ray.get(m.supervisor.on_state_change.remote(sid, epoch, "auth_failed", "ready", None))
    wait_for(lambda: ray.get(m.supervisor.ping.remote())["healing"] == 0, 20, what="the refresh to end")
    ray.get(m.supervisor.on_state_change.remote(sid, epoch, "ready", "auth_failed", None))
    # none dropped: these, nor the actor's own reports queued before the update raised its epoch
    # (each is sent with the epoch the actor holds when it is sent)
    assert ray.get(m.supervisor.ping.remote())["stale_reports"] == 0

    assert not calls.exists()                           # the script was never asked
    stats = simulator.stats(arr["name"])
    assert (stats["logins"], stats["failed_logins"], stats["logouts"], stats["active_sessions"]) == (2, 0, 1, 1), stats
    assert not [a for a in c.alerts(sid) if a["alert_name"] == "CredentialsRejected"]
    state = c.storage_state(sid)
    assert (state["state"], state["epoch"]) == ("ready", 2), state
    assert c.get_storage(None, sid)["serial_number"] == arr["serial_number"]
