"""Exactly one session per array while access info changes under load, counted at the array
(real Ray, the simulator's REST and SSH servers)."""
from __future__ import annotations

import os
import signal
import threading
import time

import pytest
import ray

from drivers.errors import InvalidUsernameOrPassword
from drivers.simulator.control import rest_access, ssh_access

from ..helpers import wait_first_sync, wait_for

ACCESS = {"rest": rest_access, "ssh": ssh_access}


class BulkCallers:
    """``n`` threads calling ``list_volumes`` through the client until stopped."""

    def __init__(self, client, sid: str, n: int) -> None:
        self.stop, self.errors, self.calls = threading.Event(), [], 0
        self._lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, args=(client, sid), daemon=True) for _ in range(n)]
        for t in self.threads:
            t.start()

    def _run(self, client, sid) -> None:
        while not self.stop.is_set():
            try:
                client.list_volumes(None, sid)
                with self._lock:
                    self.calls += 1
            except Exception as exc:  # noqa: BLE001 - the test asserts there are none
                self.errors.append(exc)

    def finish(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(60)


def active_within(simulator, name: str, want: int, seconds: float) -> int:
    deadline = time.monotonic() + seconds
    while True:
        active = simulator.stats(name)["active_sessions"]
        if active == want or time.monotonic() > deadline:
            return active
        time.sleep(0.02)


@pytest.mark.parametrize("proto", ["rest", "ssh"])
def test_delfin_issue_278_access_info_updates_under_bulk_load(manager, simulator, proto):
    """Delfin's issue 278: updating the access info in a loop until the array refused sessions.
    Here: 100 updates while 8 bulk callers run, two passwords rotated at the array in turn."""
    passwords = ["pw-a", "pw-b"]
    arr = simulator.add_array(password=passwords[0], sizes={"volumes": 20})
    c = manager.client
    sid = c.discover_storage(None, ACCESS[proto](arr))["id"]
    bulk = BulkCallers(c, sid, 8)
    updates, late = 100, []
    try:
        wait_for(lambda: bulk.calls >= 8, 30, what="bulk callers running")
        for i in range(updates):
            new = passwords[(i + 1) % 2]
            simulator.rotate_password(arr["name"], new)        # the old session keeps working
            c.update_access_info(None, {"storage_id": sid, proto: ACCESS[proto](arr, password=new)[proto]})
            active = active_within(simulator, arr["name"], 1, 1.0)
            if active != 1:
                late.append((i, active))
    finally:
        bulk.finish()
    stats = simulator.stats(arr["name"])
    assert bulk.errors == [] and bulk.calls > updates
    assert late == [], f"not exactly 1 active session within 1 s after these updates: {late}"
    assert stats["peak_sessions"] <= 2
    assert stats["logins"] == 1 + updates and stats["failed_logins"] == 0
    assert stats["active_sessions"] == 1


@pytest.mark.parametrize("proto", ["rest", "ssh"])
def test_update_during_20_syncs_on_a_slow_array(manager, simulator, proto):
    arr = simulator.add_array(sizes={"volumes": 20})
    c = manager.client
    sid = c.discover_storage(None, ACCESS[proto](arr))["id"]
    actor = manager.actor(sid)
    simulator.faults(arr["name"], latency_ms=300, latency_jitter_ms=700)
    try:
        syncs = [actor.sync.remote() for _ in range(20)]
        time.sleep(1.5)                                        # the bulk lane is busy
        simulator.rotate_password(arr["name"], "pw-rotated")
        started = time.monotonic()
        c.update_access_info(None, {"storage_id": sid, proto: ACCESS[proto](arr, password="pw-rotated")[proto]})
        took = time.monotonic() - started
        # the old session is logged out right after its list call in flight (one page, up to
        # 1 s here) and the logout's own round trip (up to 1 s): the update does not wait for it
        assert active_within(simulator, arr["name"], 1, 3.0) == 1
        assert took < 10, took
        stats = simulator.stats(arr["name"])
        assert stats["peak_sessions"] <= 2 and stats["failed_logins"] == 0
        assert stats["peak_session_inflight"] <= 4            # the driver's declared concurrency
    finally:
        simulator.faults(arr["name"], latency_ms=0, latency_jitter_ms=0)
    ray.get(syncs, timeout=120)
    assert simulator.stats(arr["name"])["active_sessions"] == 1


def test_an_update_does_not_wait_for_a_long_bulk_call_nor_cut_it(manager, simulator):
    """A list of 3 pages on a 1 s array is in flight on the old session: the update returns after
    its own login and serial check, the list finishes on the old session, which is logged out
    right after it; never more than two sessions at the array."""
    arr = simulator.add_array(sizes={"volumes": 6000})
    c = manager.client
    sid = c.discover_storage(None, rest_access(arr))["id"]
    wait_first_sync(c, simulator, arr, sid)        # the call in flight below is the list's, not the sync's
    simulator.faults(arr["name"], latency_ms=1000)
    listed: dict = {}
    try:
        lister = threading.Thread(target=lambda: listed.update(rows=c.list_volumes(None, sid)), daemon=True)
        lister.start()
        wait_for(lambda: simulator.stats(arr["name"])["inflight"] >= 1, 10, what="the list in flight")
        started = time.monotonic()
        c.update_access_info(None, {"storage_id": sid, "rest": rest_access(arr)["rest"]})
        took = time.monotonic() - started
        assert lister.is_alive() and simulator.stats(arr["name"])["active_sessions"] == 2
        lister.join(30)
        assert len(listed["rows"]) == 6000
        assert active_within(simulator, arr["name"], 1, 2.5) == 1
    finally:
        simulator.faults(arr["name"], latency_ms=0)
    stats = simulator.stats(arr["name"])
    assert took < 3.0, took                    # login + serial check: two round trips of 1 s
    assert (stats["logins"], stats["logouts"], stats["peak_sessions"]) == (2, 1, 2)


@pytest.mark.parametrize("proto", ["rest", "ssh"])
def test_supervisor_killed_as_the_array_rejects_the_password(manager, simulator, proto):
    arr = simulator.add_array()
    c = manager.client
    sid = c.discover_storage(None, ACCESS[proto](arr))["id"]
    pid = ray.get(manager.supervisor.ping.remote(), timeout=30)["pid"]
    simulator.rotate_password(arr["name"], "rotated-away")
    simulator.expire_sessions(arr["name"])
    os.kill(pid, signal.SIGKILL)                  # the supervisor is gone ...
    with pytest.raises(InvalidUsernameOrPassword):
        c.list_volumes(None, sid)                 # ... right as the array rejects the password
    wait_for(lambda: _rejected_alerts(c, sid), 90, what="CredentialsRejected after the restart")
    assert ray.get(manager.supervisor.ping.remote(), timeout=30)["pid"] != pid
    assert c.storage_state(sid)["state"] == "auth_failed"
    assert c.storage_state(sid)["reports_pending"] == 0
    before = simulator.stats(arr["name"])
    time.sleep(3)                                 # backoff periods pass: nothing logs in
    for _ in range(3):
        with pytest.raises(InvalidUsernameOrPassword):
            c.get_storage(None, sid)
    after = simulator.stats(arr["name"])
    assert after["failed_logins"] == before["failed_logins"] == 1
    assert after["logins"] == before["logins"] == 1
    assert len(_rejected_alerts(c, sid)) == 1
    c.update_access_info(None, {"storage_id": sid, proto: ACCESS[proto](arr, password="rotated-away")[proto]})
    assert c.storage_state(sid)["state"] == "ready"
    assert simulator.stats(arr["name"])["logins"] == 2


def _rejected_alerts(client, sid):
    try:
        return [a for a in client.alerts(sid, open_only=True) if a["alert_name"] == "CredentialsRejected"]
    except Exception:  # noqa: BLE001 - the supervisor is restarting
        return []
