"""Defects 1 and 2: one session per array across processes; delete reaches every process."""
import asyncio
import logging
import sqlite3
import threading

import pytest
import ray

from drivers.errors import StorageAlreadyExists, StorageBackendException, StorageBusy, StorageNotFound
from drivers.simulator.control import rest_access, ssh_access
from rayactors.async_client import AsyncClient
from rayactors.client import DriverManagerClient
from rayactors.supervisor import CALLER_THREADS

from ..helpers import wait_first_sync, wait_for
from ._caller import CALLS, callers, read_line



def test_registration_costs_one_login(manager, simulator):
    arr = simulator.add_array()
    storage = manager.client.discover_storage(None, rest_access(arr))
    assert storage["serial_number"] == arr["serial_number"] and storage["id"]
    stats = simulator.stats(arr["name"])
    assert stats["logins"] == 1 and stats["active_sessions"] == 1
    assert manager.client.storage_record(storage["id"]) == storage      # from the registry


def test_nine_processes_one_session_and_delete_propagates(manager, simulator, tmp_path):
    arr = simulator.add_array(sizes={"volumes": 20})
    sid = manager.client.discover_storage(None, rest_access(arr))["id"]
    go = tmp_path / "go"
    with callers(manager, sid, go, processes=9) as procs:    # three "nodes" x (API, task, alert)
        assert read_line(procs) == [{"phase": 1, "ok": CALLS}] * 9
        stats = simulator.stats(arr["name"])
        assert stats["logins"] == 1
        assert stats["active_sessions"] == 1
        assert stats["requests"] >= 9 * CALLS

        manager.client.remove_storage(None, sid)
        go.touch()
        assert [s["error"] for s in read_line(procs)] == ["StorageNotFound"] * 9
    assert simulator.stats(arr["name"])["active_sessions"] == 0
    assert sid not in manager.live_ids()


def test_remove_unknown_and_second_remove(manager, simulator):
    with pytest.raises(StorageNotFound):
        manager.client.remove_storage(None, "no-such-storage")
    arr = simulator.add_array()
    sid = manager.client.discover_storage(None, ssh_access(arr))["id"]
    manager.client.remove_storage(None, sid)
    with pytest.raises(StorageNotFound):
        manager.client.remove_storage(None, sid)
    with pytest.raises(StorageNotFound):
        manager.client.get_storage(None, sid)
    with pytest.raises(StorageNotFound):
        manager.client.storage_record(sid)
    wait_for(lambda: simulator.stats(arr["name"])["active_sessions"] == 0, 10, what="ssh logout")


