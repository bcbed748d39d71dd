"""One slow array never slows another over HTTP, and its access info can still be updated:
a simulated array answering after 3 s, 50 concurrent calls to it, other storages measured side
by side with a no-fault run (real Serve HTTP, real Ray, the simulator's REST servers)."""
from __future__ import annotations

import statistics
import threading
import time

import requests

from drivers.simulator.control import rest_access

from ..helpers import wait_for

LATENCY_MS = 3000


def p99(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))]


def timed(api, method: str, path: str, **kw) -> tuple[float, object]:
    started = time.perf_counter()
    r = api(method, path, **kw)
    return time.perf_counter() - started, r


def sample_neighbours(api, sids: list[str], rounds: int) -> list[float]:
    """Calls that reach each healthy storage's array (capabilities) and the registry (volumes)."""
    out = []
    for _ in range(rounds):
        for sid in sids:
            for path in (f"/v1/storages/{sid}/capabilities", f"/v1/volumes?storage_id={sid}&limit=5"):
                took, r = timed(api, "GET", path)
                assert r.status_code == 200, (path, r.text)
                out.append(took)
    return out


def test_one_slow_array_never_slows_another(api, simulator):
    slow = simulator.add_array(sizes={"volumes": 5})
    healthy = [simulator.add_array(sizes={"volumes": 5}) for _ in range(3)]
    # hourly windows: its first one is collected at once, and no collection (many round trips,
    # finished on the old session after an update) runs during the minute measured here
    slow_id = api("POST", "/v1/storages", json=rest_access(slow, collect_interval=3600)).json()["id"]
    ids = [api("POST", "/v1/storages", json=rest_access(a)).json()["id"] for a in healthy]
    for sid in [slow_id, *ids]:
        wait_for(lambda sid=sid: api("GET", f"/v1/storages/{sid}").json()["sync_status"] == "SYNCED", 30,
                 what="first sync")
    sample_neighbours(api, ids, 3)                                   # warm every path
    baseline = sample_neighbours(api, ids, 12)                       # no fault

    simulator.faults(slow["name"], latency_ms=LATENCY_MS)
    block = rest_access(slow)["rest"]
    idle_put, r = timed(api, "PUT", f"/v1/storages/{slow_id}/access-info", json={"rest": block})
    assert r.status_code == 200, r.text                             # the same update with no load

    statuses: list[int] = []
    lock = threading.Lock()

    def hammer() -> None:      # each caller its own connection (a requests.Session is not thread-safe)
        r = requests.get(f"{api.url}/v1/storages/{slow_id}/capabilities", timeout=120)
        with lock:
            statuses.append(r.status_code)
    load = [threading.Thread(target=hammer) for _ in range(50)]
    try:
        for t in load:
            t.start()
        time.sleep(0.5)
        under_load = sample_neighbours(api, ids, 12)
        loaded_put, r = timed(api, "PUT", f"/v1/storages/{slow_id}/access-info", json={"rest": block})
        assert r.status_code == 200, r.text
        for t in load:
            t.join(120)
    finally:
        simulator.faults(slow["name"], latency_ms=0)

    print(f"neighbours p50/p99 ms: no fault {statistics.median(baseline) * 1000:.1f}/{p99(baseline) * 1000:.1f}, "
          f"next to the slow array {statistics.median(under_load) * 1000:.1f}/{p99(under_load) * 1000:.1f}; "
          f"PUT idle {idle_put:.2f} s, under load {loaded_put:.2f} s; slow calls {sorted(set(statuses))}")
    # no neighbour's call waited on the slow array (one that did takes its 3 s), and the neighbours'
    # typical call is as fast as with no fault. Not the p99: on 2 cores the other lane of `make
    # test` gives a few samples of either run 50-300 ms (a p99 of 72 samples is the second worst).
    # Tails are a benchmark's figures (bench/priority.py: control calls beside a saturated bulk lane)
    assert max(under_load) < LATENCY_MS / 1000 / 2, sorted(under_load)[-5:]
    assert statistics.median(under_load) <= statistics.median(baseline) + 0.050
    # the update waits for no queued call: at most the one call in flight on the old session
    assert loaded_put <= idle_put + LATENCY_MS / 1000 + 0.100
    # the bulkhead: some calls ran, the rest were told at once to come back
    assert statuses.count(200) >= 4 and statuses.count(503) >= 30 and set(statuses) <= {200, 503}
    busy = api("GET", f"/v1/storages/{slow_id}/capabilities")
    assert busy.status_code == 200
    for sid in [slow_id, *ids]:
        api("DELETE", f"/v1/storages/{sid}")


def test_a_full_queue_answers_503_with_retry_after_at_once(api, simulator):
    slow = simulator.add_array(sizes={"volumes": 5})
    sid = api("POST", "/v1/storages", json=rest_access(slow)).json()["id"]
    simulator.faults(slow["name"], latency_ms=2000)
    answers: list = []

    def call() -> None:
        started = time.perf_counter()
        r = requests.get(f"{api.url}/v1/storages/{sid}/capabilities", timeout=120)
        answers.append((time.perf_counter() - started, r))
    threads = [threading.Thread(target=call) for _ in range(20)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        simulator.faults(slow["name"], latency_ms=0)
    refused = [(took, r) for took, r in answers if r.status_code == 503]
    assert refused and all(took < 1.0 for took, _ in refused)
    for _, r in refused:
        assert r.json()["error_code"] == "StorageBusy" and r.headers["Retry-After"] == "1"
    api("DELETE", f"/v1/storages/{sid}")
