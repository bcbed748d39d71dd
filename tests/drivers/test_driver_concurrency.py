"""The proof behind ``max_concurrent_calls = 4`` of the simulator drivers, and the rule every
driver keeps: once closed, never log in again. Counted at the simulated array, no Ray."""
import threading

import pytest

from drivers.errors import StorageBackendException

from .test_simulator_drivers import make, wait_sessions


@pytest.fixture(params=["rest", "ssh"])
def kind(request):
    return request.param


def test_declared_concurrency_holds_with_the_session_expiring_midway(simulator, kind):
    arr = simulator.add_array(sizes={"volumes": 50})
    driver = make(kind, arr)
    n = type(driver).max_concurrent_calls
    assert n == 4
    simulator.faults(arr["name"], latency_ms=150)
    results, errors = [], []
    barrier = threading.Barrier(n + 1)

    def caller():
        barrier.wait()
        for _ in range(3):
            try:
                results.append(len(driver.list_volumes(None)))
            except Exception as exc:  # noqa: BLE001 - asserted empty
                errors.append(exc)
    threads = [threading.Thread(target=caller) for _ in range(n)]
    try:
        for t in threads:
            t.start()
        barrier.wait()
        threading.Event().wait(0.2)          # every caller is in flight on the one session ...
        simulator.expire_sessions(arr["name"])   # ... when the array ends it
        for t in threads:
            t.join(60)
    finally:
        simulator.faults(arr["name"], latency_ms=0)
    stats = simulator.stats(arr["name"])
    assert errors == [] and results == [50] * (3 * n)
    assert stats["peak_session_inflight"] == n           # really concurrent on one session
    assert stats["logins"] == 2 and stats["failed_logins"] == 0     # one shared re-login
    driver.close()
    wait_sessions(simulator, arr, 0)


def test_a_closed_driver_never_logs_in_again(simulator, kind):
    arr = simulator.add_array(sizes={"volumes": 5})
    driver = make(kind, arr)
    driver.close()
    wait_sessions(simulator, arr, 0)
    for _ in range(3):
        with pytest.raises(StorageBackendException):
            driver.list_volumes(None)
        with pytest.raises(StorageBackendException):
            driver.reset_connection(None)
    stats = simulator.stats(arr["name"])
    assert stats["logins"] == 1 and stats["active_sessions"] == 0