def test_concurrent_discovers_converge_on_one_actor(manager, simulator):
    arr = simulator.add_array()
    results, errors = [], []
    barrier = threading.Barrier(8)

    def go():
        barrier.wait()
        try:
            results.append(manager.client.discover_storage(None, rest_access(arr)))
        except StorageAlreadyExists as exc:
            errors.append(exc)
    threads = [threading.Thread(target=go) for _ in range(8)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert len(results) == 1 and len(errors) == 7
    assert simulator.stats(arr["name"])["logins"] == 1
    assert manager.live_ids() == {results[0]["id"]}


def test_a_registration_given_up_on_logs_its_late_session_out(manager_factory, simulator):
    """The supervisor stops waiting for a slow login (``control_timeout_s``) while it is still
    under way at the array: the caller hears the supervisor's error (not its own timeout while
    the supervisor works on), nothing is registered, and the session the array opened after
    that is logged out, not left open until the array's idle timeout."""
    m = manager_factory(control_timeout_s=4, close_timeout_s=20)
    arr = simulator.add_array()
    simulator.faults(arr["name"], latency_ms=5000)     # the login lands after the supervisor gave up
    try:
        with pytest.raises(StorageBackendException, match="did not answer in time"):
            m.client.discover_storage(None, rest_access(arr))
        wait_for(lambda: simulator.stats(arr["name"])["logins"] == 1, 15, what="the slow login")
        stats = simulator.stats(arr["name"])
        assert (stats["logouts"], stats["active_sessions"]) == (1, 0), stats   # ended before the answer
    finally:
        simulator.faults(arr["name"], latency_ms=0)
    assert m.client.list_storages() == [] and m.live_ids() == set()


class UnreadErrors(logging.Handler):
    """What Ray logs about results with an error that their caller never read."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if "Unhandled error" in record.getMessage():
            self.seen.append(record.getMessage()[:200])


@pytest.fixture
def unread_errors():
    handler, logger = UnreadErrors(), logging.getLogger("ray._private.worker")
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


def test_a_registration_its_caller_stopped_waiting_for_registers_nothing(manager, simulator, unread_errors):
    """A caller whose wait (``connect_deadline_s``) runs out while the supervisor still waits
    for the login (a node too busy, or a supervisor allowed longer than its callers wait) settles
    the registration: it is called off and says so; the login that lands afterwards is logged
    out, nothing is registered, and a retry registers the array. The sync client and the HTTP
    API's async client, side by side on two arrays."""
    impatient_cfg = manager.cfg.model_copy(update={"control_timeout_s": 3, "close_timeout_s": 0.5})
    assert impatient_cfg.connect_deadline_s == 14.5 < manager.cfg.control_timeout_s   # the supervisor's: 30 s
    impatient, impatient_async = DriverManagerClient(config=impatient_cfg), AsyncClient(impatient_cfg)
    arrays = [simulator.add_array(), simulator.add_array()]
    errors: dict = {}

    def register_async() -> None:
        try:
            asyncio.run(impatient_async.discover_storage(rest_access(arrays[1])))
        except StorageBackendException as exc:
            errors["async"] = str(exc)
    for arr in arrays:
        simulator.faults(arr["name"], latency_ms=8000)   # login, then get_storage: 16 s in all
    try:
        other = threading.Thread(target=register_async)
        other.start()
        with pytest.raises(StorageBackendException, match="called off and registered nothing"):
            impatient.discover_storage(None, rest_access(arrays[0]))
        other.join(10)
        assert "called off and registered nothing" in errors["async"]
        assert [simulator.stats(a["name"])["inflight"] for a in arrays] == [1, 1]   # get_storage still there
    finally:
        for arr in arrays:
            simulator.faults(arr["name"], latency_ms=0)
    for arr in arrays:
        wait_for(lambda: simulator.stats(arr["name"])["logouts"] == 1, 20, what="the late session logged out")
        stats = simulator.stats(arr["name"])
        assert (stats["logins"], stats["active_sessions"]) == (1, 0), stats
    assert manager.client.list_storages() == []
    wait_for(lambda: manager.live_ids() == set(), 10, what="the called-off actors killed")
    storage = impatient.discover_storage(None, rest_access(arrays[0]))          # the retry: one more login
    assert storage["serial_number"] == arrays[0]["serial_number"]
    assert simulator.stats(arrays[0]["name"])["active_sessions"] == 1
    # the supervisor's late answers (called off) came back as its actors were killed: the clients
    # read them, where Ray would have logged each as an "Unhandled error" in the caller's process
    assert unread_errors.seen == []


def test_a_settled_registration_answers_what_it_became(manager, simulator):
    """Settled after its commit, a registration is the caller's storage; settled before it
    starts, it never logs in (the supervisor's own calls, as the clients make them)."""
    arr, other = simulator.add_array(), simulator.add_array()
    storage = ray.get(manager.supervisor.discover_storage.remote(rest_access(arr), "request-1"))
    assert ray.get(manager.supervisor.settle_registration.remote("request-1")) == storage
    assert ray.get(manager.supervisor.settle_registration.remote("request-2")) is None
    with pytest.raises(StorageBackendException, match="called off"):
        manager.client._get(manager.supervisor.discover_storage.remote(rest_access(other), "request-2"), 30)
    assert simulator.stats(other["name"])["logins"] == 0
    assert [s["id"] for s in manager.client.list_storages()] == [storage["id"]]


def test_a_registration_of_an_endpoint_being_registered_is_told_to_retry(manager_factory, simulator):
    """The second caller does not queue behind the first's slow login past ``close_timeout_s``:
    waiting it out would outlast the second caller's own deadline, and it could then register
    after being told it failed. It hears StorageBusy while the first is still at the array;
    the first registers, with the array's one session."""
    m = manager_factory(close_timeout_s=1)
    arr = simulator.add_array()
    simulator.faults(arr["name"], latency_ms=3000)      # login, then get_storage: 6 s in all
    first: dict = {}
    t = threading.Thread(target=lambda: first.update(m.client.discover_storage(None, rest_access(arr))))
    try:
        t.start()
        wait_for(lambda: simulator.stats(arr["name"])["inflight"] == 1, 20, what="the first login at the array")
        with pytest.raises(StorageBusy, match="registration"):
            m.client.discover_storage(None, rest_access(arr))
        assert t.is_alive()                              # refused while the first was under way
        t.join(60)
    finally:
        simulator.faults(arr["name"], latency_ms=0)
    assert first["serial_number"] == arr["serial_number"]
    stats = simulator.stats(arr["name"])
    assert (stats["logins"], stats["active_sessions"]) == (1, 1), stats
    assert m.live_ids() == {first["id"]} and [s["id"] for s in m.client.list_storages()] == [first["id"]]


def test_answers_and_reports_do_not_queue_behind_callers_registrations(manager_factory, simulator):
    """Registrations waiting for one endpoint fill the supervisor's threads for callers, as on a
    node too busy to finish them. A ping, the settle of a registration still queued, and a
    storage actor's report are handled meanwhile (thread groups of their own): before any of
    those registrations is answered. They then register nothing and log nothing in."""
    m = manager_factory(close_timeout_s=30)
    fast, slow = simulator.add_array(), simulator.add_array()
    sid = m.client.discover_storage(None, rest_access(fast))["id"]
    wait_first_sync(m.client, simulator, fast, sid)
    db = sqlite3.connect(m.cfg.registry_path)          # the registry file, read beside the supervisor
    synced = lambda: db.execute("SELECT max(synced_at) FROM support WHERE storage_id=?", (sid,)).fetchone()[0]
    before = synced()
    simulator.faults(slow["name"], latency_ms=4000)    # login, then get_storage: 8 s in all
    try:
        first = m.supervisor.discover_storage.remote(rest_access(slow), "first")
        wait_for(lambda: simulator.stats(slow["name"])["inflight"] == 1, 20, what="the first login at the array")
        queued = [m.supervisor.discover_storage.remote(rest_access(slow), f"queued-{i}")
                  for i in range(CALLER_THREADS + 6)]
        assert ray.get(m.supervisor.ping.remote(), timeout=20)["ok"]
        assert ray.get(m.supervisor.settle_registration.remote(f"queued-{CALLER_THREADS + 5}"), timeout=20) is None
        ray.get(m.actor(sid).sync.remote(), timeout=20)     # its snapshot report to the supervisor
        wait_for(lambda: synced() > before, 20, what="the snapshot report in the registry")
        answered, _ = ray.wait([first, *queued], num_returns=len(queued) + 1, timeout=0)
        assert answered == []
        assert ray.get(first, timeout=60)["serial_number"] == slow["serial_number"]
    finally:
        simulator.faults(slow["name"], latency_ms=0)
        db.close()
    for ref in queued:
        with pytest.raises(StorageAlreadyExists):
            m.client._get(ref, 60)
    assert simulator.stats(slow["name"])["logins"] == 1
    assert len(m.client.list_storages()) == 2 and len(m.live_ids()) == 2


def test_same_array_through_another_endpoint_is_refused_by_serial(manager, simulator):
    arr = simulator.add_array()
    manager.client.discover_storage(None, rest_access(arr))
    other = ssh_access(arr)
    other["vendor"], other["model"] = "simulator", "ssh"
    manager.client.discover_storage(None, other)   # another driver: another storage record
    with pytest.raises(StorageAlreadyExists):
        dup = rest_access(arr)
        dup["rest"]["host"] = "localhost"            # same array, another name for the host
        manager.client.discover_storage(None, dup)
    assert len(manager.live_ids()) == 2
    assert simulator.stats(arr["name"])["active_sessions"] == 2          # the refused one logged out


def test_fake_driver_registers_twice_without_seed(manager):
    access = {"vendor": "fake_storage", "model": "fake_driver",
              "rest": {"host": "127.0.0.1", "port": 8443, "username": "u", "password": "p"},
              "extra_attributes": {"volumes": "10"}}
    a = manager.client.discover_storage(None, access)
    b = manager.client.discover_storage(None, access)
    assert a["id"] != b["id"] and a["serial_number"] != b["serial_number"]
    assert (a["vendor"], a["model"]) == ("fake_vendor", "fake_model")
    assert len(manager.client.list_volumes(None, a["id"])) == 10
