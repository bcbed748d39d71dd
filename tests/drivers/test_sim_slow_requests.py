"""The simulated array keeps the requests it served well over its injected latency, so the soak
can tell a slow call's time at the array from the time in our stack."""
import threading
import time

import requests

from drivers.simulator.array import SLOW_MARGIN_MS, ArrayConfig, SimArray


def _served(array: SimArray, seconds: float) -> None:
    with array.in_flight("token"):
        time.sleep(seconds)


def test_only_requests_over_the_injected_latency_are_kept():
    array = SimArray(ArrayConfig(name="a", seed=1, users={"admin": "pw"}))
    _served(array, 0)
    assert array.slow_requests() == []
    t0 = time.time()
    _served(array, (SLOW_MARGIN_MS + 40) / 1000)
    [slow] = array.slow_requests()
    assert t0 - 0.001 <= slow["t"] <= t0 + 0.01 and slow["ms"] >= SLOW_MARGIN_MS + 40
    assert slow["over_ms"] == slow["ms"]
    array.set_faults({"latency_ms": 200})               # injected latency is the array's own answer
    _served(array, 0.15)                               # within it, whatever the load
    assert len(array.slow_requests()) == 1
    array.reset_stats()
    assert array.slow_requests() == []


def test_hold_keeps_requests_waiting_until_it_is_cleared():
    """How a test keeps a queue of calls at the array for as long as it needs."""
    array = SimArray(ArrayConfig(name="a", seed=1, users={"admin": "pw"}))
    array.set_faults({"hold": True, "latency_ms": 10})
    held = [threading.Thread(target=array.delay) for _ in range(3)]
    for t in held:
        t.start()
    time.sleep(0.5)
    assert all(t.is_alive() for t in held)
    array.set_faults({"latency_ms": 0})                # another fault changed: still held
    time.sleep(0.2)
    assert all(t.is_alive() for t in held)
    array.set_faults({"hold": False})
    for t in held:
        t.join(10)
    assert not any(t.is_alive() for t in held)


def test_the_admin_api_lists_them(simulator):
    arr = simulator.add_array()
    simulator.faults(arr["name"], latency_ms=5)
    login = requests.post(f"http://{arr['host']}:{arr['rest_port']}/api/v1/sessions", timeout=10,
                          json={"username": "admin", "password": arr["users"]["admin"]})
    assert login.status_code == 201
    assert simulator.stats(arr["name"])["logins"] == 1
    assert simulator.slow_requests(arr["name"]) == []   # 5 ms is its latency, not slowness
    # a request that waited 300 ms, after which the latency was taken back: slow at the array
    simulator.faults(arr["name"], latency_ms=300)
    t0 = time.time()
    slow = threading.Thread(target=requests.post, args=(f"http://{arr['host']}:{arr['rest_port']}/api/v1/sessions",),
                            kwargs={"json": {"username": "admin", "password": "wrong"}, "timeout": 10})
    slow.start()
    while simulator.stats(arr["name"])["inflight"] == 0:   # it is waiting out the 300 ms
        assert slow.is_alive()
        time.sleep(0.005)
    simulator.faults(arr["name"], latency_ms=0)
    slow.join()
    [listed] = simulator.slow_requests(arr["name"])
    assert listed["ms"] >= 300 and t0 - 0.001 <= listed["t"] <= time.time()   # t is rounded to 1 ms
