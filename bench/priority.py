"""Priority: control-call latency while 16 bulk calls (2 s array latency each) are in flight.

Ours: the control call (get_storage, one 2 s array round trip) goes through the actor's control
lane. FIFO: the same actor, the same call submitted through the bulk lane, as an actor without
concurrency groups would queue it. Rounds interleave ours / FIFO.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time

import rayactors  # noqa: F401
import ray

from .common import stats, write_result

LATENCY_MS = 2000


def one_round(actor, lane: str) -> float:
    bulk = [actor.call_bulk.remote("list_ports", (), {}) for _ in range(16)]
    time.sleep(0.2)
    t0 = time.perf_counter()
    call = actor.call_control if lane == "control" else actor.call_bulk
    ray.get(call.remote("get_storage", (), {}))
    elapsed = time.perf_counter() - t0
    ray.get(bulk)
    return elapsed


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args(argv)
    from drivers.simulator.control import SimulatorProcess, rest_access
    from rayactors import start
    sim = SimulatorProcess()
    client = start(namespace=f"bench-priority-{os.getpid()}", data_dir=tempfile.mkdtemp(prefix="bench-"),
                   scheduler_enabled=False)
    try:
        arr = sim.add_array(sizes={"volumes": 50})
        sid = client.discover_storage(None, rest_access(arr))["id"]
        time.sleep(1)
        actor = ray.get_actor(f"storage:{sid}", namespace=client.cfg.namespace)
        sim.faults(arr["name"], latency_ms=LATENCY_MS)
        samples = {"ours": [], "fifo": []}
        for _ in range(args.rounds):
            samples["ours"].append(one_round(actor, "control"))
            samples["fifo"].append(one_round(actor, "bulk"))
        out = {}
        for k, v in samples.items():
            s = stats(v)
            out[k] = {"median_ms": s["median"] * 1000, "p99_ms": s["p99"] * 1000, "samples_ms": [x * 1000 for x in v]}
            print(f"{k:>5}: control call median {out[k]['median_ms']:.0f} ms, p99 {out[k]['p99_ms']:.0f} ms")
        out["array_latency_ms"] = LATENCY_MS
        out["target_p99_ms"] = LATENCY_MS + 20
        out["fifo_over_ours"] = out["fifo"]["median_ms"] / out["ours"]["median_ms"]
        client.remove_storage(None, sid)
        print("wrote", write_result("priority", out))
        return out
    finally:
        sim.stop()
        ray.kill(ray.get_actor("driver-manager", namespace=client.cfg.namespace), no_restart=True)


if __name__ == "__main__":
    main()
