"""Priority: a control call while the bulk lane is saturated, next to a real FIFO.

The array answers every request after ``--latency-ms`` (200 ms). Sixteen feeder threads keep
16 bulk calls (``list_ports``) outstanding at all times; a prober sends one control call
(``get_storage``) at a time and times it.

- **ours**: the storage actor; the control call goes through its control lane.
- **fifo**: a plain Ray actor holding the same driver, one call at a time in arrival order
  (``max_concurrency=1``): what one cached driver behind a queue gives.

Samples: ``--samples`` (200) for ours; FIFO samples each wait for the whole queue ahead, so
``--fifo-samples`` (30) of them. Target: ours p99 <= array latency + 20 ms.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from typing import Any, Callable

import rayactors  # noqa: F401
import ray

from .common import stats, write_result

FEEDERS = 16


@ray.remote(num_cpus=0.001, max_concurrency=1)
class FifoHolder:
    """One driver, one call at a time, in arrival order."""

    def __init__(self, access: dict) -> None:
        from drivers.rest_driver import SimulatorRestDriver
        self.driver = SimulatorRestDriver(**access, storage_id="fifo")

    def call(self, method: str) -> int:
        result = getattr(self.driver, method)(None)
        return len(result) if isinstance(result, list) else 1


def saturate(bulk: Callable[[], Any], stop: threading.Event) -> list[threading.Thread]:
    def feed() -> None:
        while not stop.is_set():
            bulk()
    threads = [threading.Thread(target=feed, daemon=True) for _ in range(FEEDERS)]
    for t in threads:
        t.start()
    return threads


def sample(control: Callable[[], Any], bulk: Callable[[], Any], n: int) -> list[float]:
    stop = threading.Event()
    feeders = saturate(bulk, stop)
    time.sleep(1.0)                                   # the queue fills
    out = []
    try:
        for _ in range(n):
            t0 = time.perf_counter()
            control()
            out.append(time.perf_counter() - t0)
            time.sleep(0.02)
    finally:
        stop.set()
        for t in feeders:
            t.join()
    return out


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(prog="python -m bench.priority")
    ap.add_argument("--latency-ms", type=float, default=200.0, help="the array's answer time")
    ap.add_argument("--samples", type=int, default=200, help="control calls timed on ours")
    ap.add_argument("--fifo-samples", type=int, default=30, help="control calls timed on the FIFO")
    args = ap.parse_args(argv)
    from drivers.simulator.control import SimulatorProcess, rest_access
    from rayactors import start, stop_supervisor
    sim = SimulatorProcess()
    client = start(namespace=f"bench-priority-{os.getpid()}", data_dir=tempfile.mkdtemp(prefix="bench-"),
                   scheduler_enabled=False)
    try:
        arr = sim.add_array(sizes={"volumes": 50, "ports": 20}, max_sessions=64)
        sid = client.discover_storage(None, rest_access(arr))["id"]
        actor = ray.get_actor(f"storage:{sid}", namespace=client.cfg.namespace)
        fifo = FifoHolder.remote(rest_access(arr))
        ray.get(fifo.call.remote("get_storage"))
        sim.faults(arr["name"], latency_ms=args.latency_ms)
        ours = sample(lambda: ray.get(actor.call_control.remote("get_storage", (), {})),
                      lambda: ray.get(actor.call_bulk.remote("list_ports", (), {})), args.samples)
        sim.reset_stats(arr["name"])
        fifo_s = sample(lambda: ray.get(fifo.call.remote("get_storage")),
                        lambda: ray.get(fifo.call.remote("list_ports")), args.fifo_samples)
        out: dict[str, Any] = {"array_latency_ms": args.latency_ms, "target_p99_ms": args.latency_ms + 20,
                               "bulk_outstanding": FEEDERS}
        for name, v in (("ours", ours), ("fifo", fifo_s)):
            s = stats(v)
            out[name] = {"n": s["n"], "median_ms": s["median"] * 1e3, "p99_ms": s["p99"] * 1e3, "max_ms": s["max"] * 1e3,
                         "samples_ms": [x * 1e3 for x in v]}
            print(f"{name:>5}: control call over {s['n']} samples: median {s['median'] * 1e3:.0f} ms, "
                  f"p99 {s['p99'] * 1e3:.0f} ms, max {s['max'] * 1e3:.0f} ms")
        out["met"] = out["ours"]["p99_ms"] <= out["target_p99_ms"]
        out["fifo_over_ours_median"] = out["fifo"]["median_ms"] / out["ours"]["median_ms"]
        client.remove_storage(None, sid)
        print("wrote", write_result("priority", out))
        return out
    finally:
        sim.stop()
        stop_supervisor(client.cfg, timeout_s=0)


if __name__ == "__main__":
    main()
